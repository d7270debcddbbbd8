import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { pipeline, type Readable, Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { NetlabError, type NetlabErrorOptions } from "@netlab/protocol";
import { type UrlencodeInput, urlencode } from "./query.js";

/**
 * Why a request failed before an HTTP answer (or, for HTTP_ERROR, with one). The CLI turns each
 * into curl's exit code: DNS_FAILURE 6, CONNECTION_REFUSED / CONNECTION_FAILED 7, TIMEOUT 28,
 * HTTP_ERROR 22, TLS_FAILURE 35, TOO_MANY_REDIRECTS 47, BAD_CONTENT_ENCODING 61, BODY_TOO_LARGE
 * and DECOMPRESSION_BOMB 63.
 */
export type URLErrorCode =
  | "INVALID_URL"
  | "DNS_FAILURE"
  | "CONNECTION_REFUSED"
  | "CONNECTION_FAILED"
  | "TIMEOUT"
  | "TLS_FAILURE"
  | "TOO_MANY_REDIRECTS"
  | "ABORTED"
  | "BODY_TOO_LARGE"
  | "DECOMPRESSION_BOMB"
  | "BAD_CONTENT_ENCODING"
  | "HTTP_ERROR";

/** Options for a URLError: the short reason (Python's `URLError.reason`) and the URL. */
export interface URLErrorOptions extends NetlabErrorOptions {
  reason: string;
  url: string;
}

/**
 * The request got no usable HTTP answer: the name did not resolve, the connection was refused,
 * TLS failed, it timed out, or redirects did not end. As Python's `urllib.error.URLError`,
 * `reason` says why in a few words ("Connection refused", "timed out").
 * @example try { await urlopen(url) } catch (e) { if (e instanceof URLError && e.code === "TIMEOUT") retry(); }
 */
export class URLError<C extends URLErrorCode = URLErrorCode> extends NetlabError<C> {
  /** Why, in a few words: "Name or service not known", "Connection refused", "timed out"... */
  readonly reason: string;
  /** The URL being fetched when it failed (after any redirects). */
  readonly url: string;

  constructor(code: C, message: string, options: URLErrorOptions) {
    super(code, message, options);
    this.reason = options.reason;
    this.url = options.url;
  }
}

/**
 * The server answered with status ≥ 400. As Python's `urllib.error.HTTPError` (a URLError), it
 * carries the answer: `status` (Python's `HTTPError.code`; `code` is netlab's stable "HTTP_ERROR"),
 * `reason` ("Not Found"), `headers`, and the body (up to `maxErrorBodyBytes`) as `body` / `text()`.
 * Its message is Python's: `HTTP Error 404: Not Found`.
 */
export class HTTPError extends URLError<"HTTP_ERROR"> {
  readonly status: number;
  readonly headers: Headers;
  /** The start of the response body (up to maxErrorBodyBytes); `truncated` says if there was more. */
  readonly body: Uint8Array;
  readonly truncated: boolean;

  constructor(
    url: string,
    status: number,
    reason: string,
    headers: Headers,
    body: Uint8Array,
    truncated: boolean,
  ) {
    super("HTTP_ERROR", `HTTP Error ${status}: ${reason}`, {
      reason,
      url,
      hint:
        status === 404 ? "check the path" : status >= 500 ? "the server failed; try again later" : undefined,
    });
    this.status = status;
    this.headers = headers;
    this.body = body;
    this.truncated = truncated;
  }

  /** The error body as UTF-8 text (invalid bytes become U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.body);
  }
}

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
};

/** Decoded bodies up to this size (1 MiB) are never refused by the ratio: small ones compress well. */
export const DECOMPRESSION_RATIO_FLOOR_BYTES = 1024 * 1024;

/** Content codings decoded, outermost last; any other coding leaves the body as the server sent it. */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(),
  "x-gzip": () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/** More codings than this on one body (`gzip, gzip, …`) is refused: each costs a decoder's memory. */
const MAX_CODINGS = 4;

/** setTimeout's limit (about 24.8 days); a longer wait would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

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

/** The limits that apply while a body is read. */
interface BodyLimits {
  maxBodyBytes: number;
  maxDecompressionRatio: number;
}

/**
 * Requests `url` with Node's own `http`/`https`, following redirects and streaming the body
 * (decoding gzip, deflate and br), in the manner of Python's `urllib.request.urlopen`: an answer
 * ≥ 400 throws HTTPError; no answer throws URLError with a code (DNS_FAILURE, CONNECTION_REFUSED,
 * TIMEOUT, TLS_FAILURE, TOO_MANY_REDIRECTS, BODY_TOO_LARGE, DECOMPRESSION_BOMB...). Every error,
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

  const timers = new Timers(o.timeoutMs, o.totalTimeoutMs, opts.signal);
  const redirects: string[] = [];
  let res: IncomingMessage | undefined;
  try {
    for (;;) {
      timers.reset();
      try {
        res = await send(target, method, headers, body, opts.lookup, timers.signal);
      } catch (err) {
        throw toURLError(err, target, timers);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (REDIRECTS.has(status) && location !== undefined) {
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
      if (status >= 400) {
        const [bytes, truncated] = await readCapped(res, o.maxErrorBodyBytes, timers, target, limits);
        timers.clear();
        throw new HTTPError(target, status, reason, responseHeaders, bytes, truncated);
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
  signal: AbortSignal,
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
    });
    // Stays attached for the request's whole life: an error after the answer (a reset while the
    // body streams) then reaches the body's reader, never the process as an uncaught 'error'.
    req.on("error", reject);
    req.on("response", (res) => {
      res.on("error", () => {});
      resolve(res);
    });
    req.end(body);
  });
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

function tooManyRedirects(chain: string[], next: string, max: number): URLError {
  const loop = chain.includes(next);
  const shown = [...chain.slice(-4), next].join(" → ");
  return new URLError(
    "TOO_MANY_REDIRECTS",
    loop ? `redirect loop: gave up after ${max} redirects: ${shown}` : `more than ${max} redirects: ${shown}`,
    {
      reason: loop ? "redirect loop" : "too many redirects",
      url: chain.at(-1)!,
      hint: loop ? "the server redirects in a circle; fix its Location headers" : "raise --max-redirects",
    },
  );
}

function bodyTooLarge(url: string, max: number, what: string): URLError {
  return new URLError("BODY_TOO_LARGE", `the body of ${url} ${what}, more than the limit of ${max} bytes`, {
    reason: "Maximum file size exceeded",
    url,
    hint: "raise --max-filesize if you expect a body this large",
  });
}

function parseLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
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

/**
 * One AbortSignal for the request, fired when no progress is made for `idleMs`, when the whole
 * request has taken `totalMs`, or when the caller's signal fires. `expired` says which timer did.
 */
class Timers {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  readonly #totalMs: number;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  expired: "idle" | "total" | undefined;
  readonly callerSignal: AbortSignal | undefined;

  constructor(idleMs: number, totalMs: number, signal: AbortSignal | undefined) {
    this.#idleMs = idleMs;
    this.#totalMs = totalMs;
    this.callerSignal = signal;
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason);
      else signal.addEventListener("abort", () => this.#controller.abort(signal.reason), { once: true });
    }
    if (totalMs !== Number.POSITIVE_INFINITY) {
      this.#total = setTimeout(() => this.#expire("total"), totalMs);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The limit that expired, in ms. */
  get expiredMs(): number {
    return this.expired === "total" ? this.#totalMs : this.#idleMs;
  }

  /** Progress was made: the idle limit starts again (refresh() reuses the timer: once per chunk). */
  reset(): void {
    if (this.#idleMs === Number.POSITIVE_INFINITY || this.#controller.signal.aborted) return;
    if (this.#idle) this.#idle.refresh();
    else this.#idle = setTimeout(() => this.#expire("idle"), this.#idleMs);
  }

  /** The request is over: no timer may keep the process alive. */
  clear(): void {
    if (this.#idle) clearTimeout(this.#idle);
    if (this.#total) clearTimeout(this.#total);
    this.#idle = undefined;
    this.#total = undefined;
  }

  #expire(which: "idle" | "total"): void {
    this.expired ??= which;
    this.clear();
    this.#controller.abort(new Error("timed out"));
  }
}

const DNS_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EAI_NONAME", "EAI_NODATA"]);
const CONNECT_CODES = new Set([
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EADDRNOTAVAIL",
]);

function errorCode(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown; errors?: unknown[] } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.code === "string" && e.code !== "ABORT_ERR") return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
    e = e.cause as typeof e;
  }
  return undefined;
}

function toURLError(err: unknown, url: string, timers: Timers): NetlabError {
  if (err instanceof NetlabError) return err;
  const host = new URL(url).host;
  if (timers.expired === "total") {
    return new URLError("TIMEOUT", `operation timed out after ${formatSeconds(timers.expiredMs)} (${url})`, {
      reason: "timed out",
      url,
      cause: err,
      hint: "the whole request took longer than --max-time; raise it",
    });
  }
  if (timers.expired === "idle") {
    return new URLError("TIMEOUT", `timed out after ${formatSeconds(timers.expiredMs)} waiting for ${url}`, {
      reason: "timed out",
      url,
      cause: err,
      hint: "the server is slow or not answering; raise --timeout",
    });
  }
  if (timers.callerSignal?.aborted) {
    return new URLError("ABORTED", `request to ${url} was aborted`, { reason: "aborted", url, cause: err });
  }
  const code = errorCode(err) ?? "";
  const detail =
    (err as { cause?: { message?: string } })?.cause?.message ?? (err as Error)?.message ?? String(err);
  if (DNS_CODES.has(code)) {
    return new URLError("DNS_FAILURE", `cannot resolve host ${new URL(url).hostname} (${code})`, {
      reason: "Name or service not known",
      url,
      cause: err,
      hint: "check the host name, or your network and DNS settings",
    });
  }
  if (code === "ECONNREFUSED") {
    return new URLError("CONNECTION_REFUSED", `cannot connect to ${host}: connection refused`, {
      reason: "Connection refused",
      url,
      cause: err,
      hint: "is a server listening on that port?",
    });
  }
  if (code === "ETIMEDOUT") {
    return new URLError("TIMEOUT", `timed out connecting to ${host}`, {
      reason: "timed out",
      url,
      cause: err,
      hint: "the host did not answer; check the address and port",
    });
  }
  if (/^Z_|BROTLI/.test(code)) {
    return new URLError("BAD_CONTENT_ENCODING", `cannot decode the body of ${url}: ${detail}`, {
      reason: "Unrecognized content encoding",
      url,
      cause: err,
      hint: "the server's compressed body is corrupt or cut short",
    });
  }
  if (
    /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/.test(code) ||
    /SSL|TLS|certificate/i.test(detail)
  ) {
    const why = tlsReason(err) ?? detail;
    return new URLError("TLS_FAILURE", `TLS failed with ${host}: ${why}`, {
      reason: why,
      url,
      cause: err,
      hint: "the server's certificate is not trusted, or it does not speak TLS on that port",
    });
  }
  if (CONNECT_CODES.has(code)) {
    return new URLError("CONNECTION_FAILED", `cannot connect to ${host}: ${detail}`, {
      reason: detail,
      url,
      cause: err,
      hint: "the server closed the connection or did not speak HTTP",
    });
  }
  return new URLError("CONNECTION_FAILED", `request to ${url} failed: ${detail}`, {
    reason: detail,
    url,
    cause: err,
    hint: "the server closed the connection or did not speak HTTP",
  });
}

// OpenSSL errors carry a short `reason` ("wrong version number"), or only a long dump in the
// message: `write EPROTO 80…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:…`.
function tlsReason(err: unknown): string | undefined {
  for (
    let e = err as { reason?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    depth++
  ) {
    if (typeof e.reason === "string" && e.reason) return e.reason;
    const dumped = typeof e.message === "string" && /error:[0-9A-F]+:[^:]*:[^:]*:([^:]+)/.exec(e.message);
    if (dumped) return dumped[1];
    e = e.cause as typeof e;
  }
  return undefined;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** The codings to undo, in the order to undo them; empty when the body is to be kept as sent. */
function codingsOf(header: string | undefined, url: string): string[] {
  if (header === undefined) return [];
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length > MAX_CODINGS) {
    throw new URLError("BAD_CONTENT_ENCODING", `the body of ${url} has ${codings.length} content codings`, {
      reason: "Unrecognized content encoding",
      url,
      hint: `at most ${MAX_CODINGS} are decoded; the server is misbehaving`,
    });
  }
  // A coding we cannot undo: the bytes are kept as sent (as curl without --compressed).
  if (!codings.every((c) => Object.hasOwn(DECODERS, c))) return [];
  return codings.reverse();
}

/**
 * The body as it arrives, decoded, with the limits enforced before each chunk is handed on: a
 * chunk past maxBodyBytes, or past the decompression ratio, is never yielded. Ends (or fails) with
 * the response destroyed.
 */
async function* readBody(
  res: IncomingMessage,
  url: string,
  timers: Timers,
  limits: BodyLimits,
): AsyncGenerator<Uint8Array> {
  let wireBytes = 0;
  let decodedBytes = 0;
  const streams: Readable[] = [res];
  try {
    const codings = codingsOf(res.headers["content-encoding"], url);
    let source: Readable = res;
    if (codings.length > 0) {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          wireBytes += chunk.length;
          timers.reset();
          done(null, chunk);
        },
      });
      const decoders = codings.map((c) => DECODERS[c]!());
      streams.push(count, ...decoders);
      // Errors reach the reader through the last stream's iterator; the callback only has to exist.
      pipeline([res, count, ...decoders], () => {});
      source = decoders.at(-1)!;
    }
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (codings.length === 0) {
        wireBytes += chunk.length;
        timers.reset();
      }
      decodedBytes += chunk.length;
      if (decodedBytes > limits.maxBodyBytes) {
        throw bodyTooLarge(url, limits.maxBodyBytes, "is larger");
      }
      if (
        codings.length > 0 &&
        decodedBytes > DECOMPRESSION_RATIO_FLOOR_BYTES &&
        decodedBytes > limits.maxDecompressionRatio * wireBytes
      ) {
        throw new URLError(
          "DECOMPRESSION_BOMB",
          `the ${codings.join("+")} body of ${url} grew to ${decodedBytes} bytes from ${wireBytes} received: more than ${limits.maxDecompressionRatio} times larger, a likely decompression bomb`,
          {
            reason: "decompression bomb",
            url,
            hint: "raise --max-ratio if you trust the server",
          },
        );
      }
      yield chunk;
    }
  } catch (err) {
    if (err instanceof NetlabError) throw err;
    const broke = toURLError(err, url, timers);
    if (broke.code !== "CONNECTION_FAILED") throw broke;
    const length = parseLength(res.headers["content-length"]);
    throw new URLError(
      "CONNECTION_FAILED",
      `the connection to ${new URL(url).host} broke after ${wireBytes}${length === undefined ? "" : ` of ${length}`} bytes of the body`,
      {
        reason: "connection broken",
        url,
        cause: err,
        hint: "the server closed the connection early; try again",
      },
    );
  } finally {
    for (const s of streams) s.destroy();
  }
}

