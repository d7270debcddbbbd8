// Secrets in a byte stream, masked where it is recorded or shown (hexdumps, recordings, wire views).
// A mask keeps every byte count and offset: each secret byte becomes one `*`, so a redacted
// recording replays and compares as the original did and a pcap made from it has the same sequence
// numbers. The redactor is a state machine run byte by byte, with O(1) state carried between chunks:
// a secret split across reads at any offset is masked all the same, and no line length bounds it
// (a mask starts once the key before it has been read whole, so no byte is ever held back).
// A replay puts a real token back where a recording has stars (restoreMaskedSecrets), finding
// them with the same scanner, so "a secret" has one definition.
import { ProtocolError } from "./errors.js";

/** JSON string fields whose values {@link SecretRedactor} masks by default: the chat's auth and reclaim tokens. */
export const SECRET_JSON_FIELDS: readonly string[] = ["token", "reclaim"];

/** Options for {@link SecretRedactor}. */
export interface RedactOptions {
  /** JSON fields (at any depth) whose string values are masked. Default {@link SECRET_JSON_FIELDS}. */
  jsonFields?: readonly string[];
}

const STAR = 0x2a;
const NL = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const AUTH = [0x2f, 0x61, 0x75, 0x74, 0x68]; // "/auth"

enum S {
  /** At a line's start, before its first non-blank byte. */
  LineStart,
  /** The rest of a line that is neither JSON nor `/auth`. */
  Pass,
  /** Matching `/auth`: `#at` bytes matched. */
  Auth,
  /** After `/auth`: at least one blank must follow. */
  AuthBlank,
  /** Blanks before the token. */
  AuthBlanks,
  /** The token, to the end of the line. */
  AuthToken,
  /** A JSON line, outside any string. */
  Json,
  /** Inside a string that may be a key: its raw bytes are kept (bounded). */
  JsonString,
  /** After a backslash in such a string. */
  JsonStringEscape,
  /** After a string naming a secret field: a `:` makes it a key. */
  JsonAfterKey,
  /** After `"secret":`, before the value. */
  JsonBeforeValue,
  /** Inside a secret string value: masked. */
  JsonSecret,
  /** After a backslash in a secret value: masked. */
  JsonSecretEscape,
}

const isBlank = (b: number) => b === 0x20 || b === 0x09;

/** The field name a {@link SecretSpan} gives the TOKEN of a text-mode `/auth TOKEN` line. */
export const AUTH_SECRET_FIELD = "/auth";

/**
 * A piece of one secret inside one chunk: bytes `[from, to)` of the chunk. A secret split across
 * chunks comes as one piece a chunk (`isFirst` on the first, `isLast` on the one its end is in,
 * which may be empty).
 */
export interface SecretSpan {
  from: number;
  to: number;
  /** The JSON field (`"token"`, `"reclaim"`) or {@link AUTH_SECRET_FIELD}. */
  field: string;
  isFirst: boolean;
  isLast: boolean;
}

/**
 * Finds the chat's secrets in one direction of one byte stream (one per connection and
 * direction): the string value of a `"token"` or `"reclaim"` field in a JSON line (`{` first), and
 * the TOKEN of a text-mode `/auth TOKEN` line (any case, blanks before it allowed). The one
 * definition of "a secret" that {@link SecretRedactor} masks and {@link restoreMaskedSecrets} puts
 * back. Field names written with escapes (`"tok\u0065n"`) count, as `JSON.parse` reads them; a
 * value never ends before its closing quote or the line's newline, whichever is first. A `/auth`
 * span runs to the newline, so a trailing `\r` is in it.
 */
export class SecretScanner {
  readonly #fields: readonly string[];
  /** The fields as UTF-8, compared with a key written without escapes (no allocation per key). */
  readonly #fieldBytes: readonly Uint8Array[];
  /** Longest raw key that can still name a field once its escapes are read (`\uXXXX` is 6 bytes a character). */
  readonly #maxKeyBytes: number;
  readonly #key: Uint8Array;
  #keyLength = 0;
  #keyHasEscape = false;
  /** The field of the key just read, or of the secret being read. */
  #field = "";
  #state = S.LineStart;
  #at = 0;

