import type { LookupFunction } from "node:net";
import { NetlabError, type NetlabErrorOptions } from "@netlab/protocol";
import { Agent, fetch } from "undici";
import { type UrlencodeInput, urlencode } from "./query.js";

/**
 * Why a request failed before an HTTP answer (or, for HTTP_ERROR, with one). The CLI turns each
 * into curl's exit code: DNS_FAILURE 6, CONNECTION_REFUSED / CONNECTION_FAILED 7, TIMEOUT 28,
 * HTTP_ERROR 22, TLS_FAILURE 35, TOO_MANY_REDIRECTS 47.
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
  /** Redirects followed before TOO_MANY_REDIRECTS: 10, as Python's HTTPRedirectHandler. */
  maxRedirects: 10,
  /** How much of an error body an HTTPError keeps: 64 KiB. */
  maxErrorBodyBytes: 64 * 1024,
} as const;

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
  /** Redirects to follow; default 10; 0 makes any redirect an error. */
  maxRedirects?: number;
  /** How much of an error body HTTPError keeps, in bytes; default 64 KiB. */
  maxErrorBodyBytes?: number;
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
  /** Content-Length when the server sent one. */
  readonly contentLength: number | undefined;
  /** The body as it arrives; each chunk resets the idle timeout. Ends the connection when done. */
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
 * Requests `url` with Node's fetch (undici), following redirects and streaming the body, in the
 * manner of Python's `urllib.request.urlopen`: an answer ≥ 400 throws HTTPError; no answer throws
 * URLError with a code (DNS_FAILURE, CONNECTION_REFUSED, TIMEOUT, TLS_FAILURE, TOO_MANY_REDIRECTS).
 * @example
 * const res = await urlopen("http://127.0.0.1:8000/", { timeoutMs: 5000 });
 * for await (const chunk of res.body) process.stdout.write(chunk);
 */
