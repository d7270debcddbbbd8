/**
 * Shared secrets for chat and file servers: token files, constant-time checks, and a per-address
 * delay after repeated failures. Here, in core, because both `@netlab/chat` and `@netlab/transfer`
 * use it and neither may import the other; it needs no sockets, only `node:crypto` and `node:fs`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { NetlabError, type NetlabErrorOptions } from "./errors.js";
import { optionChecks } from "./options.js";

/** Codes of {@link AuthError}; chat and transfer report the same codes on the wire. */
export type AuthErrorCode =
  /** The server requires a token and the client sent none. */
  | "AUTH_REQUIRED"
  /** The token sent is not one the server knows (or the address failed too often, too fast). */
  | "AUTH_FAILED"
  /** A token file that cannot be used: missing, unreadable, empty, an empty or duplicate token. */
  | "BAD_TOKEN_FILE"
  /** Tokens on a connection without TLS, not allowed with `allowPlaintextAuth`. */
  | "PLAINTEXT_AUTH"
  /** A bad option value (a negative delay). */
  | "INVALID_OPTION";

/**
 * A failed or misconfigured authentication.
 * @example throw new AuthError("AUTH_FAILED", "the server refused the token", { hint: "check --token-file" })
 */
export class AuthError extends NetlabError<AuthErrorCode> {
  constructor(code: AuthErrorCode, message: string, options: NetlabErrorOptions = {}) {
    super(code, message, options);
  }
}

const { requireInt, requireMs } = optionChecks(AuthError);

/** What a token allows: `rw` everything, `ro` listen-only chat, download-only files. */
export type TokenAccess = "ro" | "rw";

/** One token of a token file, as the server sees it once the token matched. */
export interface TokenGrant {
  /** The `name:` prefix, if any: chat binds it as the nick; logs name it. */
  name: string | undefined;
  /** `rw` unless the line ends in `:ro`. */
  access: TokenAccess;
  /** The line of the token file it came from (1-based), for messages. */
  line: number;
}

/** One parsed line of a token file. */
export interface TokenFileEntry extends TokenGrant {
  token: string;
}

/** Tokens shorter than this get a warning: they are guessable. */
export const MIN_TOKEN_CHARS = 16;

/**
 * The lines of a token file: `[name:]TOKEN[:ro|:rw]`, one per line; `#` starts a comment line,
 * blank lines are skipped, spaces around a line are trimmed. A token cannot contain whitespace;
 * one containing `:` needs a `name:` in front. Throws BAD_TOKEN_FILE (naming the line) for an
 * empty token, a token with spaces, a duplicate, or a file with no token at all.
 * @example parseTokenFile("alice:s3cret-s3cret-s3cret:ro\n") // [{ name: "alice", token: "s3cret-…", access: "ro", line: 1 }]
 */
export function parseTokenFile(text: string, source = "token file"): TokenFileEntry[] {
  const entries: TokenFileEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === "" || raw.startsWith("#")) continue;
    const line = i + 1;
    const bad = (why: string) =>
      new AuthError("BAD_TOKEN_FILE", `${source}, line ${line}: ${why}`, {
        hint: "one token per line: [name:]TOKEN[:ro|:rw]; # starts a comment",
      });
    let rest = raw;
    let access: TokenAccess = "rw";
    const suffix = /:(ro|rw)$/.exec(rest);
    if (suffix) {
      access = suffix[1] as TokenAccess;
      rest = rest.slice(0, -3);
    }
    let name: string | undefined;
    const colon = rest.indexOf(":");
    if (colon >= 0) {
      name = rest.slice(0, colon);
      rest = rest.slice(colon + 1);
      if (name === "") throw bad("empty name before ':'");
    }
    if (rest === "") throw bad("empty token");
    if (/\s/.test(rest) || (name !== undefined && /\s/.test(name)))
      throw bad("spaces inside a token or name");
    if (seen.has(rest)) throw bad("the same token appears twice");
    seen.add(rest);
    entries.push({ token: rest, name, access, line });
  }
  if (entries.length === 0) {
    throw new AuthError("BAD_TOKEN_FILE", `${source} holds no token`, {
      hint: "put one token per line, e.g.: openssl rand -hex 16 > FILE && chmod 600 FILE",
    });
  }
  return entries;
}

