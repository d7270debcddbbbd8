import { NetlabError, type NetlabErrorOptions } from "@netlab/core";

/**
 * Codes a URL function can fail with. The `message` of each is Python's `ValueError` text word for
 * word (e.g. `Invalid IPv6 URL`, `Port out of range 0-65535`), so the two can be compared.
 */
export type UrlErrorCode =
  | "INVALID_IPV6_URL"
  | "INVALID_HOST"
  | "INVALID_NETLOC"
  | "INVALID_PORT"
  | "PORT_OUT_OF_RANGE"
  | "BAD_QUERY_FIELD"
  | "TOO_MANY_FIELDS"
  | "INVALID_SEPARATOR"
  | "ENCODE_ERROR";

/**
 * A URL that cannot be parsed, or a part of it that cannot be read (Python raises `ValueError`).
 * @example try { urlsplit("http://[::1/") } catch (e) { if (e instanceof UrlError) e.code; } // "INVALID_IPV6_URL"
 */
export class UrlError extends NetlabError<UrlErrorCode> {
  constructor(code: UrlErrorCode, message: string, options: NetlabErrorOptions = {}) {
    super(code, message, options);
  }
}