export async function urlopen(url: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const timeoutMs = opts.timeoutMs ?? HTTP_DEFAULTS.timeoutMs;
  const maxRedirects = opts.maxRedirects ?? HTTP_DEFAULTS.maxRedirects;
  const maxErrorBodyBytes = opts.maxErrorBodyBytes ?? HTTP_DEFAULTS.maxErrorBodyBytes;
  checkLimit("timeoutMs", timeoutMs, url);
  checkLimit("maxRedirects", maxRedirects, url, { allowZero: true });
  checkLimit("maxErrorBodyBytes", maxErrorBodyBytes, url, { allowZero: true });

  let target = checkUrl(url);
  const headers = new Headers(opts.headers as ConstructorParameters<typeof Headers>[0]);
  let body: Uint8Array | undefined;
  if (opts.form !== undefined) {
    body = new TextEncoder().encode(urlencode(opts.form, { doseq: true }));
    if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded");
  } else if (opts.body !== undefined) {
    body = typeof opts.body === "string" ? new TextEncoder().encode(opts.body) : opts.body;
  }
  let method = (opts.method ?? (body ? "POST" : "GET")).toUpperCase();

  const agent = new Agent({
    connect: opts.lookup ? { lookup: opts.lookup } : {},
    // Our own idle timer is the limit; undici's defaults (10 s connect, 300 s headers) stay out of its way.
    connectTimeout: 0,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const idle = new IdleTimer(timeoutMs, opts.signal);
  const redirects: string[] = [];
  try {
    for (;;) {
      idle.reset();
      let res: Awaited<ReturnType<typeof fetch>>;
      try {
        res = await fetch(target, {
          method,
          headers,
          body,
          redirect: "manual",
          dispatcher: agent,
          signal: idle.signal,
        });
      } catch (err) {
        throw toURLError(err, target, idle);
      }
      const location = res.headers.get("location");
      if (REDIRECTS.has(res.status) && location !== null) {
        await res.body?.cancel().catch(() => {});
        const next = new URL(location, target).href;
        redirects.push(target);
        if (redirects.length > maxRedirects) throw tooManyRedirects(redirects, next, maxRedirects);
        if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
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
      const reason = res.statusText || STATUS_TEXT[res.status] || "";
      if (res.status >= 400) {
        const [bytes, truncated] = await readCapped(res.body, maxErrorBodyBytes, idle, target);
        idle.clear();
        await agent.close();
        throw new HTTPError(target, res.status, reason, res.headers, bytes, truncated);
      }
      return makeResponse(res, target, reason, redirects, agent, idle);
    }
  } catch (err) {
    idle.clear();
    void agent.destroy().catch(() => {});
    throw err;
  }
}

function checkLimit(name: string, value: number, url: string, { allowZero = false } = {}): void {
  const ok =
    value === Number.POSITIVE_INFINITY ||
    (Number.isFinite(value) &&
      value >= 0 &&
      (allowZero || value > 0) &&
      (name === "timeoutMs" || Number.isInteger(value)));
  if (!ok) {
    throw new URLError(
      "INVALID_URL",
      `${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${value}`,
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

/** An AbortSignal that fires when no progress is made for `ms`, or when the caller's signal fires. */
class IdleTimer {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: NodeJS.Timeout | undefined;
  isTimedOut = false;
  readonly callerSignal: AbortSignal | undefined;

  constructor(ms: number, signal: AbortSignal | undefined) {
    this.#ms = ms;
    this.callerSignal = signal;
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason);
      else signal.addEventListener("abort", () => this.#controller.abort(signal.reason), { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get ms(): number {
    return this.#ms;
  }

  reset(): void {
    this.clear();
    if (this.#ms === Number.POSITIVE_INFINITY) return;
    this.#timer = setTimeout(() => {
      this.isTimedOut = true;
      this.#controller.abort(new Error("timed out"));
    }, this.#ms);
  }

  clear(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
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

function toURLError(err: unknown, url: string, idle: IdleTimer): NetlabError {
  if (err instanceof NetlabError) return err;
  const host = new URL(url).host;
  if (idle.isTimedOut) {
    return new URLError("TIMEOUT", `timed out after ${formatSeconds(idle.ms)} waiting for ${url}`, {
      reason: "timed out",
      url,
      cause: err,
      hint: "the server is slow or not answering; raise --timeout",
    });
  }
  if (idle.callerSignal?.aborted) {
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
  if (code === "UND_ERR_CONNECT_TIMEOUT" || code === "ETIMEDOUT") {
    return new URLError("TIMEOUT", `timed out connecting to ${host}`, {
      reason: "timed out",
      url,
      cause: err,
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
    });
  }
  return new URLError("CONNECTION_FAILED", `request to ${url} failed: ${detail}`, {
    reason: detail,
    url,
    cause: err,
    hint: "the server closed the connection or did not speak HTTP",
  });
}

// OpenSSL errors carry a short `reason` ("wrong version number"); the message is a long dump.
function tlsReason(err: unknown): string | undefined {
  for (let e = err as { reason?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.reason === "string" && e.reason) return e.reason;
    e = e.cause as typeof e;
  }
  return undefined;
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

async function readCapped(
  stream: ReadableStream<Uint8Array> | null,
  max: number,
  idle: IdleTimer,
  url: string,
): Promise<[Uint8Array, boolean]> {
  if (!stream) return [new Uint8Array(0), false];
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for await (const chunk of stream) {
      idle.reset();
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
  } catch (err) {
    throw toURLError(err, url, idle);
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
  res: Awaited<ReturnType<typeof fetch>>,
  url: string,
  reason: string,
  redirects: string[],
  agent: Agent,
  idle: IdleTimer,
): HttpResponse {
  const length = res.headers.get("content-length");
  let isConsumed = false;
  const release = async () => {
    idle.clear();
    await agent.close().catch(() => {});
  };
  async function* stream(): AsyncGenerator<Uint8Array> {
    if (isConsumed) throw new Error("the response body was already read");
    isConsumed = true;
    if (!res.body) {
      await release();
      return;
    }
    idle.reset();
    try {
      for await (const chunk of res.body) {
        idle.reset();
        yield chunk;
      }
    } catch (err) {
      throw toURLError(err, url, idle);
    } finally {
      // Leaving the loop early cancels the stream; either way the connection is done.
      await release();
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
    if (!isConsumed) {
      await res.body?.cancel().catch(() => {});
      await release();
    }
  };
  return {
    url,
    status: res.status,
    reason,
    headers: res.headers as unknown as Headers,
    redirects,
    contentLength: length !== null && /^\d+$/.test(length) ? Number(length) : undefined,
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