/** A token file read from disk, and what is wrong with it short of unusable. */
export interface LoadedTokenFile {
  entries: TokenFileEntry[];
  /** Each a message and a hint: readable by others, a short token. The caller decides how to show them. */
  warnings: { message: string; hint: string }[];
}

/**
 * Reads and parses a token file. BAD_TOKEN_FILE when it is missing, unreadable or holds no usable
 * token (see {@link parseTokenFile}); warns (never fails) when group or others may read or write
 * it, and for tokens shorter than {@link MIN_TOKEN_CHARS}.
 * @example const { entries, warnings } = await loadTokenFile("tokens.txt");
 */
export async function loadTokenFile(path: string): Promise<LoadedTokenFile> {
  const source = `token file ${path}`;
  let text: string;
  let mode: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) {
      throw new AuthError("BAD_TOKEN_FILE", `${source} is not a regular file`, {
        hint: "give the path of a file with one token per line",
      });
    }
    mode = info.mode;
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof AuthError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new AuthError(
      "BAD_TOKEN_FILE",
      code === "ENOENT" ? `${source} does not exist` : `cannot read ${source}: ${(err as Error).message}`,
      {
        hint:
          code === "ENOENT"
            ? "create it with one token per line: openssl rand -hex 16 > FILE && chmod 600 FILE"
            : "check the path and its permissions",
        cause: err,
      },
    );
  }
  const entries = parseTokenFile(text, source);
  const warnings: LoadedTokenFile["warnings"] = [];
  if (process.platform !== "win32" && (mode & 0o077) !== 0) {
    warnings.push({
      message: `${source} is readable or writable by other users (mode ${(mode & 0o777).toString(8).padStart(4, "0")})`,
      hint: `anyone who can read it can use its tokens: chmod 600 ${path}`,
    });
  }
  const short = entries.filter((e) => e.token.length < MIN_TOKEN_CHARS).map((e) => e.line);
  if (short.length > 0) {
    warnings.push({
      message: `${source}: token${short.length === 1 ? "" : "s"} on line ${short.join(", ")} shorter than ${MIN_TOKEN_CHARS} characters`,
      hint: "short tokens can be guessed; make them with: openssl rand -hex 16",
    });
  }
  return { entries, warnings };
}

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest();

/**
 * The tokens a server accepts. Each is kept as its SHA-256 and compared with `timingSafeEqual`
 * against every entry, without stopping at a match: the time taken says neither how long a
 * token is nor which one, nor how much of a guess was right.
 * @example const tokens = new TokenSet(parseTokenFile(text)); tokens.match(sent)?.access
 */
export class TokenSet {
  readonly #hashes: { hash: Buffer; grant: TokenGrant }[];

  constructor(entries: readonly TokenFileEntry[]) {
    this.#hashes = entries.map(({ token, name, access, line }) => ({
      hash: sha256(token),
      grant: { name, access, line },
    }));
  }

  /** How many tokens. */
  get size(): number {
    return this.#hashes.length;
  }

  /** The named grants (for checking names up front, e.g. as chat nicks). */
  grants(): TokenGrant[] {
    return this.#hashes.map((h) => ({ ...h.grant }));
  }

  /** The grant of `token`, or undefined; takes the same time whichever token, or none, matches. */
  match(token: string): TokenGrant | undefined {
    const sent = sha256(token);
    let found: TokenGrant | undefined;
    for (const { hash, grant } of this.#hashes) {
      if (timingSafeEqual(hash, sent) && found === undefined) found = grant;
    }
    return found;
  }
}