async function readCapped(
  res: IncomingMessage,
  max: number,
  timers: Timers,
  url: string,
  limits: BodyLimits,
): Promise<[Uint8Array, boolean]> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  // The cap is ours, not the caller's maxBodyBytes: an error body is kept short whatever its size.
  for await (const chunk of readBody(res, url, timers, {
    ...limits,
    maxBodyBytes: Number.POSITIVE_INFINITY,
  })) {
    const room = max - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      size = max;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return [concat(chunks, size), truncated];
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
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

/** Status texts for when the server sent none (HTTP/2, or a bare status line). */
const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  418: "I'm a Teapot",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * A `lookup` that resolves the names in `table` (name → IPv4/IPv6 address) and fails every other
 * name with ENOTFOUND, without sending a DNS query. Pass `{}` to make every name fail.
 * @example await urlopen("http://api.test/", { lookup: staticLookup({ "api.test": "127.0.0.1" }) })
 */
export function staticLookup(table: Readonly<Record<string, string>>): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    const address = Object.hasOwn(table, hostname) ? table[hostname] : undefined;
    if (address === undefined) {
      const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: "ENOTFOUND",
        errno: -3008,
        syscall: "getaddrinfo",
        hostname,
      });
      process.nextTick(callback, err);
      return;
    }
    const family = address.includes(":") ? 6 : 4;
    if (options?.all) process.nextTick(callback, null, [{ address, family }]);
    else process.nextTick(callback, null, address, family);
  }) as LookupFunction;
}
