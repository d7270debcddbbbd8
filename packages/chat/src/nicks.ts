import { escapeControls, hasControls } from "@netlab/core";
import { skeleton } from "./confusables.js";
import { ChatError } from "./errors.js";

/** Longest nick, in characters (code points). */
export const MAX_NICK_CHARS = 32;

const ASCII = /^[\x00-\x7f]*$/;
const NICK = /^[\p{L}\p{N}_-]{1,32}$/u;
/** Letters that show as nothing (Hangul fillers, U+115F, U+3164, U+FFA0): a blank nick. */
const INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** Whether `name` holds a letter that shows as nothing (Default_Ignorable_Code_Point). */
export function hasInvisible(name: string): boolean {
  return INVISIBLE.test(name);
}

/**
 * Nicks nobody may take, nor imitate with look-alike letters (`ѕerver` with a Cyrillic s):
 * `server` is how the operator's `<server> text` lines start, `netlab` the default server name,
 * and the rest are the first words of the server's own `* ` lines (`* the server is shutting
 * down`, `* in #lobby: …`, `* rooms: …`, `* bye`), which `/me` would otherwise let anyone forge.
 * A hub adds its own `serverName`.
 */
export const RESERVED_NICKS: readonly string[] = [
  "server",
  "netlab",
  "operator",
  "admin",
  "system",
  "the",
  "in",
  "rooms",
  "pong",
  "commands",
  "bye",
  "slow",
];

/**
 * The key that makes nicks unique as people read them apart from look-alikes: NFKC, then case
 * folding (upper then lower case, so `ß` = `ss` and `ς` = `σ` as Unicode's full folding has it).
 * `Alice`, `alice` and `ａｌｉｃｅ` (fullwidth) share one key.
 * @example nickKey("ＡＬＩＣＥ") // "alice"
 */
export function nickKey(nick: string): string {
  // NFKC leaves ASCII as it is, and ASCII has no case pairs beyond A–Z.
  if (ASCII.test(nick)) return nick.toLowerCase();
  return nick.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

/**
 * The key of what a nick looks like: the UTS #39 skeleton of its {@link nickKey}, folded again
 * (`b0b` → `bOb` → `bob`). Two present users may not share one: `bob` and `b0b`, `alice` and
 * `аlice` (Cyrillic а) cannot both be here. Skeletons also join `rn` and `m`, and `l` and `1`.
 * @example lookalikeKey("ѕеrvеr") === lookalikeKey("server") // true
 */
export function lookalikeKey(nick: string): string {
  return nickKey(skeleton(nickKey(nick)));
}

/**
 * The keys a reserved name is matched on: the look-alike key, and the skeleton taken before case
 * folding, so a capital I that reads as l (`Iab` for `lab`) is caught too.
 */
function reservedKeys(nick: string): string[] {
  return [lookalikeKey(nick), nickKey(skeleton(nick.normalize("NFKC")))];
}

let baseKeys: ReadonlySet<string> | undefined;

/** Whether `nick` is, or looks like, one of RESERVED_NICKS (or of `extra`). */
export function isReservedNick(nick: string, extra: readonly string[] = []): boolean {
  // Built on first use, so importing the package does not read the confusables table.
  baseKeys ??= keysOf(RESERVED_NICKS);
  const extraKeys = keysOf(extra);
  return reservedKeys(nick).some((k) => baseKeys?.has(k) || extraKeys.has(k));
}

function keysOf(names: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const name of names) for (const k of reservedKeys(name)) keys.add(k);
  return keys;
}

/**
 * Throws NICK_INVALID unless `nick` is 1–32 letters, digits, `_` or `-`, shows as something, and is
 * not (and does not look like) a reserved name. Control and bidi characters get their own message,
 * with the character shown as `^[` or `<U+202E>`.
 * @example checkNick("alice_2") // "alice_2"
 */
export function checkNick(nick: string): string {
  if (hasControls(nick)) {
    throw new ChatError(
      "NICK_INVALID",
      `nick ${quoteShort(nick)} is not allowed: it contains control or text-direction characters`,
      { hint: "use 1–32 letters, digits, _ or -, for example /nick alice_2" },
    );
  }
  if (!NICK.test(nick)) {
    throw new ChatError(
      "NICK_INVALID",
      `nick ${quoteShort(nick)} is not allowed: use 1–${MAX_NICK_CHARS} letters, digits, _ or -`,
      { hint: "for example /nick alice_2" },
    );
  }
  if (hasInvisible(nick)) {
    throw new ChatError(
      "NICK_INVALID",
      `nick ${quoteShort(nick)} is not allowed: it contains invisible letters`,
      {
        hint: "use letters that show, for example /nick alice_2",
      },
    );
  }
  if (isReservedNick(nick)) throw reserved(nick);
  return nick;
}

