// urlopen's errors: URLError and HTTPError, and the mapping from Node's errors (errno codes, TLS
// and zlib failures, our timers) to a URLError code with a reason and a hint.
import {
  describeBytes,
  type ErrnoErrorCode,
  errnoCode,
  errnoOf,
  formatRate,
  NetlabError,
  type NetlabErrorOptions,
  sniffProtocol,
} from "@netlab/core";
import type { Timers } from "./timers.js";

/**
 * Why a request failed before an HTTP answer (or, for HTTP_ERROR, with one). The CLI turns each
 * into curl's exit code: DNS_FAILURE 6, CONNECTION_REFUSED / CONNECTION_FAILED 7, CONNECT_TIMEOUT / REQUEST_TIMEOUT 28,
 * HTTP_ERROR 22, TLS_FAILURE 35, CERT_UNTRUSTED 60, TOO_MANY_REDIRECTS 47, BAD_CONTENT_ENCODING 61, BODY_TOO_LARGE
 * and DECOMPRESSION_BOMB 63.
 */
export type URLErrorCode =
  | "INVALID_URL"
  | "DNS_FAILURE"
  | "CONNECTION_REFUSED"
  | "CONNECTION_FAILED"
  /** The connection attempt got no answer (ETIMEDOUT): socket errnos map through @netlab/core. */
  | "CONNECT_TIMEOUT"
  /** No byte for `timeoutMs` while waiting, or the whole request past `totalTimeoutMs`. */
  | "REQUEST_TIMEOUT"
  | "TLS_FAILURE"
  /** The server's certificate is not trusted or not for this host (curl's CURLE_PEER_FAILED_VERIFICATION, exit 60). */
  | "CERT_UNTRUSTED"
  | "TOO_MANY_REDIRECTS"
  | "ABORTED"
  | "BODY_TOO_LARGE"
  | "DECOMPRESSION_BOMB"
  | "BAD_CONTENT_ENCODING"
  /** The server's answer is not HTTP (curl's CURLE_WEIRD_SERVER_REPLY, exit 8): a chat, TLS, SSH … */
  | "WEIRD_SERVER_REPLY"
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
 * @example try { await urlopen(url) } catch (e) { if (e instanceof URLError && e.code === "REQUEST_TIMEOUT") retry(); }
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
  /** The headers as received, in the server's case and order: [name, value, …] (empty if not given). */
  readonly rawHeaders: readonly string[];

  constructor(
    url: string,
    status: number,
    reason: string,
    headers: Headers,
    body: Uint8Array,
    truncated: boolean,
    rawHeaders: readonly string[] = [],
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
    this.rawHeaders = rawHeaders;
  }

  /** The error body as UTF-8 text (invalid bytes become U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.body);
  }
}

export function tooManyRedirects(chain: string[], next: string, max: number): URLError {
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

export function bodyTooLarge(url: string, max: number, what: string): URLError {
  return new URLError("BODY_TOO_LARGE", `the body of ${url} ${what}, more than the limit of ${max} bytes`, {
    reason: "Maximum file size exceeded",
    url,
    hint: "raise --max-filesize if you expect a body this large",
  });
}

/** Socket failures that are curl's "cannot connect" (exit 7) but not a refusal. */
const CONNECT_FAILURES: ReadonlySet<ErrnoErrorCode> = new Set([
  "CONNECTION_RESET",
  "HOST_UNREACHABLE",
  "ADDRESS_NOT_AVAILABLE",
]);

