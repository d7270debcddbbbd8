// The subpath, not the front door: every command that listens or connects loads it at start.

import { BlockList, isIP } from "node:net";
import {
  type Address,
  AddressError,
  formatHost,
  formatHostPort,
  formatPeer,
  formatSocketPath,
  parseAddress,
  parseHost,
  parsePortText,
  socketPath,
} from "@netlab/core/address";
import { escapeControls } from "@netlab/core/terminal";
import type { Command } from "commander";
import { parsePort } from "./options.js";
import { UsageError } from "./run.js";

/** The address options every command that listens or connects reads (`--host`, `--port`, `-4`, `-6`). */
export interface AddressFlags {
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  /** How the user wrote the host, for messages (`127.0.0.1 5001`); default `--host HOST`. */
  hostAsTyped?: string;
  /** `--port` was typed, not its default (set by {@link addAddressHooks}). */
  isPortTyped?: boolean;
  /** `--host` was typed, not its default (set by {@link addAddressHooks}). */
  isHostTyped?: boolean;
}

/**
 * The options that name the same server again in a command we suggest (`lab transfer --list
 * --port 6002`): what was typed of --host, --port, -4 and -6, each a shell word. A hint from the
 * server cannot know how it was reached.
 */
export function addressArgs(flags: AddressFlags): string {
  const word = (text: string) =>
    /^[\w@%+=:,./[\]-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
  let args = "";
  if (flags.isHostTyped) args += ` --host ${word(flags.host)}`;
  if (flags.isPortTyped) args += ` --port ${word(flags.port)}`;
  if (flags.ipv4) args += " -4";
  if (flags.ipv6) args += " -6";
  return escapeControls(args);
}

/** Where a server listens: host and port, or a Unix socket path (NUL + name for an abstract one). */
export interface ListenAddress {
  host: string;
  port: number;
  path?: string;
  /** `-6` with host `::`: no IPv4 clients. */
  ipv6Only: boolean;
}

/** Where a client connects: host and port (resolved as `family` says), or a Unix socket path. */
export interface ConnectAddress {
  host: string;
  port: number;
  path?: string;
  family: 0 | 4 | 6;
}

/** Adds `-4` and `-6` to a command that listens or connects. */
export function addFamilyOptions(command: Command, side: "listen" | "connect"): Command {
  return command.option("-4, --ipv4", `${side} over IPv4 only`).option("-6, --ipv6", familyHelp(side));
}

/** The help line of `-6` (lab udp adds its own `-4`/`-6` with the same words). */
export function familyHelp(side: "listen" | "connect"): string {
  return side === "listen"
    ? "listen over IPv6 only (default host ::1; with --host :: no IPv4 clients)"
    : "connect over IPv6 only (default host ::1)";
}

/**
 * What the address options need to know of how they were given, for every command with them:
 * `-6` moves the default `--host` (127.0.0.1) to ::1 (only a host the user did not type may
 * change family; one typed is checked by {@link checkFamily}), and a typed `--port` is marked
 * (`isPortTyped`), so that one beside an address with a port of its own, or a Unix socket, is
 * refused rather than ignored; so is a typed `--host` (`isHostTyped`) beside an address with a host.
 */
export function addAddressHooks(program: Command): void {
  program.hook("preAction", (_program, command) => {
    const has = (flag: string) => command.options.some((o) => o.long === flag);
    if (has("--port") && command.getOptionValueSource("port") === "cli") {
      command.setOptionValueWithSource("isPortTyped", true, "cli");
    }
    if (has("--host") && command.getOptionValueSource("host") === "cli") {
      command.setOptionValueWithSource("isHostTyped", true, "cli");
    }
    if (!has("--ipv6") || !has("--host")) return;
    if (command.getOptionValue("ipv6") === true && command.getOptionValueSource("host") === "default") {
      command.setOptionValueWithSource("host", "::1", "default");
    }
  });
}

/** The help lines on the address grammar that every such command prints. */
export const ADDRESS_HELP = `Addresses: --host takes a name, 127.0.0.1, ::1 or [::1], unix:/path (a Unix socket) or
@name (a Linux abstract socket); HOST:PORT and [IPv6]:PORT where a command takes an address argument.`;

/**
 * Reads where a server listens. `--host ::` is dual-stack (IPv4 peers are shown as 127.0.0.1);
 * `-6` alone listens on ::1, `-6 --host ::` on IPv6 only; `-4` keeps IPv4.
 */
export function listenAddress(flags: AddressFlags, positional?: string): ListenAddress {
  const address = readAddress(flags, positional, { allowZeroPort: true });
  if (address.kind !== "host") {
    return { host: "127.0.0.1", port: 0, path: socketPath(address), ipv6Only: false };
  }
  const host = requireFamilyLiteral(withFamily(address.host, flags, typed(flags, positional)), flags);
  return { host, port: address.port, ipv6Only: flags.ipv6 === true && host === "::" };
}

/** Reads where a client connects: `--host/--port`, or an address argument in the grammar. */
export function connectAddress(flags: AddressFlags, positional?: string): ConnectAddress {
  const address = readAddress(flags, positional, { allowZeroPort: false });
  if (address.kind !== "host") return { host: "127.0.0.1", port: 0, path: socketPath(address), family: 0 };
  const family = flags.ipv4 ? 4 : flags.ipv6 ? 6 : 0;
  return { host: withFamily(address.host, flags, typed(flags, positional)), port: address.port, family };
}

/** How the user wrote the address, as a message quotes it. */
function typed(flags: AddressFlags, positional: string | undefined): string {
  return positional ?? flags.hostAsTyped ?? `--host ${flags.host}`;
}

function readAddress(
  flags: AddressFlags,
  positional: string | undefined,
  o: { allowZeroPort: boolean },
): Address {
  if (flags.ipv4 && flags.ipv6)
    throw new UsageError("-4 and -6 together leave no address family", "choose one");
  // --port is checked as every numeric flag is (the message names the flag), and only when used.
  const port = () => parsePort(flags.port, { allowZero: o.allowZeroPort });
  const address = usage(() => {
    if (positional !== undefined) {
      return parseAddress(positional, {
        defaultHost: parseHost(flags.host),
        defaultPort: port(),
        allowZeroPort: o.allowZeroPort,
      });
    }
    if (flags.host.startsWith("unix:") || flags.host.startsWith("@")) return parseAddress(flags.host);
    return { kind: "host" as const, host: parseHost(flags.host), port: port() };
  });
  if (address.kind !== "host" && (flags.ipv4 || flags.ipv6)) {
    throw new UsageError(
      `-${flags.ipv4 ? 4 : 6} means an IP address, but this is a Unix socket`,
      "drop -4/-6",
    );
  }
  if (flags.isPortTyped) refuseSecondPort(address, flags, positional);
  if (flags.isHostTyped) refuseSecondHost(flags, positional);
  return address;
}

/** A typed `--host` beside an address argument that names its own host (all but `:PORT`): it was ignored in silence. */
function refuseSecondHost(flags: AddressFlags, positional: string | undefined): void {
  if (positional === undefined || positional.startsWith(":")) return;
  const isSocket = positional.startsWith("unix:") || positional.startsWith("@");
  const port = /^(?:\[[^\]]*\]|[^:]*):(\d+)$/.exec(positional)?.[1];
  throw new UsageError(
    `${positional} has a ${isSocket ? "path" : "host"}, and --host ${flags.host} is another`,
    isSocket || port === undefined
      ? "drop --host, or the address"
      : `drop --host, or the host from the address (:${port})`,
  );
}

