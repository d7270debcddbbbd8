import { lookup } from "node:dns/promises";
import net from "node:net";
import { toUdpError, UdpError } from "./errors.js";

/** A host and port, as written on a command line. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (host 127.0.0.1). Throws INVALID_OPTION with what
 * was wrong.
 * @example parseHostPort("[::1]:5003") // { host: "::1", port: 5003 }
 */
export function parseHostPort(text: string, defaultHost = "127.0.0.1"): HostPort {
  const m = /^(?:\[([^\]]*)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) {
    throw new UdpError("INVALID_OPTION", `'${text}' is not HOST:PORT`, {
      hint: "write it as 127.0.0.1:5003, [::1]:5003 or localhost:5003",
    });
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? defaultHost : host, port: parsePort(m[3]!, { allowZero: false }) };
}

/** Parses a port number 1–65535 (or 0 when `allowZero`, meaning "any free port"). */
export function parsePort(text: string, { allowZero = false } = {}): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port > 65_535 || port < (allowZero ? 0 : 1)) {
    throw new UdpError(
      "INVALID_OPTION",
      `port must be a number from ${allowZero ? 0 : 1} to 65535, got '${text}'`,
    );
  }
  return port;
}

/** An address to send to, and the socket type that reaches it. */
export interface ResolvedAddress {
  address: string;
  type: "udp4" | "udp6";
}

/**
 * An IP literal as it is; a name (`localhost`) through the system resolver, its IPv4 address
 * preferred. A name that does not resolve is a UdpError DNS_FAILURE.
 */
export async function resolveHost(host: string, port: number): Promise<ResolvedAddress> {
  const family = net.isIP(host);
  if (family !== 0) return { address: host, type: family === 6 ? "udp6" : "udp4" };
  try {
    // IPv4 first when a name has both: the lab's servers bind 127.0.0.1 by default, and a UDP
    // sender cannot fall back the way a TCP connect can (it would only hear ICMP unreachable).
    const all = await lookup(host, { all: true });
    const found = all.find((a) => a.family === 4) ?? all[0];
    if (!found) throw Object.assign(new Error(`no address for ${host}`), { code: "ENOTFOUND" });
    return { address: found.address, type: found.family === 6 ? "udp6" : "udp4" };
  } catch (err) {
    throw toUdpError(err, { action: "send", host, port });
  }
}
