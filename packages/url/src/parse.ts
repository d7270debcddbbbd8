import { UrlError } from "./errors.js";
import { checkBracketedHost } from "./ip-address.js";
import { pyRepr } from "./py.js";

/** Schemes whose relative references `urljoin` resolves (Python's `uses_relative`). */
export const USES_RELATIVE: readonly string[] = [
  "",
  "ftp",
  "http",
  "gopher",
  "nntp",
  "imap",
  "wais",
  "file",
  "https",
  "shttp",
  "mms",
  "prospero",
  "rtsp",
  "rtsps",
  "rtspu",
  "sftp",
  "svn",
  "svn+ssh",
  "ws",
  "wss",
];

/** Schemes that carry a `//netloc` (Python's `uses_netloc`). */
export const USES_NETLOC: readonly string[] = [
  "",
  "ftp",
  "http",
  "gopher",
  "nntp",
  "telnet",
  "imap",
  "wais",
  "file",
  "mms",
  "https",
  "shttp",
  "snews",
  "prospero",
  "rtsp",
  "rtsps",
  "rtspu",
  "rsync",
  "svn",
  "svn+ssh",
  "sftp",
  "nfs",
  "git",
  "git+ssh",
  "ws",
  "wss",
];

/** Schemes whose last path segment may carry `;params` (Python's `uses_params`). */
export const USES_PARAMS: readonly string[] = [
  "",
  "ftp",
  "hdl",
  "prospero",
  "http",
  "imap",
  "https",
  "shttp",
  "rtsp",
  "rtsps",
  "rtspu",
  "sip",
  "sips",
  "mms",
  "sftp",
  "tel",
];

const SCHEME_CHARS = /^[A-Za-z0-9+\-.]*$/;
// WHATWG's "C0 control or space": stripped from the front of a URL (Python 3.11).
const C0_OR_SPACE =
  "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ";

/** Options for {@link urlsplit} and {@link urlparse}. */
export interface SplitOptions {
  /** Scheme to use when the URL has none. Default "". */
  scheme?: string;
  /** Split off `#fragment`. Default true; when false the `#...` stays in the path or query. */
  allowFragments?: boolean;
}

/** What `username`, `password`, `hostname` and `port` read from: the netloc. */
abstract class NetlocParts {
  abstract readonly netloc: string;

  /** The user before `@`, or null when the netloc has no `@`. */
  get username(): string | null {
    return userinfo(this.netloc)[0];
  }

  /** The password after `user:`, or null when there is none. */
  get password(): string | null {
    return userinfo(this.netloc)[1];
  }

  /** The host, lower-cased up to any `%zone`, without brackets; null when empty. */
  get hostname(): string | null {
    const host = hostinfo(this.netloc)[0];
    if (!host) return null;
    const pct = host.indexOf("%");
    return pct < 0 ? host.toLowerCase() : host.slice(0, pct).toLowerCase() + host.slice(pct);
  }

  /**
   * The port as a number, or null when there is none. Throws UrlError INVALID_PORT when it is not
   * ASCII digits and PORT_OUT_OF_RANGE above 65535 (Python raises ValueError when read, too).
   */
  get port(): number | null {
    const port = hostinfo(this.netloc)[1];
    if (port === null) return null;
    if (!/^[0-9]+$/.test(port)) {
      throw new UrlError("INVALID_PORT", `Port could not be cast to integer value as ${pyRepr(port)}`, {
        hint: "a port is a number from 0 to 65535",
      });
    }
    const n = Number(port);
    if (n > 65535) {
      throw new UrlError("PORT_OUT_OF_RANGE", "Port out of range 0-65535", {
        hint: "a port is a number from 0 to 65535",
      });
    }
    return n;
  }
}

function userinfo(netloc: string): [string | null, string | null] {
  const at = netloc.lastIndexOf("@");
  if (at < 0) return [null, null];
  const info = netloc.slice(0, at);
  const colon = info.indexOf(":");
  return colon < 0 ? [info, null] : [info.slice(0, colon), info.slice(colon + 1)];
}

function hostinfo(netloc: string): [string, string | null] {
  const info = netloc.slice(netloc.lastIndexOf("@") + 1);
  let host: string;
  let port: string;
  const open = info.indexOf("[");
  if (open >= 0) {
    const bracketed = info.slice(open + 1);
    const close = bracketed.indexOf("]");
    host = close < 0 ? bracketed : bracketed.slice(0, close);
    const after = close < 0 ? "" : bracketed.slice(close + 1);
    const colon = after.indexOf(":");
    port = colon < 0 ? "" : after.slice(colon + 1);
  } else {
    const colon = info.indexOf(":");
    host = colon < 0 ? info : info.slice(0, colon);
    port = colon < 0 ? "" : info.slice(colon + 1);
  }
  return [host, port === "" ? null : port];
}

/**
 * The five parts of a URL, as Python's `SplitResult`: `scheme://netloc/path?query#fragment`.
 * Iterable, so `const [scheme, netloc] = urlsplit(u)` works as tuple unpacking does in Python.
 */
