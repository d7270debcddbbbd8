import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { LOW_SPEED_DEFAULTS } from "@netlab/core";
import { type BodyLimits, codingsOf, concat, parseLength, readBody, readCapped } from "./body.js";
import { bodyTooLarge, HTTPError, tooManyRedirects, toURLError, URLError } from "./http-errors.js";
import { staticLookup } from "./lookup.js";
import { type UrlencodeInput, urlencode } from "./query.js";
import { STATUS_TEXT } from "./status.js";
import { MAX_TIMER_MS, Timers } from "./timers.js";

/** Defaults for {@link urlopen}. */
export const HTTP_DEFAULTS = {
  /** Longest wait for the connection, the headers, or the next body chunk: 30 s. */
  timeoutMs: 30_000,
  /** Longest the whole request may take, body included (curl's --max-time): no limit. */
  totalTimeoutMs: Number.POSITIVE_INFINITY,
  /** Redirects followed before TOO_MANY_REDIRECTS: 10, as Python's HTTPRedirectHandler. */
  maxRedirects: 10,
  /** How much of an error body an HTTPError keeps: 64 KiB. */
  maxErrorBodyBytes: 64 * 1024,
  /** Largest body accepted, after decoding (curl's --max-filesize): no limit. */
  maxBodyBytes: Number.POSITIVE_INFINITY,
  /**
   * How many times larger than the bytes received a compressed body may decode to: 100. Text
   * compresses 3–10×; a gzip bomb about 1000×. Checked once the decoded body passes
   * {@link DECOMPRESSION_RATIO_FLOOR_BYTES}.
   */
  maxDecompressionRatio: 100,
  /**
   * curl's --speed-limit, here on by default: 1 KiB/s (a trickling server is cut, a real slow link
   * averages far more over a minute; see LOW_SPEED_DEFAULTS). 0 for no limit.
   */
  minBytesPerSecond: LOW_SPEED_DEFAULTS.minBytesPerSecond as number,
  /** curl's --speed-time: the window the speed limit is averaged over, 60 s. */
  lowSpeedTimeMs: LOW_SPEED_DEFAULTS.lowSpeedTimeMs as number,
};

/** Options for {@link urlopen}. */
export interface RequestOptions {
  /** Default GET, or POST when there is a body or form. */
  method?: string;
  headers?: Record<string, string> | ReadonlyArray<readonly [string, string]>;
  /** Request body, sent as it is (no Content-Type is added). */
  body?: string | Uint8Array;
  /** Form fields, encoded by `urlencode` (with doseq) as application/x-www-form-urlencoded. */
  form?: UrlencodeInput;
  /** Idle limit in ms for connecting, the headers and each body chunk; default 30 000; Infinity for none. */
  timeoutMs?: number;
  /** Limit in ms for the whole request, reading the body included; default Infinity (none). */
  totalTimeoutMs?: number;
  /** Redirects to follow; default 10; 0 makes any redirect an error. */
  maxRedirects?: number;
  /** How much of an error body HTTPError keeps, in bytes; default 64 KiB. */
  maxErrorBodyBytes?: number;
  /**
   * Largest body, in bytes after decoding; default Infinity. A larger Content-Length is refused
   * before the body is read (BODY_TOO_LARGE); a body without one, or longer than it said, fails
   * while streaming as soon as it passes the limit.
   */
  maxBodyBytes?: number;
  /**
   * A gzip/deflate/br body may decode to at most this many times the bytes received (once past
   * 1 MiB decoded); default 100; Infinity for no limit. Beyond it: DECOMPRESSION_BOMB.
   */
  maxDecompressionRatio?: number;
  /**
   * curl's --speed-limit: fail (REQUEST_TIMEOUT) when the body arrives slower than this many bytes
   * per second on average over `lowSpeedTimeMs` spent waiting for it. A server trickling a byte a
   * second resets the idle timeout with every byte; this bounds it. Time the caller spends between
   * chunks (a slow reader of the body) is not waiting, so it never counts. Default 1024; 0 for none.
   */
  minBytesPerSecond?: number;
  /** curl's --speed-time: the window `minBytesPerSecond` is averaged over, in ms. Default 60 000. */
  lowSpeedTimeMs?: number;
  /** Follow 3xx redirects (default true); false returns the 3xx answer itself, as curl without -L. */
  followRedirects?: boolean;
  /** Throw HTTPError for a status ≥ 400 (default true); false returns the answer, as curl without -f. */
  throwHttpErrors?: boolean;
  /** Called with each request's head as sent (request line and headers, CRLF-separated), for curl -v. */
  onRequestHead?: (head: string) => void;
  /** Certificates (PEM) to trust for https instead of the system's, as curl's --cacert. */
  ca?: string | Uint8Array;
  /** Accept any certificate for https, as curl's -k (the connection is encrypted but not authenticated). */
  insecure?: boolean;
  /**
   * Pinned addresses, as curl's --resolve: `"HOST:PORT"` → IP address. A request to that host and
   * port (a redirect's too) connects there without any lookup; the Host header keeps the name.
   */
  resolve?: Readonly<Record<string, string>>;
  /** Resolves host names instead of the system resolver (`dns.lookup`'s signature), e.g. to pin or fail names in tests. */
  lookup?: LookupFunction;
  signal?: AbortSignal;
}