/** Any failure of a request as a URLError (a NetlabError is kept as it is); `timers` says if one expired. */
export function toURLError(err: unknown, url: string, timers: Timers): NetlabError {
  if (err instanceof NetlabError) return err;
  const host = new URL(url).host;
  if (timers.expired === "total") {
    return new URLError(
      "REQUEST_TIMEOUT",
      `operation timed out after ${formatSeconds(timers.expiredMs)} (${url})`,
      {
        reason: "timed out",
        url,
        cause: err,
        hint: "the whole request took longer than --max-time; raise it",
      },
    );
  }
  if (timers.expired === "slow") {
    const slow = timers.slow ?? { bytes: 0, ms: timers.expiredMs };
    return new URLError(
      "REQUEST_TIMEOUT",
      `the body of ${url} came at ${slow.bytes} bytes in ${formatSeconds(slow.ms)}, under the speed limit of ${formatRate(timers.lowSpeed.minBytesPerSecond)} over ${formatSeconds(timers.lowSpeed.lowSpeedTimeMs)}`,
      {
        reason: "timed out",
        url,
        cause: err,
        hint: "the server may be trickling on purpose; on a link this slow lower --speed-limit or raise --speed-time (--speed-limit 0 turns it off)",
      },
    );
  }
  if (timers.expired === "idle") {
    return new URLError(
      "REQUEST_TIMEOUT",
      `timed out after ${formatSeconds(timers.expiredMs)} waiting for ${url}`,
      {
        reason: "timed out",
        url,
        cause: err,
        hint: "the server is slow or not answering; raise --timeout",
      },
    );
  }
  if (timers.callerSignal?.aborted) {
    return new URLError("ABORTED", `request to ${url} was aborted`, { reason: "aborted", url, cause: err });
  }
  const errno = errnoOf(err);
  const code = errno === undefined || errno === "ABORT_ERR" ? "" : errno;
  const kind = errnoCode(code);
  const detail =
    (err as { cause?: { message?: string } })?.cause?.message ?? (err as Error)?.message ?? String(err);
  if (kind === "DNS_FAILURE") {
    return new URLError("DNS_FAILURE", `cannot resolve host ${new URL(url).hostname} (${code})`, {
      reason: "Name or service not known",
      url,
      cause: err,
      hint: "check the host name, or your network and DNS settings",
    });
  }
  if (kind === "CONNECTION_REFUSED") {
    return new URLError("CONNECTION_REFUSED", `cannot connect to ${host}: connection refused`, {
      reason: "Connection refused",
      url,
      cause: err,
      hint: "is a server listening on that port?",
    });
  }
  if (kind === "CONNECT_TIMEOUT") {
    return new URLError("CONNECT_TIMEOUT", `timed out connecting to ${host}`, {
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
  if (/^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_CERT_ALTNAME)/.test(code)) {
    return new URLError("CERT_UNTRUSTED", `the certificate of ${host} is not trusted: ${detail} (${code})`, {
      reason: detail,
      url,
      cause: err,
      hint:
        code === "ERR_TLS_CERT_ALTNAME_INVALID"
          ? "the certificate is for another name; use the name it was made for"
          : "give the CA that signed it with --cacert FILE, or -k to skip the check (not authenticated)",
    });
  }
  if (/^(ERR_TLS|ERR_SSL|ERR_OSSL)/.test(code) || /SSL|TLS|certificate/i.test(detail)) {
    const why = tlsReason(err) ?? detail;
    return new URLError("TLS_FAILURE", `TLS failed with ${host}: ${why}`, {
      reason: why,
      url,
      cause: err,
      hint: "the server's certificate is not trusted, or it does not speak TLS on that port",
    });
  }
  // llhttp could not parse the answer (HPE_INVALID_CONSTANT …): the server spoke something else.
  // Node keeps the bytes it choked on in `rawPacket`.
  if (code.startsWith("HPE_")) {
    const e = err as { rawPacket?: Uint8Array; cause?: { rawPacket?: Uint8Array } };
    const raw = e.rawPacket ?? e.cause?.rawPacket;
    const sniffed = raw ? sniffProtocol(raw) : undefined;
    const said = raw && raw.length > 0 ? describeBytes(raw) : "nothing it could parse";
    if (sniffed?.name === "http") {
      // It is HTTP, broken (a control character in a header, a bad length): say what llhttp refused.
      const why = (err as { reason?: unknown }).reason;
      return new URLError(
        "WEIRD_SERVER_REPLY",
        `${host} sent a malformed HTTP answer${typeof why === "string" ? `: ${why}` : ""} (it began ${said})`,
        {
          reason: "Weird server reply",
          url,
          cause: err,
          hint: "the server breaks HTTP's syntax; fix the server",
        },
      );
    }
    return new URLError(
      "WEIRD_SERVER_REPLY",
      `${host} answered with something that is not HTTP${sniffed ? `: ${sniffed.description}` : ""} (it sent ${said})`,
      {
        reason: "Weird server reply",
        url,
        cause: err,
        hint: sniffed?.name === "tls" ? "use https://" : "check the port: is an HTTP server listening there?",
      },
    );
  }
  if (CONNECT_FAILURES.has(kind)) {
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
