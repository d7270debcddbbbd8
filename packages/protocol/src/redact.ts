// Secrets in a byte stream, masked where it is recorded or shown (hexdumps, recordings, wire views).
// A mask keeps every byte count and offset: each secret byte becomes one `*`, so a redacted
// recording replays and compares as the original did and a pcap made from it has the same sequence
// numbers. The redactor is a state machine run byte by byte, with O(1) state carried between chunks:
// a secret split across reads at any offset is masked all the same, and no line length bounds it
// (a mask starts once the key before it has been read whole, so no byte is ever held back).

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

/**
 * Masks the chat's secrets in one direction of one byte stream (create one per connection and
 * direction): the string value of a `"token"` or `"reclaim"` field in a JSON line (`{` first), and
 * the TOKEN of a text-mode `/auth TOKEN` line (any case, blanks before it allowed; a trailing `\r`
 * is kept). Each masked byte becomes `*`, so output and input always have the same length. Field
 * names written with escapes (`"tok\u0065n"`) count, as `JSON.parse` reads them; a value never
 * ends before its closing quote or the line's newline, whichever is first.
 * @example
 * const r = new SecretRedactor();
 * r.push(Buffer.from('{"type":"hello","tok')); r.push(Buffer.from('en":"s3cret"}\n')) // …'en":"******"}\n'
 */
export class SecretRedactor {
  readonly #fields: ReadonlySet<string>;
  /** The fields as UTF-8, compared with a key written without escapes (no allocation per key). */
  readonly #fieldBytes: readonly Uint8Array[];
  /** Longest raw key that can still name a field once its escapes are read (`\uXXXX` is 6 bytes a character). */
  readonly #maxKeyBytes: number;
  readonly #key: Uint8Array;
  #keyLength = 0;
  #keyHasEscape = false;
  #state = S.LineStart;
  #at = 0;

  constructor(options: RedactOptions = {}) {
    const fields = options.jsonFields ?? SECRET_JSON_FIELDS;
    this.#fields = new Set(fields);
    this.#fieldBytes = fields.map((f) => Buffer.from(f));
    this.#maxKeyBytes = 6 * Math.max(0, ...fields.map((f) => f.length));
    this.#key = new Uint8Array(this.#maxKeyBytes);
  }

  /**
   * The chunk with its secret bytes masked: `chunk` itself when there were none, else a copy
   * (`chunk` is never written to: it is what the socket carries).
   */
  push(chunk: Uint8Array): Uint8Array {
    let out: Uint8Array | undefined;
    const mask = (i: number) => {
      out ??= Uint8Array.from(chunk);
      out[i] = STAR;
    };
    const n = chunk.length;
    // In a local while the loop runs (a private field read per byte costs).
    let state = this.#state;
    for (let i = 0; i < n; i++) {
      // Most bytes of a JSON line are outside strings or inside long ones (a message's text):
      // skip them in a tight loop to the next byte that can change the state.
      if (state === S.Json) {
        while (i < n && chunk[i] !== QUOTE && chunk[i] !== NL) i++;
        if (i === n) break;
      } else if (state === S.JsonString && this.#keyLength > this.#maxKeyBytes) {
        for (let c = chunk[i]; i < n && c !== QUOTE && c !== BACKSLASH && c !== NL; c = chunk[++i]);
        if (i === n) break;
      }
      const b = chunk[i]!;
      if (b === NL) {
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
          if (b !== CR) mask(i);
          break;
        case S.AuthToken:
          if (b !== CR) mask(i);
          break;
        case S.Json:
          if (b === QUOTE) {
            state = S.JsonString;
            this.#keyLength = 0;
            this.#keyHasEscape = false;
          }
          break;
        case S.JsonString:
          if (b === QUOTE) state = this.#isSecretKey() ? S.JsonAfterKey : S.Json;
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
          if (b === QUOTE) state = S.JsonSecret;
          else if (!isBlank(b) && b !== CR) state = S.Json;
          break;
        case S.JsonSecret:
          if (b === QUOTE) state = S.Json;
          else {
            if (b === BACKSLASH) state = S.JsonSecretEscape;
            mask(i);
          }
          break;
        case S.JsonSecretEscape:
          mask(i);
          state = S.JsonSecret;
          break;
      }
    }
    this.#state = state;
    return out ?? chunk;
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

  #isSecretKey(): boolean {
    if (this.#keyLength > this.#maxKeyBytes) return false;
    if (!this.#keyHasEscape) return this.#fieldBytes.some((f) => this.#keyIs(f));
    const raw = Buffer.from(this.#key.buffer, this.#key.byteOffset, this.#keyLength).toString("utf8");
    try {
      return this.#fields.has(JSON.parse(`"${raw}"`) as string);
    } catch {
      return false;
    }
  }
}

/** `bytes` with the chat's secrets masked, as one whole stream (a datagram, a test): see {@link SecretRedactor}. */
export function redactSecrets(bytes: Uint8Array, options?: RedactOptions): Uint8Array {
  return new SecretRedactor(options).push(bytes);
}