/** An HTTP answer whose body has not been read yet. Read `body` once, or call `close()`. */
export interface HttpResponse extends AsyncDisposable {
  /** The final URL, after redirects. */
  readonly url: string;
  readonly status: number;
  /** The status text: "OK", "Not Found". */
  readonly reason: string;
  readonly headers: Headers;
  /** The headers as received, names in the server's case and order: [name, value, name, value …]. */
  readonly rawHeaders: readonly string[];
  /** "1.1" or "1.0", from the status line. */
  readonly httpVersion: string;
  /** Every URL that answered with a redirect, in order. */
  readonly redirects: readonly string[];
  /** Content-Length when the server sent one (of the body as sent, before any decoding). */
  readonly contentLength: number | undefined;
  /** True when the body is decoded from a Content-Encoding (gzip, deflate, br) as it is read. */
  readonly isDecoded: boolean;
  /** The body as it arrives (decoded); each chunk resets the idle timeout. Ends the connection when done. */
  readonly body: AsyncIterable<Uint8Array>;
  /** Reads the whole body. */
  bytes(): Promise<Uint8Array>;
  /** Reads the whole body as UTF-8. */
  text(): Promise<string>;
  /** Stops reading and releases the connection. */
  close(): Promise<void>;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Requests `url` with Node's own `http`/`https`, following redirects and streaming the body
 * (decoding gzip, deflate and br), in the manner of Python's `urllib.request.urlopen`: an answer
 * ≥ 400 throws HTTPError; no answer throws URLError with a code (DNS_FAILURE, CONNECTION_REFUSED,
 * CONNECT_TIMEOUT, REQUEST_TIMEOUT, TLS_FAILURE, TOO_MANY_REDIRECTS, BODY_TOO_LARGE, DECOMPRESSION_BOMB...). Every error,
 * however the server misbehaves, is a URLError: never a stray event or an unhandled rejection.
 * @example
 * const res = await urlopen("http://127.0.0.1:8000/", { timeoutMs: 5000 });
 * for await (const chunk of res.body) process.stdout.write(chunk);
 */
export async function urlopen(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const o = { ...HTTP_DEFAULTS, ...defined(opts) };
  checkLimit("timeoutMs", o.timeoutMs, url);
  checkLimit("totalTimeoutMs", o.totalTimeoutMs, url);
  checkLimit("maxRedirects", o.maxRedirects, url, { allowZero: true });
  checkLimit("maxErrorBodyBytes", o.maxErrorBodyBytes, url, { allowZero: true });
  checkLimit("maxBodyBytes", o.maxBodyBytes, url, { allowZero: true });
  checkLimit("maxDecompressionRatio", o.maxDecompressionRatio, url);
  checkLimit("minBytesPerSecond", o.minBytesPerSecond, url, { allowZero: true });
  checkLimit("lowSpeedTimeMs", o.lowSpeedTimeMs, url);
  const limits: BodyLimits = { maxBodyBytes: o.maxBodyBytes, maxDecompressionRatio: o.maxDecompressionRatio };

  let target = checkUrl(url);
  const headers = new Headers(opts.headers as ConstructorParameters<typeof Headers>[0]);
  if (!headers.has("accept")) headers.set("accept", "*/*");
  if (!headers.has("accept-encoding")) headers.set("accept-encoding", "gzip, deflate, br");
  let body: Uint8Array | undefined;
  if (opts.form !== undefined) {
    body = new TextEncoder().encode(urlencode(opts.form, { doseq: true }));
    if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded");
  } else if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? new TextEncoder().encode(opts.body) : opts.body;
  }
  let method = (opts.method ?? (body ? "POST" : "GET")).toUpperCase();