/** Limits of {@link AuthBackoff}. */
export interface AuthBackoffOptions {
  /** Failures from one address before the delays start. Default 5. */
  authFailuresAllowed: number;
  /** The first delay, in ms; doubled with each further failure. Default 1 000. */
  authDelayMs: number;
  /** The longest delay, in ms; an attempt that would wait longer is refused at once. Default 30 000. */
  maxAuthDelayMs: number;
  /** Addresses remembered; past it the one failing least recently is forgotten. Default 10 000. */
  maxAuthAddresses: number;
  /** An address with no failure for this long starts afresh, in ms. Default 900 000 (15 min). */
  authForgetMs: number;
}

/** Defaults of {@link AuthBackoffOptions}. */
export const AUTH_BACKOFF_DEFAULTS: Readonly<AuthBackoffOptions> = {
  authFailuresAllowed: 5,
  authDelayMs: 1_000,
  maxAuthDelayMs: 30_000,
  maxAuthAddresses: 10_000,
  authForgetMs: 15 * 60_000,
};

interface Failures {
  count: number;
  lastAt: number;
  /** When the next attempt may be checked (ms, the clock `now` gives). */
  nextAt: number;
}

/**
 * Slows down guessing: after `authFailuresAllowed` failed tokens from one address, each attempt
 * from it waits, `authDelayMs` doubling per further failure up to `maxAuthDelayMs`. Attempts
 * from one address are spaced by that delay even when they come in parallel (each admitted one
 * reserves the next slot), so opening more connections does not guess faster; one that would
 * wait past `maxAuthDelayMs` is refused at once. IPv6 addresses count per /64 (one host usually
 * holds a whole /64). The table is bounded by `maxAuthAddresses`. Pure: the caller sleeps.
 * @example
 * const wait = backoff.admit(address); // { waitMs } or { refused: true }
 * … await sleep(wait.waitMs); if (!tokens.match(t)) backoff.failed(address);
 */
export class AuthBackoff {
  readonly options: AuthBackoffOptions;
  readonly #table = new Map<string, Failures>();
  readonly #now: () => number;

  constructor(options: Partial<AuthBackoffOptions> = {}, now: () => number = Date.now) {
    const o = { ...AUTH_BACKOFF_DEFAULTS };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as Record<string, number>)[k] = v;
    requireInt("authFailuresAllowed", o.authFailuresAllowed, { min: 0 });
    requireMs("authDelayMs", o.authDelayMs);
    requireMs("maxAuthDelayMs", o.maxAuthDelayMs);
    requireInt("maxAuthAddresses", o.maxAuthAddresses, { min: 1 });
    requireMs("authForgetMs", o.authForgetMs);
    this.options = o;
    this.#now = now;
  }

  /** Addresses in the table now. */
  get size(): number {
    return this.#table.size;
  }

  /**
   * Whether an attempt from `address` may be checked, and after how long: `waitMs` 0 for an
   * address in good standing; `refused` when it would wait past `maxAuthDelayMs`.
   */
  admit(address: string): { waitMs: number; refused: false } | { waitMs: number; refused: true } {
    const now = this.#now();
    const f = this.#get(address, now);
    if (f === undefined || f.count < this.options.authFailuresAllowed) return { waitMs: 0, refused: false };
    const start = Math.max(now, f.nextAt);
    const waitMs = start - now;
    if (waitMs > this.options.maxAuthDelayMs) return { waitMs, refused: true };
    f.nextAt = start + this.#delay(f.count);
    return { waitMs, refused: false };
  }

  /** A token from `address` was wrong: one more failure, and the next attempt waits longer. */
  failed(address: string): void {
    const now = this.#now();
    const key = addressKey(address);
    const f = this.#get(address, now) ?? { count: 0, lastAt: now, nextAt: now };
    f.count++;
    f.lastAt = now;
    if (f.count >= this.options.authFailuresAllowed)
      f.nextAt = Math.max(f.nextAt, now + this.#delay(f.count));
    // Re-inserted so the Map's order is least recently failed first: the one to forget when full.
    this.#table.delete(key);
    this.#table.set(key, f);
    while (this.#table.size > this.options.maxAuthAddresses) {
      const oldest = this.#table.keys().next().value as string;
      this.#table.delete(oldest);
    }
  }

  /** The delay after `count` failures: base × 2^(count − allowed), at most the cap. */
  #delay(count: number): number {
    const o = this.options;
    const steps = Math.max(0, count - o.authFailuresAllowed);
    return Math.min(o.maxAuthDelayMs, o.authDelayMs * 2 ** Math.min(steps, 40));
  }

  #get(address: string, now: number): Failures | undefined {
    const key = addressKey(address);
    const f = this.#table.get(key);
    if (f !== undefined && now - f.lastAt > this.options.authForgetMs && now >= f.nextAt) {
      this.#table.delete(key);
      return undefined;
    }
    return f;
  }
}

