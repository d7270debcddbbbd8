import { lookup } from "node:dns/promises";
import net from "node:net";
import { AddressError, parseAddress, parseHost, parsePortText } from "@netlab/core";
import { toUdpError, UdpError } from "./errors.js";

/** A host and port, as written on a command line. */
export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` (zone ids too) or `:PORT` (host `defaultHost`), through core's
 * one address grammar; a bare `::1:5003` is refused with a hint to bracket it, and so is a Unix
 * address (lab udp speaks UDP). Throws INVALID_OPTION with what was wrong.
 * @example parseHostPort("[::1]:5003") // { host: "::1", port: 5003 }
 */
export function parseHostPort(text: string, defaultHost = "127.0.0.1"): HostPort {
  const address = asUdpError(() => parseAddress(text, { defaultHost }));
  if (address.kind !== "host") {
    throw new UdpError("INVALID_OPTION", `'${text}' is a Unix socket; lab udp sends UDP datagrams`, {
      hint: "write HOST:PORT, such as 127.0.0.1:5003 or [::1]:5003",
    });
  }
  return { host: address.host, port: address.port };
}

/** Parses a port number 1–65535 (or 0 when `allowZero`, meaning "any free port"). */
export function parsePort(text: string, { allowZero = false } = {}): number {
  return asUdpError(() => parsePortText(text, { allowZero }));
}

/** A host for `--host`: a name, IPv4, or IPv6 bare or bracketed (`[::1]` → `::1`). */
export function parseUdpHost(text: string): string {
  return asUdpError(() => parseHost(text));
}

function asUdpError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
    throw new UdpError("INVALID_OPTION", err.message, { hint: err.hint, cause: err });
  }
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