  const timers = new Timers(o.timeoutMs, o.totalTimeoutMs, opts.signal, {
    minBytesPerSecond: o.minBytesPerSecond,
    lowSpeedTimeMs: o.lowSpeedTimeMs,
  });
  const redirects: string[] = [];
  let res: IncomingMessage | undefined;
  try {
    for (;;) {
      timers.reset();
      try {
        const lookup = pinnedLookup(target, opts.resolve) ?? opts.lookup;
        const tls = { ca: opts.ca, insecure: opts.insecure === true };
        res = await send(target, method, headers, body, lookup, tls, timers.signal, opts.onRequestHead);
      } catch (err) {
        throw toURLError(err, target, timers);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined && opts.followRedirects !== false) {
        res.destroy();
        let next: string;
        try {
          next = new URL(location, target).href;
        } catch {
          throw new URLError("CONNECTION_FAILED", `${target} redirected to an invalid URL`, {
            reason: "bad redirect",
            url: target,
            hint: "the server's Location header is not a URL",
          });
        }
        redirects.push(target);
        if (redirects.length > o.maxRedirects) throw tooManyRedirects(redirects, next, o.maxRedirects);
        if (status === 303 || ((status === 301 || status === 302) && method === "POST")) {
          if (method !== "HEAD") method = "GET";
          body = undefined;
          headers.delete("content-type");
          headers.delete("content-length");
        }
        if (new URL(next).origin !== new URL(target).origin) {
          headers.delete("authorization");
          headers.delete("cookie");
        }
        target = checkUrl(next);
        continue;
      }
      const reason = res.statusMessage || STATUS_TEXT[status] || "";
      const responseHeaders = toHeaders(res.rawHeaders);
      if (status >= 400 && opts.throwHttpErrors !== false) {
        const [bytes, truncated] = await readCapped(res, o.maxErrorBodyBytes, timers, target, limits);
        timers.clear();
        throw new HTTPError(target, status, reason, responseHeaders, bytes, truncated, res.rawHeaders);
      }
      const contentLength = parseLength(res.headers["content-length"]);
      if (contentLength !== undefined && contentLength > o.maxBodyBytes) {
        throw bodyTooLarge(target, o.maxBodyBytes, `is ${contentLength} bytes (Content-Length)`);
      }
      return makeResponse(res, target, reason, responseHeaders, redirects, timers, limits);
    }
  } catch (err) {
    timers.clear();
    res?.destroy();
    throw err;
  }
}

/**
 * Sends one request on a connection of its own (no pooling: a command makes one request at a
 * time, and a pooled socket is one more thing that can outlive it).
 */
function send(
  target: string,
  method: string,
  headers: Headers,
  body: Uint8Array | undefined,
  lookup: LookupFunction | undefined,
  tls: { ca: string | Uint8Array | undefined; insecure: boolean },
  signal: AbortSignal,
  onRequestHead?: (head: string) => void,
): Promise<IncomingMessage> {
  const url = new URL(target);
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      headers: Object.fromEntries(headers),
      agent: false,
      signal,
      ...(lookup ? { lookup } : {}),
      ...(url.protocol === "https:"
        ? { rejectUnauthorized: !tls.insecure, ...(tls.ca === undefined ? {} : { ca: Buffer.from(tls.ca) }) }
        : {}),
    });
    // Stays attached for the request's whole life: an error after the answer (a reset while the
    // body streams) then reaches the body's reader, never the process as an uncaught 'error'.
    req.on("error", reject);
    // Node keeps the head it wrote in `_header` (not public API, but stable since 0.x): the only
    // way to show what was actually sent, Host and Connection included.
    if (onRequestHead) {
      req.once("finish", () => {
        const head = (req as unknown as { _header?: unknown })._header;
        if (typeof head === "string") onRequestHead(head);
      });
    }
    req.on("response", (res) => {
      res.on("error", () => {});
      resolve(res);
    });
    req.end(body);
  });
}

