import {
  describeErrno,
  type ErrnoErrorCode,
  errnoOf,
  formatHost,
  NetlabError,
  optionChecks,
} from "@netlab/core";

/**
 * Codes the UDP package fails with. Callers branch on these, never on the message. Socket errnos
 * map through `@netlab/core`'s one table (HOST_UNREACHABLE, DNS_FAILURE, ADDRESS_IN_USE,
 * PERMISSION_DENIED, ADDRESS_NOT_AVAILABLE, UNKNOWN…), except what only UDP says:
 */
export type UdpErrorCode =
  | ErrnoErrorCode
  /** ICMP port unreachable came back (ECONNREFUSED on a UDP socket): nothing listens on that port. */
  | "PORT_UNREACHABLE"
  /** A datagram over the largest UDP payload (EMSGSIZE). */
  | "MESSAGE_TOO_LARGE"
  /** An option is out of range (a rate above 1, a size over 65,507, a negative interval). */
  | "INVALID_OPTION"
  /** `sendDatagram` with `waitMs` got no reply in time. */
  | "NO_REPLY";

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

/** The option validators, throwing INVALID_OPTION as a UdpError. */
export const { requireInt, requireRange } = optionChecks(UdpError);

/** The largest UDP payload over IPv4: 65,535 − 20 (IP header) − 8 (UDP header). */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

/** `::1` → `[::1]`, so that `host:port` reads unambiguously. */
export function formatHostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/** What was being done when a socket failed, for the message. */
export interface UdpErrorContext {
  action: "send" | "bind";
  host: string;
  port: number;
  /** Replaces the default hint. */
  hint?: string;
}

/**
 * Maps a Node errno error from a UDP socket to a {@link UdpError} with a one-line message: core's
 * errno mapping, plus ICMP port unreachable and datagram too large. A UdpError passes through.
 * @example toUdpError(err, { action: "send", host: "127.0.0.1", port: 5003 }).message
 *   // "no UDP service at 127.0.0.1:5003 (ICMP port unreachable): is 'lab udp echo' running?"
 */
export function toUdpError(err: unknown, context: UdpErrorContext): UdpError {
  if (err instanceof UdpError) return err;
  const where = formatHostPort(context.host, context.port);
  const make = (code: UdpErrorCode, message: string, hint: string | undefined) =>
    new UdpError(code, message, { hint: context.hint ?? hint, cause: err });
  const action = context.action === "bind" ? "listen" : "send";
  switch (errnoOf(err)) {
    case "ECONNREFUSED":
      return make(
        "PORT_UNREACHABLE",
        `no UDP service at ${where} (ICMP port unreachable): is 'lab udp echo' running?`,
        `start one with 'lab udp echo${echoHost(context.host)} --port ${context.port}', or check the port`,
      );
    case "EMSGSIZE":
      return make(
        "MESSAGE_TOO_LARGE",
        `cannot send to udp ${where}: datagram too large (the most UDP carries is ${MAX_UDP_PAYLOAD_BYTES} bytes)`,
        "send a smaller datagram",
      );
    case "EACCES":
    case "EPERM":
      return make(
        "PERMISSION_DENIED",
        `cannot ${action === "listen" ? "listen on" : "send to"} udp ${where}: permission denied`,
        action === "listen" ? "use a port above 1023" : "check the address (broadcast needs permission)",
      );
    default: {
      const { code, message, hint } = describeErrno(err, { ...context, action, transport: "udp" });
      return make(code, message, hint);
    }
  }
}

/** ` --host HOST` when `lab udp echo` would not listen there by default (on 127.0.0.1). */
function echoHost(host: string): string {
  return host === "127.0.0.1" || host === "localhost" ? "" : ` --host ${host.replace(/^\[(.*)\]$/, "$1")}`;
}
