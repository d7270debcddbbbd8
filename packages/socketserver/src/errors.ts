import { NetlabError } from "@netlab/protocol";

/** Codes a network operation can fail with. Callers branch on these, never on the message. */
export type NetworkErrorCode =
  | "CONNECTION_REFUSED"
  | "CONNECTION_RESET"
  | "TIMEOUT"
  | "HOST_UNREACHABLE"
  | "NOT_FOUND"
  | "ADDRESS_IN_USE"
  | "PERMISSION_DENIED"
  | "ADDRESS_NOT_AVAILABLE"
  | "ABORTED"
  | "SERVER_FULL"
  | "SLOW_CONSUMER"
  | "UNSUPPORTED"
  | "INVALID_OPTION"
  | "UNKNOWN";

/**
 * A socket-level failure said in one line (`cannot connect to 127.0.0.1:5001: connection refused`),
 * with a hint and the Node error as `cause`; `errno` keeps Node's code (`ECONNREFUSED`).
 */
export class NetworkError extends NetlabError<NetworkErrorCode> {
  get errno(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** Where an operation was aimed, for the message. */
export interface NetworkErrorContext {
  action: "connect" | "listen" | "send";
  host?: string;
  port?: number;
  /** A Unix socket path, used instead of host:port. */
  path?: string;
  /** Replaces the default hint. */
  hint?: string;
}

/**
 * Maps a Node errno error (or an AbortError) to a NetworkError with a one-line message.
 * A NetworkError passes through unchanged.
 * @example toNetworkError(err, { action: "connect", host: "127.0.0.1", port: 5001 }).message
 *   // "cannot connect to 127.0.0.1:5001: connection refused"
 */
export function toNetworkError(err: unknown, context: NetworkErrorContext): NetworkError {
  if (err instanceof NetworkError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const errno = e?.code ?? (e?.name === "AbortError" ? "ABORT_ERR" : undefined);
  const where = context.path ?? `${formatHost(context.host ?? "127.0.0.1")}:${context.port ?? 0}`;
  const make = (code: NetworkErrorCode, message: string, hint: string | undefined) =>
    new NetworkError(code, message, { hint: context.hint ?? hint, cause: err });
  const doing =
    context.action === "connect"
      ? `cannot connect to ${where}`
      : context.action === "send"
        ? `cannot send to ${where}`
        : `cannot listen on ${where}`;

  switch (errno) {
    case "ECONNREFUSED":
      return make(
        "CONNECTION_REFUSED",
        `${doing}: connection refused`,
        "check that the server is running and the host and port are right",
      );
    case "ECONNRESET":
    case "EPIPE":
      return make(
        "CONNECTION_RESET",
        `connection to ${where} was reset by the peer`,
        "the other side closed the connection abruptly; try again",
      );
    case "ETIMEDOUT":
      return make("TIMEOUT", `${doing}: timed out`, "check the host and port, or raise the timeout");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
      return make("HOST_UNREACHABLE", `${doing}: host unreachable`, "check the address and your network");
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
      return make(
        "NOT_FOUND",
        `cannot resolve host ${context.host ?? "?"}`,
        "check the host name, or use an IP address such as 127.0.0.1",
      );
    case "ENOENT":
      return make("NOT_FOUND", `${doing}: no such socket`, "check the path, and that the server is running");
    case "EADDRINUSE":
      return make(
        "ADDRESS_IN_USE",
        context.path
          ? `socket path ${context.path} is already in use`
          : `port ${context.port ?? 0} on ${context.host ?? "127.0.0.1"} is already in use`,
        context.path
          ? "stop the other server or choose another path"
          : "stop the other server or choose another --port",
      );
    case "EACCES":
    case "EPERM":
      return make(
        "PERMISSION_DENIED",
        `${doing}: permission denied`,
        context.path
          ? "choose a path you can write to"
          : "use a port above 1023, or run with the needed rights",
      );
    case "EADDRNOTAVAIL":
      return make(
        "ADDRESS_NOT_AVAILABLE",
        `${doing}: address not available on this machine`,
        "use 127.0.0.1, ::1, or an address this machine has",
      );
    case "ABORT_ERR":
      return make("ABORTED", `${context.action} to ${where} was aborted`, undefined);
    default:
      return make("UNKNOWN", `${doing}: ${e?.message ?? String(err)}`, undefined);
  }
}

/** `::1` → `[::1]` so that `host:port` reads unambiguously. */
export function formatHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
