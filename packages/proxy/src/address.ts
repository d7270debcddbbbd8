import { AddressError, errnoOf, formatHost, parseAddress as parseAnyAddress } from "@netlab/core";
import { ProxyError } from "./errors.js";

/** A host and port as written on a command line or in a toxiproxy `listen`/`upstream` field. */
export interface Address {
  host: string;
  port: number;
}

/**
 * Parses `HOST:PORT`, `[IPv6]:PORT` (zone ids too) or `:PORT` (host `defaultHost`) through core's
 * one address grammar; a bare `::1:6001` is refused with a hint to bracket it. Port 0 (any free
 * port) only when `allowZero`. Unix sockets are not proxied yet. Throws INVALID_OPTION naming `what`.
 * @example parseAddress("[::1]:6001", "listen") // { host: "::1", port: 6001 }
 */
export function parseAddress(
  text: string,
  what: string,
  { defaultHost = "127.0.0.1", allowZero = false } = {},
): Address {
  let address: ReturnType<typeof parseAnyAddress>;
  try {
    address = parseAnyAddress(String(text), { defaultHost, allowZeroPort: allowZero });
  } catch (err) {
    if (!(err instanceof AddressError)) throw err;
    throw new ProxyError("INVALID_OPTION", `${what}: ${err.message}`, { hint: err.hint, cause: err });
  }
  if (address.kind !== "host") {
    throw new ProxyError(
      "INVALID_OPTION",
      `${what} '${String(text)}' is a Unix socket; lab proxy relays TCP`,
      {
        hint: "write it as 127.0.0.1:6001, [::1]:6001 or :6001",
      },
    );
  }
  return { host: address.host, port: address.port };
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

/**
 * The hint for a listen address already taken. The shared one names `--port`, which `lab proxy`
 * (a positional listen address) and the API's proxies do not have.
 */
export function inUseHint(err: unknown): { hint?: string } {
  return errnoOf(err) === "EADDRINUSE"
    ? { hint: "stop the program using it, or listen on another port (port 0 picks a free one)" }
    : {};
}
