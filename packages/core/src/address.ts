/**
 * The one address grammar of every netlab command, and the one way an address is shown:
 *
 * - `HOST:PORT`: `127.0.0.1:5001`, `localhost:5001`, `:5001` (the default host)
 * - `[IPv6]:PORT`: `[::1]:5001`, `[fe80::1%eth0]:80` (zone ids too)
 * - `unix:/path`: a Unix socket in the file system
 * - `@name` (or `unix:@name`): a Linux abstract socket, no file at all
 *
 * An unbracketed IPv6 address with a port (`::1:5001`) is refused: it is itself a valid IPv6
 * address, so nobody could tell which part is the port.
 */
import { isIP, isIPv6 } from "node:net";
import { NetlabError } from "./errors.js";

/** The codes an address can be refused with. */
export type AddressErrorCode =
  /** The text is not an address in the grammar (unbracketed IPv6, bad host, missing port). */
  | "INVALID_ADDRESS"
  /** A port outside 1–65535 (0 only where it means "any free port"). */
  | "INVALID_PORT"
  /** A Unix socket path longer than the kernel keeps (MAX_UNIX_PATH_BYTES). */
  | "PATH_TOO_LONG";

/** An address that does not parse; the message quotes it, the hint shows the right spelling. */
export class AddressError extends NetlabError<AddressErrorCode> {}

/**
 * Longest Unix socket path, in bytes: `sun_path` holds 108 with the terminating NUL. Node 20 cuts
 * a longer path silently and binds somewhere else, so a longer one is refused before anything is made.
 */
export const MAX_UNIX_PATH_BYTES = 107;

/** A host (a name or an IP literal, never bracketed; zone id kept) and a port. */
export interface HostAddress {
  kind: "host";
  host: string;
  port: number;
}

/** A Unix socket in the file system. */
export interface UnixAddress {
  kind: "unix";
  path: string;
}

/** A Linux abstract socket: `name` without the leading NUL (shown as `@name`). */
export interface AbstractAddress {
  kind: "abstract";
  name: string;
}

/** Any address a netlab command takes. */
export type Address = HostAddress | UnixAddress | AbstractAddress;

/** How {@link parseAddress} fills in what the text leaves out. */
export interface ParseAddressOptions {
  /** The host of `:PORT`. Default "127.0.0.1". */
  defaultHost?: string;
  /** The port of a bare `HOST` or `[IPv6]`; without it a port is required. */
  defaultPort?: number;
  /** Accept port 0, "any free port" (servers). Default false. */
  allowZeroPort?: boolean;
}

/**
 * Parses one address in the grammar above; throws AddressError with a hint otherwise.
 * @example parseAddress("[::1]:5001") // { kind: "host", host: "::1", port: 5001 }
 * @example parseAddress("unix:/tmp/chat.sock") // { kind: "unix", path: "/tmp/chat.sock" }
 * @example parseAddress("::1:5001") // throws INVALID_ADDRESS, hint "write it as [::1]:5001"
 */
export function parseAddress(text: string, options: ParseAddressOptions = {}): Address {
  const { defaultHost = "127.0.0.1", defaultPort, allowZeroPort = false } = options;
  if (text.startsWith("unix:")) return parseSocketPath(text.slice(5), text);
  if (text.startsWith("@")) return abstractAddress(text.slice(1), text);
  const port = (portText: string | undefined): number => {
    if (portText !== undefined) return parsePortText(portText, { allowZero: allowZeroPort });
    if (defaultPort !== undefined) return defaultPort;
    throw new AddressError("INVALID_ADDRESS", `${quote(text)} has no port`, {
      hint: "write HOST:PORT, such as 127.0.0.1:5001 or [::1]:5001",
    });
  };
  if (text.startsWith("[")) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (!m || !isIPv6(m[1]!)) {
      throw new AddressError("INVALID_ADDRESS", `${quote(text)} is not [IPv6]:PORT`, {
        hint: "brackets hold an IPv6 address: [::1]:5001, [fe80::1%eth0]:80",
      });
    }
    return { kind: "host", host: m[1]!, port: port(m[2]) };
  }
  const colons = text.split(":").length - 1;
  if (colons >= 2) {
    const last = text.lastIndexOf(":");
    const hint = isIPv6(text.slice(0, last))
      ? `write it as [${text.slice(0, last)}]:${text.slice(last + 1)}`
      : isIPv6(text)
        ? `write [${text}]:PORT, or [${text}] alone where a default port applies`
        : "put an IPv6 address in brackets: [::1]:5001";
    throw new AddressError(
      "INVALID_ADDRESS",
      `${quote(text)} is ambiguous: an IPv6 address with a port needs brackets`,
      { hint },
    );
  }
  if (colons === 0 && (text.startsWith("/") || text.startsWith("."))) {
    throw new AddressError("INVALID_ADDRESS", `${quote(text)} looks like a path, not HOST:PORT`, {
      hint: `for a Unix socket write unix:${text}`,
    });
  }
  const [hostText = "", portText] = text.split(":");
  const host =
    colons === 1 && hostText === ""
      ? defaultHost
      : checkHost(
          hostText,
          text,
          `write :${hostText} (the default host) or HOST:${hostText}, such as 127.0.0.1:${hostText}`,
        );
  return { kind: "host", host, port: port(portText) };
}

