import { formatHost, formatHostPort, formatSocketPath } from "./address.js";

/**
 * The one mapping from Node's errno codes (`ECONNREFUSED`) to netlab's error codes and one-line
 * messages. socketserver (TCP, Unix sockets), udp and url all read it, each adding only what is
 * theirs (udp: ICMP port unreachable, datagram too large; url: Python's reasons, curl's exits).
 */

/** The codes a socket errno maps to. Each means one thing in every package. */
export type ErrnoErrorCode =
  /** Nothing listens there (ECONNREFUSED). */
  | "CONNECTION_REFUSED"
  /** The peer reset or closed the connection under us (ECONNRESET, EPIPE). */
  | "CONNECTION_RESET"
  /** A connection attempt got no answer within its timeout (ETIMEDOUT). */
  | "CONNECT_TIMEOUT"
  /** The host or its network cannot be reached (EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN). */
  | "HOST_UNREACHABLE"
  /** The host name did not resolve (ENOTFOUND, EAI_*). */
  | "DNS_FAILURE"
  /** A Unix socket path, or the folder that should hold it, does not exist (ENOENT). */
  | "NO_SUCH_SOCKET"
  /** The port or socket path is taken (EADDRINUSE). */
  | "ADDRESS_IN_USE"
  /** The system refused (a port below 1024, an unwritable path, a broadcast address): EACCES, EPERM. */
  | "PERMISSION_DENIED"
  /** The address to bind is not one of this machine's (EADDRNOTAVAIL). */
  | "ADDRESS_NOT_AVAILABLE"
  /** Cancelled through an AbortSignal. */
  | "ABORTED"
  /** Any other errno; the message carries Node's own text. */
  | "UNKNOWN";

const ERRNO_CODES: Readonly<Record<string, ErrnoErrorCode>> = {
  ECONNREFUSED: "CONNECTION_REFUSED",
  ECONNRESET: "CONNECTION_RESET",
  EPIPE: "CONNECTION_RESET",
  ETIMEDOUT: "CONNECT_TIMEOUT",
  EHOSTUNREACH: "HOST_UNREACHABLE",
  ENETUNREACH: "HOST_UNREACHABLE",
  EHOSTDOWN: "HOST_UNREACHABLE",
  ENETDOWN: "HOST_UNREACHABLE",
  ENOTFOUND: "DNS_FAILURE",
  EAI_AGAIN: "DNS_FAILURE",
  EAI_NONAME: "DNS_FAILURE",
  EAI_FAIL: "DNS_FAILURE",
  EAI_NODATA: "DNS_FAILURE",
  ENOENT: "NO_SUCH_SOCKET",
  EADDRINUSE: "ADDRESS_IN_USE",
  EACCES: "PERMISSION_DENIED",
  EPERM: "PERMISSION_DENIED",
  EADDRNOTAVAIL: "ADDRESS_NOT_AVAILABLE",
  ABORT_ERR: "ABORTED",
};

/**
 * Node's errno code carried by `err`, looking through `cause` and the first of `errors` (fetch
 * and happy-eyeballs wrap the socket's error); an AbortError with nothing deeper is `ABORT_ERR`.
 * @example errnoOf(new TypeError("fetch failed", { cause: econnrefused })) // "ECONNREFUSED"
 */
export function errnoOf(err: unknown): string | undefined {
  let aborted: string | undefined;
  let e = err as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown[] } | undefined;
  for (let depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    // An AbortError may wrap the failure that caused it: the deeper code says more.
    if (e.code === "ABORT_ERR" || e.name === "AbortError") aborted = "ABORT_ERR";
    else if (typeof e.code === "string") return e.code;
    if (Array.isArray(e.errors) && e.errors.length > 0) return errnoOf(e.errors[0]) ?? aborted;
    e = e.cause as typeof e;
  }
  return aborted;
}

/** The netlab code for a Node errno code; UNKNOWN for one not in the table. */
export function errnoCode(errno: string | undefined): ErrnoErrorCode {
  return (errno !== undefined && ERRNO_CODES[errno]) || "UNKNOWN";
}

/** Where a socket operation was aimed, for the message. */
export interface ErrnoContext {
  action: "connect" | "listen" | "send";
  host?: string;
  port?: number;
  /** A Unix socket path, used instead of host:port. */
  path?: string;
  /** Named in the message before the address, e.g. "udp": `cannot send to udp 127.0.0.1:5003`. */
  transport?: string;
  /** Replaces the default hint. */
  hint?: string;
}

/** What a socket failure says: a netlab code, one line for the user, and what to do. */
export interface ErrnoDescription {
  code: ErrnoErrorCode;
  message: string;
  hint: string | undefined;
}

/**
 * Says a socket failure in one line.
 * @example describeErrno(econnrefused, { action: "connect", host: "127.0.0.1", port: 5001 })
 *   // { code: "CONNECTION_REFUSED", message: "cannot connect to 127.0.0.1:5001: connection refused", hint: "…" }
 */
export function describeErrno(err: unknown, context: ErrnoContext): ErrnoDescription {
  const errno = errnoOf(err);
  const code = errnoCode(errno);
  const host = context.host ?? "127.0.0.1";
  const port = context.port ?? 0;
  const transport = context.transport ? `${context.transport} ` : "";
  const where = context.path === undefined ? formatHostPort(host, port) : formatSocketPath(context.path);
  const doing =
    context.action === "connect"
      ? `cannot connect to ${transport}${where}`
      : context.action === "send"
        ? `cannot send to ${transport}${where}`
        : `cannot listen on ${transport}${where}`;
  const [message, hint] = ((): [string, string | undefined] => {
    switch (code) {
      case "CONNECTION_REFUSED":
        return [
          `${doing}: connection refused`,
          context.path === undefined
            ? "check that the server is running and the host and port are right"
            : "check that the server is running and listening on that socket",
        ];
      case "CONNECTION_RESET":
        return [
          `connection to ${where} was reset by the peer`,
          "the other side closed the connection abruptly; try again",
        ];
      case "CONNECT_TIMEOUT":
        return [`${doing}: timed out`, "check the host and port, or raise the timeout"];
      case "HOST_UNREACHABLE":
        return [`${doing}: host unreachable`, "check the address and your network"];
      case "DNS_FAILURE":
        return [
          `cannot resolve host ${context.host ?? "?"}`,
          "check the host name, or use an IP address such as 127.0.0.1",
        ];
      case "NO_SUCH_SOCKET":
        return [`${doing}: no such socket`, "check the path, and that the server is running"];
      case "ADDRESS_IN_USE":
        return context.path
          ? [`socket ${where} is already in use`, "stop the other server or choose another path"]
          : [
              `${transport}port ${port} on ${formatHost(host)} is already in use`,
              "stop the other server or choose another --port",
            ];
      case "PERMISSION_DENIED":
        return [
          `${doing}: permission denied`,
          context.path
            ? "choose a path you can write to"
            : "use a port above 1023, or run with the needed rights",
        ];
      case "ADDRESS_NOT_AVAILABLE":
        return [
          `${doing}: address not available on this machine`,
          "use 127.0.0.1, ::1, or an address this machine has",
        ];
      case "ABORTED":
        return [`${context.action} to ${where} was aborted`, undefined];
      default:
        return [`${doing}: ${(err as Error | undefined)?.message ?? String(err)}`, undefined];
    }
  })();
  return { code, message, hint: context.hint ?? hint };
}