function reserved(nick: string): ChatError {
  return new ChatError(
    "NICK_INVALID",
    `nick ${quoteShort(nick)} is reserved (or looks like a reserved name)`,
    {
      hint: "choose another nick",
    },
  );
}

/**
 * `text` quoted for an error line: control characters shown (`^[`), cut to 40 characters so an
 * error never echoes a huge input back.
 */
export function quoteShort(text: string): string {
  const chars = [...text];
  const cut = chars.length > 40 ? chars.slice(0, 40).join("") : text;
  return `${JSON.stringify(escapeControls(cut))}${cut === text ? "" : "…"}`;
}

/**
 * Who holds which nick, unique by {@link nickKey} and by {@link lookalikeKey}; one per hub.
 * `claim` checks and takes, `release` gives back, `guest` finds a free `guest-N`.
 */
export class NickRegistry<T> {
  /** nickKey → who holds the nick. */
  readonly #byKey = new Map<string, T>();
  /**
   * lookalikeKey → the nick itself (its holder is `#byKey`'s, under its nickKey): two map entries
   * per nick and no object beside them, which thousands of idle guests would each keep.
   */
  readonly #byLookalike = new Map<string, string>();
  readonly #extraReserved: readonly string[];

  /** `reserved`: names besides RESERVED_NICKS (the hub passes its `serverName`). */
  constructor(reserved: readonly string[] = []) {
    this.#extraReserved = reserved;
  }

  /** Who holds `nick` (or one that differs only by case and width), if anyone. */
  get(nick: string): T | undefined {
    return this.#byKey.get(nickKey(nick));
  }

  /**
   * Gives `nick` to `owner` (who held `previous`, if given): throws NICK_INVALID for a bad or
   * reserved nick, NICK_TAKEN when someone else holds it or one that looks like it.
   */
  claim(owner: T, nick: string, previous?: string): void {
    checkNick(nick);
    if (isReservedNick(nick, this.#extraReserved)) throw reserved(nick);
    const key = nickKey(nick);
    const lookalike = lookalikeKey(nick);
    const same = this.#byKey.get(key);
    if (same !== undefined && same !== owner) {
      throw new ChatError("NICK_TAKEN", `nick ${quoteShort(nick)} is already taken`, {
        hint: "choose another with /nick NAME",
      });
    }
    const like = this.#byLookalike.get(lookalike);
    if (like !== undefined && this.#byKey.get(nickKey(like)) !== owner) {
      throw new ChatError(
        "NICK_TAKEN",
        `nick ${quoteShort(nick)} looks too much like ${quoteShort(like)}, who is here`,
        { hint: "choose another with /nick NAME" },
      );
    }
    if (previous !== undefined) this.release(owner, previous);
    this.#byKey.set(key, owner);
    this.#byLookalike.set(lookalike, nick);
  }

  /** Frees `nick` if `owner` holds it. */
  release(owner: T, nick: string): void {
    const key = nickKey(nick);
    const lookalike = lookalikeKey(nick);
    const like = this.#byLookalike.get(lookalike);
    // The look-alike entry is the owner's when its nick is one the owner holds (read before the
    // nickKey entry goes).
    if (like !== undefined && this.#byKey.get(nickKey(like)) === owner) this.#byLookalike.delete(lookalike);
    if (this.#byKey.get(key) === owner) this.#byKey.delete(key);
  }

  /**
   * Claims a guest nick for `owner`: `guest-ID`, or `guest-ID-2`, `-3`… when someone has taken it
   * with /nick (each try is free unless held, so this ends within as many tries as there are nicks).
   */
  guest(owner: T, id: number): string {
    for (let n = 1; ; n++) {
      const nick = n === 1 ? `guest-${id}` : `guest-${id}-${n}`;
      const key = nickKey(nick);
      const lookalike = lookalikeKey(nick);
      if (this.#byKey.has(key) || this.#byLookalike.has(lookalike)) continue;
      this.#byKey.set(key, owner);
      this.#byLookalike.set(lookalike, nick);
      return nick;
    }
  }
}