/** A typed `--port` the address leaves no use for: it was ignored in silence. */
function refuseSecondPort(address: Address, flags: AddressFlags, positional: string | undefined): void {
  if (address.kind !== "host") {
    throw new UsageError(
      `--port ${flags.port} means nothing with ${typed(flags, positional)}: a Unix socket has a path, not a port`,
      "drop --port, or give an IP address with --host",
    );
  }
  if (positional === undefined) return;
  // Parsed again without a default port: it parses only if the argument names its own.
  const hasOwnPort = (() => {
    try {
      parseAddress(positional, { defaultHost: "127.0.0.1", allowZeroPort: true });
      return true;
    } catch {
      return false;
    }
  })();
  if (hasOwnPort) {
    throw new UsageError(
      `${positional} has a port, and --port ${flags.port} is another`,
      "drop --port, or the port from the address",
    );
  }
}

/**
 * The host `-4`/`-6` leave. `localhost` is the loopback of the family asked for, as RFC 6761 has it,
 * without asking the resolver (which answers 127.0.0.1 first, so `-6 --host localhost` would have
 * listened on IPv4). A literal of the other family is refused, the loopback and the wildcard too:
 * whoever typed `-6 --host 127.0.0.1` meant one of the two, and lab cannot tell which.
 */
function withFamily(host: string, flags: AddressFlags, asTyped: string): string {
  if (host.toLowerCase() === "localhost" && (flags.ipv4 || flags.ipv6)) {
    return flags.ipv6 ? "::1" : "127.0.0.1";
  }
  checkFamily(host, flags, asTyped);
  return host;
}

/**
 * Throws a usage error when `host` is an IP literal of the family `-4`/`-6` do not ask for;
 * `asTyped` is the address as the user wrote it (`--host [::1]`, `127.0.0.1:5003`).
 * @example checkFamily("127.0.0.1", { ipv6: true, ... }, "--host 127.0.0.1") // throws: -6 asks for IPv6 but --host 127.0.0.1 is IPv4
 */
export function checkFamily(host: string, flags: Pick<AddressFlags, "ipv4" | "ipv6">, asTyped: string): void {
  const wanted = flags.ipv6 ? 6 : flags.ipv4 ? 4 : 0;
  const family = isIP(host.includes("%") ? host.slice(0, host.indexOf("%")) : host);
  if (wanted === 0 || family === 0 || family === wanted) return;
  throw new UsageError(
    `-${wanted} asks for IPv${wanted} but ${asTyped} is IPv${family}`,
    `give an IPv${wanted} address such as ${wanted === 6 ? "::1" : "127.0.0.1"} (or localhost), or drop -${wanted}`,
  );
}

