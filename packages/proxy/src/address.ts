import { formatHost } from "@netlab/core";
import { ProxyError } from "./errors.js";

/** A host and port as written on a command line or in a toxiproxy `listen`/`upstream` field. */
export interface Address {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (host `defaultHost`). Port 0 (any free port) only
 * when `allowZero`. Throws INVALID_OPTION naming `what`.
 * @example parseAddress("[::1]:6001", "listen") // { host: "::1", port: 6001 }
 */
export function parseAddress(
  text: string,
  what: string,
  { defaultHost = "127.0.0.1", allowZero = false } = {},
): Address {
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(String(text));
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65_535 || port < (allowZero ? 0 : 1)) {
    throw new ProxyError("INVALID_OPTION", `${what} '${String(text)}' is not HOST:PORT`, {
      hint: `write it as 127.0.0.1:6001, [::1]:6001 or :6001 (port ${allowZero ? 0 : 1}–65535)`,
    });
  }
  const host = m[1] ?? m[2] ?? "";
  return { host: host === "" ? defaultHost : host, port };
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddress(a: Address): string {
  return `${formatHost(a.host)}:${a.port}`;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""]);

/** Whether connecting to `upstream` could reach `listen` itself: the proxy would dial itself forever. */
export function isLoop(listen: Address, upstream: Address): boolean {
  if (listen.port !== upstream.port || listen.port === 0) return false;
  return listen.host === upstream.host || (LOOPBACK.has(listen.host) && LOOPBACK.has(upstream.host));
}
