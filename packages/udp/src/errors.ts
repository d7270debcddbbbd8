import { NetlabError } from "@netlab/core";

/** Codes the UDP package fails with. Callers branch on these, never on the message. */
export type UdpErrorCode =
  /** ICMP port unreachable came back: nothing listens on that UDP port. */
  | "PORT_UNREACHABLE"
  /** The host or its network cannot be reached (EHOSTUNREACH, ENETUNREACH). */
  | "HOST_UNREACHABLE"
  /** The host name did not resolve. */
  | "NOT_FOUND"
  /** A datagram over the largest UDP payload (EMSGSIZE). */
  | "MESSAGE_TOO_LARGE"
  /** The local port is taken. */
  | "ADDRESS_IN_USE"
  /** Binding or sending was refused by the system (a low port, a broadcast address). */
  | "PERMISSION_DENIED"
  /** The address to bind is not one of this machine's. */
  | "ADDRESS_NOT_AVAILABLE"
  /** An option is out of range (a rate above 1, a size over 65,507, a negative interval). */
  | "INVALID_OPTION"
  /** No reply within the time asked for. */
  | "TIMEOUT"
  | "UNKNOWN";

/**
 * A UDP failure said in one line, with a hint and the Node error as `cause`.
 * @example throw new UdpError("PORT_UNREACHABLE", "no UDP service at 127.0.0.1:5003 (ICMP port unreachable)")
 */
export class UdpError extends NetlabError<UdpErrorCode> {
  /** Node's errno code (`ECONNREFUSED`), when there was one. */
  get errno(): string | undefined {
    return (this.cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** The largest UDP payload over IPv4: 65,535 − 20 (IP header) − 8 (UDP header). */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

/** `::1` → `[::1]`, so that `host:port` reads unambiguously. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${port}`;
}

/** What was being done when a socket failed, for the message. */
export interface UdpErrorContext {
  action: "send" | "receive" | "bind";
  host: string;
  port: number;
  /** Replaces the default hint. */
  hint?: string;
}

/**
 * Maps a Node errno error from a UDP socket to a {@link UdpError} with a one-line message.
 * A UdpError passes through unchanged.
 * @example toUdpError(err, { action: "send", host: "127.0.0.1", port: 5003 }).message
 *   // "no UDP service at 127.0.0.1:5003 (ICMP port unreachable): is 'lab udp echo' running?"
 */
export function toUdpError(err: unknown, context: UdpErrorContext): UdpError {
  if (err instanceof UdpError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const where = formatHostPort(context.host, context.port);
  const make = (code: UdpErrorCode, message: string, hint: string | undefined) =>
    new UdpError(code, message, { hint: context.hint ?? hint, cause: err });
  const doing = context.action === "bind" ? `cannot listen on udp ${where}` : `cannot send to udp ${where}`;
  switch (e?.code) {
    case "ECONNREFUSED":
      return make(
        "PORT_UNREACHABLE",
        `no UDP service at ${where} (ICMP port unreachable): is 'lab udp echo' running?`,
        `start one with 'lab udp echo --port ${context.port}', or check the port`,
      );
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
      return make("HOST_UNREACHABLE", `${doing}: host unreachable`, "check the address and your network");
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NONAME":
    case "EAI_FAIL":
      return make(
        "NOT_FOUND",
        `cannot resolve host ${context.host}`,
        "check the host name, or use an IP address such as 127.0.0.1",
      );
    case "EMSGSIZE":
      return make(
        "MESSAGE_TOO_LARGE",
        `${doing}: datagram too large (the most UDP carries is ${MAX_UDP_PAYLOAD_BYTES} bytes)`,
        "send a smaller datagram",
      );
    case "EADDRINUSE":
      return make(
        "ADDRESS_IN_USE",
        `udp port ${context.port} on ${context.host} is already in use`,
        "stop the other server or choose another --port",
      );
    case "EACCES":
    case "EPERM":
      return make(
        "PERMISSION_DENIED",
        `${doing}: permission denied`,
        context.action === "bind"
          ? "use a port above 1023"
          : "check the address (broadcast needs permission)",
      );
    case "EADDRNOTAVAIL":
      return make(
        "ADDRESS_NOT_AVAILABLE",
        `${doing}: address not available on this machine`,
        "use 127.0.0.1, ::1, or an address this machine has",
      );
    default:
      return make("UNKNOWN", `${doing}: ${e?.message ?? String(err)}`, undefined);
  }
}

/** Throws INVALID_OPTION unless `value` is a finite number in [min, max]. */
export function requireRange(name: string, value: number, min: number, max: number): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
    throw new UdpError("INVALID_OPTION", `${name} must be between ${min} and ${max}, got ${String(value)}`);
  }
}

/** Throws INVALID_OPTION unless `value` is an integer in [min, max]. */
export function requireInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UdpError(
      "INVALID_OPTION",
      `${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
}
