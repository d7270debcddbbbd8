import {
  describeErrno,
  type ErrnoContext,
  type ErrnoErrorCode,
  NetlabError,
  optionChecks,
} from "@netlab/core";

/**
 * Codes a network operation can fail with. Callers branch on these, never on the message. The
 * errno codes (CONNECTION_REFUSED … UNKNOWN) come from `@netlab/core`'s one errno table.
 */
export type NetworkErrorCode =
  | ErrnoErrorCode
  /** A connection closed by the server: nothing arrived for idleTimeoutMs. */
  | "IDLE_TIMEOUT"
  /** A connection closed by the server: a frame was still partial after frameTimeoutMs (slowloris). */
  | "FRAME_TIMEOUT"
  /** A peer that did not read its output within the server's limits was dropped. */
  | "SLOW_CONSUMER"
  /** Not possible here: Unix datagrams without node-unix-socket, or under ForkingMixIn. */
  | "UNSUPPORTED"
  /** A bad option value. */
  | "INVALID_OPTION"
  /** listen() on a server that was shut down. */
  | "SERVER_CLOSED";

/**
 * A socket-level failure said in one line (`cannot connect to 127.0.0.1:5001: connection refused`),
 * with a hint and the Node error as `cause`; `errno` keeps Node's code (`ECONNREFUSED`).
 */
export class NetworkError extends NetlabError<NetworkErrorCode> {
  get errno(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** The option validators, throwing INVALID_OPTION as a NetworkError. */
export const { requireInt, requireMs, requirePositiveInt } = optionChecks(NetworkError);

/** Where an operation was aimed, for the message. */
export type NetworkErrorContext = ErrnoContext;

/**
 * Maps a Node errno error (or an AbortError) to a NetworkError with a one-line message, through
 * `@netlab/core`'s errno table. A NetworkError passes through unchanged.
 * @example toNetworkError(err, { action: "connect", host: "127.0.0.1", port: 5001 }).message
 *   // "cannot connect to 127.0.0.1:5001: connection refused"
 */
export function toNetworkError(err: unknown, context: NetworkErrorContext): NetworkError {
  if (err instanceof NetworkError) return err;
  const { code, message, hint } = describeErrno(err, context);
  return new NetworkError(code, message, { hint, cause: err });
}