  constructor(options: RedactOptions = {}) {
    const fields = options.jsonFields ?? SECRET_JSON_FIELDS;
    this.#fields = fields;
    this.#fieldBytes = fields.map((f) => Buffer.from(f));
    this.#maxKeyBytes = 6 * Math.max(0, ...fields.map((f) => f.length));
    this.#key = new Uint8Array(this.#maxKeyBytes);
  }

  /** Calls `onSpan` for each piece of a secret in `chunk`, in order; keeps no bytes. */
  scan(chunk: Uint8Array, onSpan: (span: SecretSpan) => void): void {
    const n = chunk.length;
    // In a local while the loop runs (a private field read per byte costs).
    let state = this.#state;
    const isSecret = (s: S) => s === S.AuthToken || s === S.JsonSecret || s === S.JsonSecretEscape;
    // Where the current secret starts in this chunk (0 when it began in an earlier one).
    let from = 0;
    let isFirst = false;
    const end = (to: number) => {
      onSpan({ from, to, field: this.#field, isFirst, isLast: true });
    };
    for (let i = 0; i < n; i++) {
      // Most bytes of a JSON line are outside strings or inside long ones (a message's text):
      // skip them in a tight loop to the next byte that can change the state.
      if (state === S.Json) {
        while (i < n && chunk[i] !== QUOTE && chunk[i] !== NL) i++;
        if (i === n) break;
      } else if (state === S.JsonString && this.#keyLength > this.#maxKeyBytes) {
        for (let c = chunk[i]; i < n && c !== QUOTE && c !== BACKSLASH && c !== NL; c = chunk[++i]);
        if (i === n) break;
      } else if (state === S.JsonSecret) {
        for (let c = chunk[i]; i < n && c !== QUOTE && c !== BACKSLASH && c !== NL; c = chunk[++i]);
        if (i === n) break;
      } else if (state === S.AuthToken) {
        const next = chunk.indexOf(NL, i);
        if (next < 0) break;
        i = next;
      }
      const b = chunk[i]!;
      if (b === NL) {
        if (isSecret(state)) end(i);
        state = S.LineStart;
        continue;
      }
      switch (state) {
        case S.LineStart:
          if (isBlank(b) || b === CR) break;
          if (b === 0x7b) state = S.Json;
          else if (b === AUTH[0]) {
            state = S.Auth;
            this.#at = 1;
          } else state = S.Pass;
          break;
        case S.Pass: {
          // Most bytes are here (chat text, bulk data): jump to the next line.
          const next = chunk.indexOf(NL, i);
          if (next < 0) i = n - 1;
          else i = next - 1;
          break;
        }
        case S.Auth:
          if ((b | 0x20) !== AUTH[this.#at]) state = S.Pass;
          else if (++this.#at === AUTH.length) state = S.AuthBlank;
          break;
        case S.AuthBlank:
          if (isBlank(b)) state = S.AuthBlanks;
          else state = S.Pass;
          break;
        case S.AuthBlanks:
          if (isBlank(b)) break;
          state = S.AuthToken;
          this.#field = AUTH_SECRET_FIELD;
          from = i;
          isFirst = true;
          break;
        case S.AuthToken:
          break;
        case S.Json:
          if (b === QUOTE) {
            state = S.JsonString;
            this.#keyLength = 0;
            this.#keyHasEscape = false;
          }
          break;
        case S.JsonString:
          if (b === QUOTE) state = this.#readSecretKey() ? S.JsonAfterKey : S.Json;
          else {
            if (b === BACKSLASH) {
              state = S.JsonStringEscape;
              this.#keyHasEscape = true;
            }
            this.#keepKeyByte(b);
          }
          break;
        case S.JsonStringEscape:
          this.#keepKeyByte(b);
          state = S.JsonString;
          break;
        case S.JsonAfterKey:
          if (b === 0x3a) state = S.JsonBeforeValue;
          else if (b === QUOTE) {
            // Not a key after all (not valid JSON either): this quote opens the next string.
            state = S.JsonString;
            this.#keyLength = 0;
            this.#keyHasEscape = false;
          } else if (!isBlank(b) && b !== CR) state = S.Json;
          break;
        case S.JsonBeforeValue:
          if (b === QUOTE) {
            state = S.JsonSecret;
            from = i + 1;
            isFirst = true;
          } else if (!isBlank(b) && b !== CR) state = S.Json;
          break;
        case S.JsonSecret:
          if (b === QUOTE) {
            end(i);
            state = S.Json;
          } else if (b === BACKSLASH) state = S.JsonSecretEscape;
          break;
        case S.JsonSecretEscape:
          state = S.JsonSecret;
          break;
      }
    }
    if (isSecret(state)) onSpan({ from, to: n, field: this.#field, isFirst, isLast: false });
    this.#state = state;
  }

  #keepKeyByte(b: number): void {
    // One byte past the bound marks the key as too long to name a field.
    if (this.#keyLength <= this.#maxKeyBytes) {
      if (this.#keyLength < this.#maxKeyBytes) this.#key[this.#keyLength] = b;
      this.#keyLength++;
    }
  }

  #keyIs(field: Uint8Array): boolean {
    if (field.length !== this.#keyLength) return false;
    for (let i = 0; i < field.length; i++) if (field[i] !== this.#key[i]) return false;
    return true;
  }

  /** Whether the key just read names a secret field; if so, it becomes `#field`. */
  #readSecretKey(): boolean {
    if (this.#keyLength > this.#maxKeyBytes) return false;
    let at = -1;
    if (!this.#keyHasEscape) at = this.#fieldBytes.findIndex((f) => this.#keyIs(f));
    else {
      const raw = Buffer.from(this.#key.buffer, this.#key.byteOffset, this.#keyLength).toString("utf8");
      try {
        at = this.#fields.indexOf(JSON.parse(`"${raw}"`) as string);
      } catch {
        return false;
      }
    }
    if (at < 0) return false;
    this.#field = this.#fields[at]!;
    return true;
  }
}

/**
 * Masks the chat's secrets (as {@link SecretScanner} finds them) in one direction of one byte
 * stream: create one per connection and direction. Each masked byte becomes `*` (the `\r` of an
 * `/auth` line is kept), so output and input always have the same length.
 * @example
 * const r = new SecretRedactor();
 * r.push(Buffer.from('{"type":"hello","tok')); r.push(Buffer.from('en":"s3cret"}\n')) // …'en":"******"}\n'
 */
export class SecretRedactor {
  readonly #scanner: SecretScanner;

  constructor(options: RedactOptions = {}) {
    this.#scanner = new SecretScanner(options);
  }

  /**
   * The chunk with its secret bytes masked: `chunk` itself when there were none, else a copy
   * (`chunk` is never written to: it is what the socket carries).
   */
  push(chunk: Uint8Array): Uint8Array {
    let out: Uint8Array | undefined;
    this.#scanner.scan(chunk, ({ from, to, field }) => {
      if (from === to) return;
      out ??= Uint8Array.from(chunk);
      if (field !== AUTH_SECRET_FIELD) out.fill(STAR, from, to);
      else for (let i = from; i < to; i++) if (chunk[i] !== CR) out[i] = STAR;
    });
    return out ?? chunk;
  }
}

/** `bytes` with the chat's secrets masked, as one whole stream (a datagram, a test): see {@link SecretRedactor}. */
export function redactSecrets(bytes: Uint8Array, options?: RedactOptions): Uint8Array {
  return new SecretRedactor(options).push(bytes);
}

/** What {@link restoreMaskedSecrets} found and did. */
export interface RestoredSecrets {
  /** The chunks with the restored secrets in place of their stars (chunks without one are the same objects). */
  chunks: Uint8Array[];
  /** Masked secrets found (each a value of `*` only; an `/auth` line's `\r` aside), by field ({@link AUTH_SECRET_FIELD} for `/auth`). */
  masked: Map<string, number>;
  /** How many of them got a value from `values`. */
  restored: number;
}

interface Edit {
  from: number;
  to: number;
  insert?: Uint8Array;
}

/**
 * Finds the secrets {@link SecretRedactor} masked in one direction of one recorded stream
 * (`chunks`, in order) and puts `values[field]` in place of each one's stars: JSON-escaped in a
 * JSON string, as is after `/auth` (where a trailing `\r` stays). A secret split across chunks is
 * written whole into the chunk it starts in, so lengths change and chunk boundaries otherwise stay.
 * A value that is not all `*` (a secret recorded with `--no-redact`) and a field with no value are
 * left as they are. Throws ProtocolError INVALID_OPTION for an `/auth` value with a line break.
 * @example restoreMaskedSecrets([Buffer.from('/auth ***\n')], { "/auth": "s3cret" }).chunks // ["/auth s3cret\n"]
 */
export function restoreMaskedSecrets(
  chunks: readonly Uint8Array[],
  values: Readonly<Record<string, string>> = {},
  options?: RedactOptions,
): RestoredSecrets {
  const authValue = values[AUTH_SECRET_FIELD];
  if (authValue !== undefined && /[\r\n]/.test(authValue)) {
    throw new ProtocolError("INVALID_OPTION", "an /auth token cannot hold a line break", {
      hint: "a token is one line",
    });
  }
  const scanner = new SecretScanner(options);
  const masked = new Map<string, number>();
  const edits = new Map<number, Edit[]>();
  let restored = 0;
  let pieces: { chunk: number; span: SecretSpan }[] = [];
  const settle = () => {
    const field = pieces[0]!.span.field;
    let stars = 0;
    for (const { chunk, span } of pieces) {
      const bytes = chunks[chunk]!;
      for (let i = span.from; i < span.to; i++) {
        if (bytes[i] === STAR) stars++;
        else if (!(bytes[i] === CR && field === AUTH_SECRET_FIELD)) return;
      }
    }
    if (stars === 0) return;
    masked.set(field, (masked.get(field) ?? 0) + 1);
    const value = values[field];
    if (value === undefined) return;
    restored++;
    const insert = Buffer.from(field === AUTH_SECRET_FIELD ? value : JSON.stringify(value).slice(1, -1));
    for (const [k, { chunk, span }] of pieces.entries()) {
      const bytes = chunks[chunk]!;
      const list = edits.get(chunk) ?? [];
      edits.set(chunk, list);
      if (k === 0) list.push({ from: span.from, to: span.from, insert });
      // The stars go; an /auth line's \r stays where it was.
      for (let i = span.from; i < span.to; ) {
        if (bytes[i] === CR) {
          i++;
          continue;
        }
        const start = i;
        while (i < span.to && bytes[i] !== CR) i++;
        list.push({ from: start, to: i });
      }
    }
  };
  for (const [chunk, bytes] of chunks.entries()) {
    scanner.scan(bytes, (span) => {
      if (span.isFirst) pieces = [];
      pieces.push({ chunk, span });
      if (span.isLast) {
        settle();
        pieces = [];
      }
    });
  }
  // A recording that ends inside a secret.
  if (pieces.length > 0) settle();
  const out = chunks.map((bytes, chunk) => {
    const list = edits.get(chunk);
    return list ? applyEdits(bytes, list) : bytes;
  });
  return { chunks: out, masked, restored };
}

/** `bytes` with each edit's range cut and its `insert` put in; edits in order, not overlapping. */
function applyEdits(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const e of edits) {
    parts.push(bytes.subarray(at, e.from));
    if (e.insert) parts.push(e.insert);
    at = e.to;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts);
}