/**
 * A listener binds, and `lab udp` sends from, the first address a name resolves to, whatever
 * `-4`/`-6` say (only a TCP connect can ask the resolver for one family): a name other than
 * localhost with `-4`/`-6` is refused rather than bound in the other family.
 */
function requireFamilyLiteral(host: string, flags: AddressFlags): string {
  if (!(flags.ipv4 || flags.ipv6) || isIP(host) !== 0) return host;
  const family = flags.ipv6 ? 6 : 4;
  throw new UsageError(
    `-${family} with the host name ${host}: it would resolve to whichever address comes first`,
    `give an IPv${family} address (${family === 6 ? "::1 or ::" : "127.0.0.1 or 0.0.0.0"}), or drop -${family}`,
  );
}

/**
 * An address argument that must name its port (`--to HOST:PORT`, `[v6]:PORT`, `unix:/path`, `@name`),
 * as a client connects to it.
 */
export function addressArgument(text: string): ConnectAddress {
  const address = usage(() => parseAddress(text));
  if (address.kind !== "host") return { host: "127.0.0.1", port: 0, path: socketPath(address), family: 0 };
  return { host: address.host, port: address.port, family: 0 };
}

/**
 * What every server without tokens logs (as a warning) once it listens beyond this machine; give
 * it the address bound (a name such as 127.1 is known to be loopback only once resolved):
 * security.md asks to keep such servers on loopback, and `--host 0.0.0.0` is easy to type without
 * thinking of who else can now `what` (as redis's protected mode and jupyter warn). Loopback and
 * sockets: nothing.
 * @example exposureWarning({ host: "::" }, "send it datagrams, which it prints", "") // "every interface ([::]) is reachable from other machines, and anyone who reaches it can send it datagrams, which it prints (docs/security.md)"
 */
export function exposureWarning(
  where: Pick<ListenAddress, "host" | "path">,
  what: string,
  /** The guard the command offers, said before "anyone"; "" for a server with none. */
  unless = "without --token-file ",
  /** Which of a command's listeners this is, when it has more than one (`the API`). */
  subject?: string,
): string | undefined {
  if (where.path !== undefined || isLoopback(where.host)) return undefined;
  const on = where.host === "0.0.0.0" || where.host === "::" ? "every interface" : "an address";
  const who = subject === undefined ? on : `${subject} on ${on}`;
  return `${who} (${formatHost(where.host)}) is reachable from other machines, and ${unless}anyone who reaches it can ${what} (docs/security.md)`;
}

/** 127.0.0.0/8 and ::1, and IPv4 loopback mapped into IPv6 (::ffff:127.0.0.1), which Node checks too. */
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6");
}

/** A port given as a word (`lab client HOST PORT`): 1–65535, refused in the grammar's words. */
export function portArgument(text: string): number {
  return usage(() => parsePortText(text));
}

/** Where a UDP command binds or sends: an IP address, never a Unix socket (lab udp speaks UDP). */
export function udpAddress(
  command: string,
  side: "listen" | "connect",
  flags: AddressFlags,
  positional?: string,
): ListenAddress {
  const where =
    side === "listen"
      ? listenAddress(flags, positional)
      : (() => {
          const to = connectAddress(flags, positional);
          return { ...to, host: requireFamilyLiteral(to.host, flags), ipv6Only: false };
        })();
  if (where.path !== undefined) {
    throw new UsageError(
      `${formatSocketPath(where.path)} is a Unix socket; ${command} ${side === "listen" ? "listens for UDP datagrams on" : "sends UDP datagrams to"} an IP address`,
      "give HOST:PORT or --host/--port",
    );
  }
  return { host: where.host, port: where.port, ipv6Only: where.ipv6Only };
}

/** `--host` alone (a name, IPv4, IPv6 bare or bracketed), for commands with no port of their own. */
export function hostFlag(text: string): string {
  return usage(() => parseHost(text));
}

/** `--tls` runs over TCP only here: a Unix socket with it is a usage error, not a silent TCP dial. */
export function refuseTlsOverUnix(where: { path?: string }, flags: { tls?: boolean }): void {
  if (flags.tls && where.path !== undefined) {
    throw new UsageError("--tls works over TCP, not over a Unix socket", "drop --tls, or give --host/--port");
  }
}

/** Runs `fn`; a refused address becomes a usage error (exit 2) with its hint. */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof AddressError) throw new UsageError(err.message, err.hint);
    throw err;
  }
}

/** Where a client connects, as the grammar writes it: `[::1]:5001`, `unix:/path`, `@name`. */
export function formatWhere(where: ConnectAddress): string {
  return where.path === undefined ? formatHostPort(where.host, where.port) : formatSocketPath(where.path);
}

/** Where a server is bound, for its `listening on` line: `127.0.0.1:5001`, `[::1]:5001`, `unix:/path`, `@name`. */
export function formatBound(bound: { host: string; port: number; family: string }): string {
  return formatPeer({ address: bound.host, port: bound.port, family: bound.family });
}