/** A lookup answering `target`'s host with the address `resolve` pins for its host and port, if any. */
function pinnedLookup(
  target: string,
  resolve: Readonly<Record<string, string>> | undefined,
): LookupFunction | undefined {
  if (!resolve) return undefined;
  const u = new URL(target);
  const port = u.port || (u.protocol === "https:" ? "443" : "80");
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  const address = resolve[`${host}:${port}`];
  return address === undefined ? undefined : staticLookup({ [host]: address });
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkLimit(name: string, value: number, url: string, { allowZero = false } = {}): void {
  const isTime = name.endsWith("Ms");
  const isRatio = name === "maxDecompressionRatio";
  const ok =
    value === Number.POSITIVE_INFINITY ||
    (Number.isFinite(value) &&
      value >= 0 &&
      (allowZero || value > 0) &&
      (isTime || isRatio || Number.isInteger(value)) &&
      (!isTime || value <= MAX_TIMER_MS));
  if (!ok) {
    throw new URLError(
      "INVALID_URL",
      `${name} must be a ${allowZero ? "non-negative" : "positive"} number${isTime ? ` up to ${MAX_TIMER_MS}` : ""}, got ${value}`,
      {
        reason: "invalid option",
        url,
      },
    );
  }
}

function checkUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new URLError("INVALID_URL", `not a URL: ${url}`, {
      reason: "invalid URL",
      url,
      hint: "give an absolute http:// or https:// URL",
    });
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new URLError("INVALID_URL", `unsupported scheme ${u.protocol.slice(0, -1)} in ${url}`, {
      reason: "unknown url type",
      url,
      hint: "only http:// and https:// URLs can be fetched",
    });
  }
  return u.href;
}

/** The response's headers, in order, as a fetch `Headers`; a pair fetch would refuse is left out. */
function toHeaders(raw: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // Node's parser let it through, fetch's rules do not: not worth failing the request for.
    }
  }
  return headers;
}

function makeResponse(
  res: IncomingMessage,
  url: string,
  reason: string,
  headers: Headers,
  redirects: string[],
  timers: Timers,
  limits: BodyLimits,
): HttpResponse {
  let isConsumed = false;
  // A timer or the caller's signal ends the body wherever the reader is waiting.
  const onAbort = () => res.destroy(new Error("aborted"));
  timers.signal.addEventListener("abort", onAbort, { once: true });
  const release = () => {
    timers.clear();
    timers.signal.removeEventListener("abort", onAbort);
    res.destroy();
  };
  async function* stream(): AsyncGenerator<Uint8Array> {
    if (isConsumed) throw new Error("the response body was already read");
    isConsumed = true;
    timers.reset();
    try {
      yield* readBody(res, url, timers, limits);
    } finally {
      // Leaving the loop early destroys the response; either way the connection is done.
      release();
    }
  }
  const body = stream();
  const bytes = async () => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const c of body) {
      chunks.push(c);
      size += c.length;
    }
    return concat(chunks, size);
  };
  const close = async () => {
    await body.return(undefined);
    if (!isConsumed) release();
  };
  let isDecoded: boolean;
  try {
    isDecoded = codingsOf(res.headers["content-encoding"], url).length > 0;
  } catch {
    isDecoded = true; // refused when the body is read
  }
  return {
    url,
    status: res.statusCode ?? 0,
    reason,
    headers,
    rawHeaders: res.rawHeaders,
    httpVersion: res.httpVersion,
    redirects,
    contentLength: parseLength(res.headers["content-length"]),
    isDecoded,
    body,
    bytes,
    text: async () => new TextDecoder().decode(await bytes()),
    close,
    [Symbol.asyncDispose]: close,
  };
}
