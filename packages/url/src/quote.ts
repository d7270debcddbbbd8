import { UrlError } from "./errors.js";

const ALWAYS_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~";
const HEX = "0123456789ABCDEF";
const utf8 = new TextEncoder();
const utf8Replace = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

const LONE_SURROGATE = /\p{Cs}/u;

/** Encodes to UTF-8 strictly, as Python's `str.encode()`: a lone surrogate is an error. */
export function encodeUtf8(s: string): Uint8Array {
  if (LONE_SURROGATE.test(s)) {
    let position = 0;
    for (const ch of s) {
      if (LONE_SURROGATE.test(ch)) {
        const code = `\\u${ch.charCodeAt(0).toString(16)}`;
        throw new UrlError(
          "ENCODE_ERROR",
          `'utf-8' codec can't encode character '${code}' in position ${position}: surrogates not allowed`,
          { hint: "the string holds half of a UTF-16 surrogate pair; it has no UTF-8 form" },
        );
      }
      position++;
    }
  }
  return utf8.encode(s);
}

function safeTable(safe: string | Uint8Array): boolean[] {
  const table = new Array<boolean>(256).fill(false);
  for (const c of ALWAYS_SAFE) table[c.charCodeAt(0)] = true;
  if (typeof safe === "string") {
    // Python: safe.encode('ascii', 'ignore'): non-ASCII safe characters are ignored.
    for (let i = 0; i < safe.length; i++) {
      const code = safe.charCodeAt(i);
      if (code < 128) table[code] = true;
    }
  } else {
    for (const b of safe) if (b < 128) table[b] = true;
  }
  return table;
}

/**
 * Percent-encodes bytes as Python's `quote_from_bytes`: everything but letters, digits, `_.-~` and
 * the ASCII characters in `safe` (default `/`) becomes `%XX`, upper-case.
 * @example quoteFromBytes(new Uint8Array([0x61, 0x20])) // "a%20"
 */
export function quoteFromBytes(bytes: Uint8Array, safe: string | Uint8Array = "/"): string {
  if (bytes.length === 0) return "";
  const table = safeTable(safe);
  let out = "";
  for (const b of bytes) out += table[b] ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
  return out;
}

/** Options for {@link quote}. */
export interface QuoteOptions {
  /** ASCII characters left as they are besides letters, digits and `_.-~`. Default "/" (quotePlus: ""). */
  safe?: string | Uint8Array;
}

/**
 * Percent-encodes a string (as UTF-8) or bytes, as Python's `urllib.parse.quote`. Keeps letters,
 * digits, `_.-~` and `safe` (default `/`). Throws UrlError ENCODE_ERROR for a lone surrogate.
 * @example quote("/a b/ü") // "/a%20b/%C3%BC"
 * @example quote("a/b", { safe: "" }) // "a%2Fb"
 */
export function quote(value: string | Uint8Array, opts: QuoteOptions = {}): string {
  const bytes = typeof value === "string" ? encodeUtf8(value) : value;
  return quoteFromBytes(bytes, opts.safe ?? "/");
}

/**
 * As {@link quote} for HTML form values, as Python's `quote_plus`: spaces become `+`, and `safe`
 * defaults to "" so `/` is encoded too.
 * @example quotePlus("a b&c/d") // "a+b%26c%2Fd"
 */
export function quotePlus(value: string | Uint8Array, opts: QuoteOptions = {}): string {
  const safe = opts.safe ?? "";
  const hasSpace = typeof value === "string" ? value.includes(" ") : value.includes(0x20);
  if (!hasSpace) return quote(value, { safe });
  const withSpace = typeof safe === "string" ? `${safe} ` : new Uint8Array([...safe, 0x20]);
  return quote(value, { safe: withSpace }).replaceAll(" ", "+");
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/**
 * Decodes `%XX` escapes to bytes, as Python's `unquote_to_bytes`; a `%` not followed by two hex
 * digits stays as it is. A string is UTF-8-encoded first.
 * @example unquoteToBytes("a%20b%zz") // bytes of "a b%zz"
 */
export function unquoteToBytes(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === "string" ? encodeUtf8(value) : value;
  if (!bytes.includes(0x25)) return bytes;
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25 && i + 2 < bytes.length) {
      const hi = hexValue(bytes[i + 1]!);
      const lo = hexValue(bytes[i + 2]!);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = b;
  }
  return out.subarray(0, n);
}

const ASCII_RUNS = /([\x00-\x7f]+)/;

/**
 * Decodes `%XX` escapes as Python's `urllib.parse.unquote`: runs of escapes are read as UTF-8, an
 * invalid sequence becomes U+FFFD, a `%` not followed by two hex digits is left as it is, and
 * non-ASCII characters pass through.
 * @example unquote("caf%C3%A9%2") // "café%2"
 */
export function unquote(value: string): string {
  if (!value.includes("%")) return value;
  const bits = value.split(ASCII_RUNS);
  let out = bits[0]!;
  for (let i = 1; i < bits.length; i += 2) {
    out += utf8Replace.decode(unquoteToBytes(bits[i]!));
    out += bits[i + 1]!;
  }
  return out;
}

/**
 * As {@link unquote} for form values, as Python's `unquote_plus`: `+` becomes a space first.
 * @example unquotePlus("a+b%2Bc") // "a b+c"
 */
export function unquotePlus(value: string): string {
  return unquote(value.replaceAll("+", " "));
}