/**
 * Parses what `--host` takes: a name, an IPv4 address, an IPv6 address bare or bracketed (`::1`,
 * `[::1]`, `fe80::1%eth0`). Returns it without brackets.
 * @example parseHost("[::1]") // "::1"
 */
export function parseHost(text: string): string {
  if (text.startsWith("[") && text.endsWith("]") && isIPv6(text.slice(1, -1))) return text.slice(1, -1);
  if (isIPv6(text)) return text;
  const withPort = /^\[(.*)\]:(\d+)$/.exec(text) ?? /^([^:]*):(\d+)$/.exec(text);
  if (withPort) {
    // Not "give HOST:PORT as an argument": some commands (lab transfer, lab files) take none.
    throw new AddressError("INVALID_ADDRESS", `--host takes a host without a port, got ${quote(text)}`, {
      hint: `write it as --host ${withPort[1]} --port ${withPort[2]}`,
    });
  }
  return checkHost(text, text, `a port goes in --port: --port ${text}`);
}

/**
 * Parses a port number: 1–65535, or 0 when `allowZero` (a server's "any free port").
 * @example parsePortText("5001") // 5001
 */
export function parsePortText(text: string, { allowZero = false } = {}): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  const min = allowZero ? 0 : 1;
  if (!(port >= min && port <= 65_535)) {
    throw new AddressError("INVALID_PORT", `port must be a number from ${min} to 65535, got ${quote(text)}`, {
      hint: allowZero ? "0 picks any free port" : "the server's port, such as 5001",
    });
  }
  return port;
}

/**
 * Checks a Unix socket path (in the file system, or abstract with `@`) and returns its address.
 * Refuses, before anything is created, a path the kernel would not hold whole.
 * @example parseSocketPath("/tmp/chat.sock") // { kind: "unix", path: "/tmp/chat.sock" }
 */
export function parseSocketPath(path: string, text = `unix:${path}`): UnixAddress | AbstractAddress {
  if (path.startsWith("@")) return abstractAddress(path.slice(1), text);
  if (path === "" || path.includes("\0")) {
    throw new AddressError("INVALID_ADDRESS", `${quote(text)} has no socket path`, {
      hint: "write unix:/path/to/name.sock",
    });
  }
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new AddressError(
      "PATH_TOO_LONG",
      `Unix socket path is ${bytes} bytes, over the kernel's ${MAX_UNIX_PATH_BYTES}: ${quote(path)}`,
      { hint: "choose a shorter path, such as one in /tmp" },
    );
  }
  return { kind: "unix", path };
}

function abstractAddress(name: string, text: string): AbstractAddress {
  if (process.platform !== "linux") {
    throw new AddressError("INVALID_ADDRESS", `${quote(text)}: abstract sockets exist only on Linux`, {
      hint: "use unix:/path instead",
    });
  }
  if (name === "" || name.includes("\0")) {
    throw new AddressError("INVALID_ADDRESS", `${quote(text)} has no abstract socket name`, {
      hint: "write @name, such as @netlab-chat",
    });
  }
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    throw new AddressError(
      "PATH_TOO_LONG",
      `abstract socket name is ${bytes} bytes, over the kernel's ${MAX_UNIX_PATH_BYTES}`,
      { hint: "choose a shorter name" },
    );
  }
  return { kind: "abstract", name };
}