export class SplitResult extends NetlocParts {
  constructor(
    readonly scheme: string,
    readonly netloc: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {
    super();
  }

  /** The URL put back together: `urlunsplit(this)`. */
  geturl(): string {
    return urlunsplit(this);
  }

  /** The parts as a 5-tuple. */
  toArray(): [string, string, string, string, string] {
    return [this.scheme, this.netloc, this.path, this.query, this.fragment];
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.toArray()[Symbol.iterator]();
  }
}

/**
 * The six parts of a URL, as Python's `ParseResult`: `scheme://netloc/path;params?query#fragment`.
 */
export class ParseResult extends NetlocParts {
  constructor(
    readonly scheme: string,
    readonly netloc: string,
    readonly path: string,
    readonly params: string,
    readonly query: string,
    readonly fragment: string,
  ) {
    super();
  }

  /** The URL put back together: `urlunparse(this)`. */
  geturl(): string {
    return urlunparse(this);
  }

  /** The parts as a 6-tuple. */
  toArray(): [string, string, string, string, string, string] {
    return [this.scheme, this.netloc, this.path, this.params, this.query, this.fragment];
  }

  [Symbol.iterator](): IterableIterator<string> {
    return this.toArray()[Symbol.iterator]();
  }
}

function stripChars(s: string, chars: string, { start = true, end = true } = {}): string {
  let a = 0;
  let b = s.length;
  while (start && a < b && chars.includes(s[a]!)) a++;
  while (end && b > a && chars.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

const UNSAFE = /[\t\r\n]/g;

/**
 * Splits a URL into five parts exactly as Python 3.11's `urllib.parse.urlsplit`: leading C0
 * controls and spaces are stripped, tabs and newlines removed anywhere, the scheme lower-cased;
 * `%` escapes are kept as they are. Throws UrlError for unbalanced brackets (`Invalid IPv6 URL`),
 * a bracketed host that is not IPv6, or a netloc that NFKC turns into URL syntax.
 * @example urlsplit("HTTP://u@[::1]:80/p?q#f") // SplitResult("http", "u@[::1]:80", "/p", "q", "f")
 */
export function urlsplit(url: string, opts: SplitOptions = {}): SplitResult {
  const allowFragments = opts.allowFragments ?? true;
  let rest = stripChars(url, C0_OR_SPACE, { end: false }).replace(UNSAFE, "");
  let scheme = stripChars(opts.scheme ?? "", C0_OR_SPACE).replace(UNSAFE, "");
  let netloc = "";
  let query = "";
  let fragment = "";
  const colon = rest.indexOf(":");
  if (colon > 0 && /^[A-Za-z]/.test(rest) && SCHEME_CHARS.test(rest.slice(0, colon))) {
    scheme = rest.slice(0, colon).toLowerCase();
    rest = rest.slice(colon + 1);
  }
  if (rest.startsWith("//")) {
    let end = rest.length;
    for (const c of "/?#") {
      const at = rest.indexOf(c, 2);
      if (at >= 0) end = Math.min(end, at);
    }
    netloc = rest.slice(2, end);
    rest = rest.slice(end);
    const open = netloc.includes("[");
    const close = netloc.includes("]");
    if (open !== close) {
      throw new UrlError("INVALID_IPV6_URL", "Invalid IPv6 URL", {
        hint: "an IPv6 host needs both brackets: http://[::1]:8080/",
      });
    }
    if (open && close) {
      const after = netloc.slice(netloc.indexOf("[") + 1);
      const close = after.indexOf("]");
      checkBracketedHost(close < 0 ? after : after.slice(0, close));
    }
  }
  if (allowFragments) {
    const hash = rest.indexOf("#");
    if (hash >= 0) {
      fragment = rest.slice(hash + 1);
      rest = rest.slice(0, hash);
    }
  }
  const q = rest.indexOf("?");
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  checkNetloc(netloc);
  return new SplitResult(scheme, netloc, rest, query, fragment);
}

// Refuses a netloc whose non-ASCII characters NFKC-normalize into URL syntax (CVE-2019-9636).
function checkNetloc(netloc: string): void {
  if (!netloc || /^[\x00-\x7f]*$/.test(netloc)) return;
  const n = netloc.replace(/[@:#?]/g, "");
  const normalized = n.normalize("NFKC");
  if (n === normalized) return;
  for (const c of "/?#@:") {
    if (normalized.includes(c)) {
      throw new UrlError(
        "INVALID_NETLOC",
        `netloc '${netloc}' contains invalid characters under NFKC normalization`,
        { hint: "percent-encode the host, or use its punycode (xn--) form" },
      );
    }
  }
}

/**
 * Splits a URL into six parts exactly as Python's `urllib.parse.urlparse`: as {@link urlsplit},
 * and `;params` split off the last path segment for schemes in {@link USES_PARAMS}.
 * @example urlparse("http://h/a;b/c;type=d?x").params // "type=d"
 */
export function urlparse(url: string, opts: SplitOptions = {}): ParseResult {
  const s = urlsplit(url, opts);
  let path = s.path;
  let params = "";
  if (USES_PARAMS.includes(s.scheme) && path.includes(";")) [path, params] = splitParams(path);
  return new ParseResult(s.scheme, s.netloc, path, params, s.query, s.fragment);
}

function splitParams(path: string): [string, string] {
  let i: number;
  if (path.includes("/")) {
    i = path.indexOf(";", path.lastIndexOf("/"));
    if (i < 0) return [path, ""];
  } else {
    i = path.indexOf(";");
  }
  return [path.slice(0, i), path.slice(i + 1)];
}

/** Five URL parts, as a SplitResult or a tuple. */
export type SplitParts =
  | readonly [string, string, string, string, string]
  | { scheme: string; netloc: string; path: string; query: string; fragment: string };

/** Six URL parts, as a ParseResult or a tuple. */
export type ParseParts =
  | readonly [string, string, string, string, string, string]
  | { scheme: string; netloc: string; path: string; params: string; query: string; fragment: string };

/**
 * Puts five parts back together as Python's `urlunsplit` does; empty query and fragment are left
 * out, so `http://h/?` comes back as `http://h/`.
 * @example urlunsplit(["https", "example.com", "/a", "x=1", ""]) // "https://example.com/a?x=1"
 */
export function urlunsplit(parts: SplitParts): string {
  const [scheme, netloc, path, query, fragment] = Array.isArray(parts)
    ? (parts as readonly string[])
    : (() => {
        const p = parts as Exclude<SplitParts, readonly string[]>;
        return [p.scheme, p.netloc, p.path, p.query, p.fragment];
      })();
  let url = path ?? "";
  if (netloc || (scheme && USES_NETLOC.includes(scheme) && !url.startsWith("//"))) {
    if (url && !url.startsWith("/")) url = `/${url}`;
    url = `//${netloc ?? ""}${url}`;
  }
  if (scheme) url = `${scheme}:${url}`;
  if (query) url = `${url}?${query}`;
  if (fragment) url = `${url}#${fragment}`;
  return url;
}

/**
 * Puts six parts back together as Python's `urlunparse` does (`path;params`, then as urlunsplit).
 * @example urlunparse(["http", "h", "/p", "type=a", "", ""]) // "http://h/p;type=a"
 */
export function urlunparse(parts: ParseParts): string {
  const [scheme, netloc, path, params, query, fragment] = Array.isArray(parts)
    ? (parts as readonly string[])
    : (() => {
        const p = parts as Exclude<ParseParts, readonly string[]>;
        return [p.scheme, p.netloc, p.path, p.params, p.query, p.fragment];
      })();
  const url = params ? `${path};${params}` : path!;
  return urlunsplit([scheme!, netloc!, url, query!, fragment!]);
}

/**
 * Resolves `url` against `base` as Python's `urljoin`: RFC 3986 resolution with Python's quirks
 * (only schemes in {@link USES_RELATIVE} resolve; `..` above the root is dropped; empty segments
 * in the middle of a relative merge are dropped).
 * @example urljoin("http://a/b/c/d;p?q", "../g") // "http://a/b/g"
 */
export function urljoin(base: string, url: string, opts: { allowFragments?: boolean } = {}): string {
  if (!base) return url;
  if (!url) return base;
  const allowFragments = opts.allowFragments ?? true;
  const b = urlparse(base, { allowFragments });
  const r = urlparse(url, { scheme: b.scheme, allowFragments });
  const { scheme } = r;
  let { netloc, path, params, query } = r;
  const { fragment } = r;
  if (scheme !== b.scheme || !USES_RELATIVE.includes(scheme)) return url;
  if (USES_NETLOC.includes(scheme)) {
    if (netloc) return urlunparse([scheme, netloc, path, params, query, fragment]);
    netloc = b.netloc;
  }
  if (!path && !params) {
    path = b.path;
    params = b.params;
    if (!query) query = b.query;
    return urlunparse([scheme, netloc, path, params, query, fragment]);
  }
  const baseParts = b.path.split("/");
  if (baseParts.at(-1) !== "") baseParts.pop();
  let segments: string[];
  if (path.startsWith("/")) {
    segments = path.split("/");
  } else {
    const merged = [...baseParts, ...path.split("/")];
    // Python: segments[1:-1] = filter(None, segments[1:-1])
    segments =
      merged.length <= 2 ? merged : [merged[0]!, ...merged.slice(1, -1).filter(Boolean), merged.at(-1)!];
  }
  const resolved: string[] = [];
  for (const seg of segments) {
    if (seg === "..") resolved.pop();
    else if (seg !== ".") resolved.push(seg);
  }
  const last = segments.at(-1);
  if (last === "." || last === "..") resolved.push("");
  return urlunparse([scheme, netloc, resolved.join("/") || "/", params, query, fragment]);
}

/**
 * Removes the fragment, as Python's `urldefrag`: the URL without `#...` and the fragment.
 * @example urldefrag("http://h/p#top") // { url: "http://h/p", fragment: "top" }
 */
export function urldefrag(url: string): { url: string; fragment: string } {
  if (!url.includes("#")) return { url, fragment: "" };
  const p = urlparse(url);
  return { url: urlunparse([p.scheme, p.netloc, p.path, p.params, p.query, ""]), fragment: p.fragment };
}