/** The key an address counts under: IPv4 as is (v4-mapped unwrapped), IPv6 by its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIP(address) !== 6) return address;
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/64`;
}

/** What a server does with a token a client sent: {@link TokenSet} and {@link AuthBackoff} together. */
export class TokenGate {
  readonly tokens: TokenSet;
  readonly backoff: AuthBackoff;

  constructor(tokens: TokenSet, backoff: Partial<AuthBackoffOptions> | AuthBackoff = {}) {
    this.tokens = tokens;
    this.backoff = backoff instanceof AuthBackoff ? backoff : new AuthBackoff(backoff);
  }

  /**
   * The grant of `token` sent from `address`, after any delay the address has earned. Throws
   * AUTH_REQUIRED (no token: not counted as a failure), AUTH_FAILED (wrong token, or too many
   * failures to wait for), or the signal's reason when it aborts during the wait.
   */
  async check(token: string | undefined, address: string, signal?: AbortSignal): Promise<TokenGrant> {
    if (token === undefined || token === "") {
      throw new AuthError("AUTH_REQUIRED", "the server requires a token", {
        hint: "pass --token-file FILE or set LAB_TOKEN",
      });
    }
    const admitted = this.backoff.admit(address);
    if (admitted.refused) {
      throw new AuthError(
        "AUTH_FAILED",
        `too many refused tokens from ${address}; try again in ${Math.ceil(admitted.waitMs / 1000)} s`,
        { hint: "check the token (--token-file or LAB_TOKEN), then wait before trying again" },
      );
    }
    if (admitted.waitMs > 0) await sleep(admitted.waitMs, signal);
    const grant = this.tokens.match(token);
    if (grant === undefined) {
      this.backoff.failed(address);
      throw tokenRefused();
    }
    return grant;
  }
}

/** The one message a wrong token gets, whichever server. */
export function tokenRefused(): AuthError {
  return new AuthError("AUTH_FAILED", "the server refused the token", {
    hint: "check the token (--token-file or LAB_TOKEN) against the server's token file",
  });
}

/**
 * Throws PLAINTEXT_AUTH when a server would take tokens over a connection without TLS and the
 * operator did not allow it: such tokens can be read by anyone on the path.
 * @example requireSafeAuth({ hasTokens: true, isEncrypted: false, allowPlaintextAuth: false })
 */
export function requireSafeAuth(o: {
  hasTokens: boolean;
  isEncrypted: boolean;
  allowPlaintextAuth: boolean;
}): void {
  if (!o.hasTokens || o.isEncrypted || o.allowPlaintextAuth) return;
  throw new AuthError(
    "PLAINTEXT_AUTH",
    "tokens over a plaintext connection can be read by anyone on the path; refusing to start",
    { hint: "add --tls, or --allow-plaintext-auth on a network you trust (loopback)" },
  );
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