function checkHost(host: string, text: string, portHint: string): string {
  // Digits alone are no name (no top-level domain is numeric) but a resolver reads them as an
  // IPv4 number ("5003" is 0.0.19.139) and sends there: it is a port written where a host goes.
  if (/^\d+$/.test(host)) {
    throw new AddressError("INVALID_ADDRESS", `${quote(host)} is a port number, not a host`, {
      hint: portHint,
    });
  }
  // Names as DNS spells them; anything else (spaces, controls, `/`) is a typo, not a host.
  if (isIP(host) !== 0 || /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(host)) return host;
  throw new AddressError("INVALID_ADDRESS", `${quote(text)} is not a host name or IP address`, {
    hint: "use a name such as localhost, or an address such as 127.0.0.1 or [::1]",
  });
}

function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}

/**
 * An IPv4-mapped IPv6 address as the IPv4 address it is: what a dual-stack (`::`) server sees
 * when an IPv4 client connects.
 * @example unmapIPv4("::ffff:127.0.0.1") // "127.0.0.1"
 */
export function unmapIPv4(host: string): string {
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(host);
  return m ? m[1]! : host;
}

/**
 * A host as it is written before `:PORT`: IPv6 in brackets, IPv4-mapped IPv6 as IPv4.
 * @example formatHost("::1") // "[::1]"
 */
export function formatHost(host: string): string {
  const h = unmapIPv4(host);
  return h.includes(":") && !h.startsWith("[") ? `[${h}]` : h;
}

/**
 * `host:port` with IPv6 bracketed.
 * @example formatHostPort("::1", 5001) // "[::1]:5001"
 */
export function formatHostPort(host: string, port: number): string {
  return `${formatHost(host)}:${port}`;
}

/**
 * An address in the grammar {@link parseAddress} reads back.
 * @example formatAddress({ kind: "abstract", name: "chat" }) // "@chat"
 */
export function formatAddress(address: Address): string {
  switch (address.kind) {
    case "host":
      return formatHostPort(address.host, address.port);
    case "unix":
      return `unix:${address.path}`;
    case "abstract":
      return `@${address.name}`;
  }
}

/**
 * The path Node's `net` takes for a Unix address: the file's path, or NUL + name for an abstract one.
 * @example socketPath({ kind: "abstract", name: "chat" }) // "\0chat"
 */
export function socketPath(address: UnixAddress | AbstractAddress): string {
  return address.kind === "unix" ? address.path : `\0${address.name}`;
}

/**
 * A Node socket path as an address: `\0name` is abstract.
 * @example formatSocketPath("\0chat") // "@chat"
 */
export function formatSocketPath(path: string): string {
  return path.startsWith("\0") ? `@${path.slice(1)}` : `unix:${path}`;
}

/** What `net.connect` and `server.listen` take for an address. */
export type SocketTarget = { host: string; port: number } | { path: string };

/**
 * The options that reach `address` with Node's `net`.
 * @example socketTarget(parseAddress("[::1]:5001")) // { host: "::1", port: 5001 }
 */
export function socketTarget(address: Address): SocketTarget {
  return address.kind === "host" ? { host: address.host, port: address.port } : { path: socketPath(address) };
}

/** A peer as servers see it (socketserver's PeerAddress, a dgram rinfo): family "unix" has a path or "". */
export interface PeerLike {
  address: string;
  port: number;
  /** "IPv4", "IPv6", "unix"; when absent, an address that is "" with port 0, or a path, is a Unix peer. */
  family?: string;
}

/**
 * A peer for logs and screens: `127.0.0.1:5001` (also for an IPv4 client of a dual-stack server),
 * `[::1]:5001`, `unix:/path`, `@name`, or `unix socket` for an unnamed Unix client.
 * @example formatPeer({ address: "::ffff:127.0.0.1", port: 40000, family: "IPv6" }) // "127.0.0.1:40000"
 */
export function formatPeer(peer: PeerLike | undefined): string {
  if (!peer) return "?";
  const isUnix =
    peer.family === "unix" ||
    (peer.family === undefined && ((peer.address === "" && peer.port === 0) || /^[/\0]/.test(peer.address)));
  if (isUnix) return peer.address === "" ? "unix socket" : formatSocketPath(peer.address);
  return formatHostPort(peer.address, peer.port);
}
