import type dgram from "node:dgram";
import diagnostics from "node:diagnostics_channel";
import type net from "node:net";
import type { PeerAddress } from "./types.js";

/** Which end of a connection this process is. */
export type WireSide = "client" | "server";
/** `in`: read from the peer; `out`: written to it. */
export type WireDirection = "in" | "out";
/** Why a connection ended: both sides closed cleanly, a reset, our own timeout, or a socket error. */
export type WireCloseReason = "fin" | "rst" | "timeout" | "error";

/** One connection (or, for UDP, one socket) as the tap sees it; the same object in every event for it. */
export interface WireConnection {
  /** Unique in the process, counting from 1 (independent of a server's `info.id`). */
  readonly id: number;
  readonly side: WireSide;
  readonly transport: "tcp" | "unix" | "udp";
  /** The other end; for a UDP socket, its default peer (a datagram event names its own). */
  readonly peer: PeerAddress | undefined;
  readonly local: PeerAddress | undefined;
  /** ms since the epoch (fractional). */
  readonly openedAt: number;
  bytesIn: number;
  bytesOut: number;
  /** Set by whoever closes the connection for a timeout, read when it closes. */
  reason?: WireCloseReason;
}

/** What `wireDataChannel` publishes: one chunk read (`in`) or written (`out`). */
export interface WireDataEvent {
  type: "data";
  time: number;
  conn: WireConnection;
  direction: WireDirection;
  bytes: Uint8Array;
  /** Bytes this connection carried that way before this chunk: the chunk's offset in its stream. */
  offset: number;
  /** UDP: the datagram's sender or destination. */
  peer?: PeerAddress;
}

/** What `wireChannel` publishes: the life of each connection. `time` is ms since the epoch, fractional. */
export type WireLifecycleEvent =
  | { type: "listen"; time: number; transport: "tcp" | "unix" | "udp"; local: PeerAddress }
  | { type: "open"; time: number; conn: WireConnection }
  | { type: "half-close"; time: number; conn: WireConnection; direction: WireDirection }
  | { type: "close"; time: number; conn: WireConnection; reason: WireCloseReason; error?: string };

/** Anything the tap publishes, on either channel. */
export type WireEvent = WireLifecycleEvent | WireDataEvent;

/**
 * The tap, lifecycle half: every listen, open, half-close and close of the process (event logs).
 * Close events carry the connection's byte counts whether or not anyone watched its chunks.
 * Nothing is computed while nobody subscribes: each call site checks `hasSubscribers` first.
 * @example wireChannel.subscribe((e) => console.log((e as WireLifecycleEvent).type));
 */
export const wireChannel = diagnostics.channel("netlab:wire");

/**
 * The tap, data half: every chunk every command reads and writes (hexdumps, recordings). Its own
 * channel so that watching only connections (`--events`) costs nothing per chunk.
 * @example wireDataChannel.subscribe((e) => console.log((e as WireDataEvent).bytes.length));
 */
export const wireDataChannel = diagnostics.channel("netlab:wire:data");

let nextId = 1;
const connections = new WeakMap<object, WireConnection>();

/** Milliseconds since the epoch, sub-millisecond. */
export function wireNow(): number {
  return performance.timeOrigin + performance.now();
}

function addressOf(
  address: string | undefined,
  port: number | undefined,
  family?: string,
): PeerAddress | undefined {
  if (address === undefined) return undefined;
  const fam = family === "IPv6" || address.includes(":") ? "IPv6" : "IPv4";
  return { address, port: port ?? 0, family: fam };
}

/**
 * Starts watching a stream socket: publishes `open` now, and `half-close`/`close` as they happen.
 * Call sites check {@link isWireWatched}; a socket first seen later is opened on its first chunk.
 */
export function tapOpen(socket: net.Socket, side: WireSide): WireConnection {
  const known = connections.get(socket);
  if (known) return known;
  const isUnix = socket.remoteAddress === undefined && socket.remotePort === undefined;
  const conn: WireConnection = {
    id: nextId++,
    side,
    transport: isUnix ? "unix" : "tcp",
    peer: isUnix
      ? { address: "", port: 0, family: "unix" }
      : addressOf(socket.remoteAddress, socket.remotePort, socket.remoteFamily),
    local: isUnix
      ? {
          address: String((socket as unknown as { server?: net.Server }).server?.address() ?? ""),
          port: 0,
          family: "unix",
        }
      : addressOf(socket.localAddress, socket.localPort, socket.localFamily),
    openedAt: wireNow(),
    bytesIn: 0,
    bytesOut: 0,
  };
  connections.set(socket, conn);
  let isInEnded = false;
  let isOutEnded = false;
  socket.once("end", () => {
    isInEnded = true;
    if (wireChannel.hasSubscribers)
      wireChannel.publish({ type: "half-close", time: wireNow(), conn, direction: "in" });
  });
  socket.once("finish", () => {
    isOutEnded = true;
    if (wireChannel.hasSubscribers)
      wireChannel.publish({ type: "half-close", time: wireNow(), conn, direction: "out" });
  });
  socket.once("close", (hadError: boolean) => {
    if (!wireChannel.hasSubscribers) return;
    // The socket's own counts: right even when nobody watched the chunks (TLS sockets count plaintext).
    conn.bytesIn = socket.bytesRead;
    conn.bytesOut = socket.bytesWritten;
    const err = (socket as unknown as { errored?: Error | null }).errored ?? undefined;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    let reason: WireCloseReason;
    if (conn.reason) reason = conn.reason;
    else if (code === "ECONNRESET" || code === "EPIPE") reason = "rst";
    else if (hadError || err) reason = "error";
    else reason = isInEnded && isOutEnded ? "fin" : "rst";
    const event: WireLifecycleEvent = { type: "close", time: wireNow(), conn, reason };
    if (err && reason === "error") event.error = err.message;
    wireChannel.publish(event);
  });
  wireChannel.publish({ type: "open", time: conn.openedAt, conn });
  return conn;
}

/** Publishes one chunk read (`in`) or written (`out`) on a stream socket. Call only when `wireDataChannel` has subscribers. */
export function tapData(socket: net.Socket, direction: WireDirection, data: string | Uint8Array): void {
  const conn = connections.get(socket) ?? tapOpen(socket, "client");
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const offset = direction === "in" ? conn.bytesIn : conn.bytesOut;
  if (direction === "in") conn.bytesIn += bytes.length;
  else conn.bytesOut += bytes.length;
  wireDataChannel.publish({ type: "data", time: wireNow(), conn, direction, bytes, offset });
}

/** Marks why the connection is about to close (a timeout), for its `close` event. */
export function tapReason(socket: net.Socket, reason: WireCloseReason): void {
  const conn = connections.get(socket);
  if (conn && !conn.reason) conn.reason = reason;
}

/**
 * Publishes one datagram received (`in`) or sent (`out`) on a UDP socket: its socket's `open` the
 * first time, then the datagram. Call only when {@link isWireWatched}.
 */
export function tapDatagram(
  socket: dgram.Socket,
  side: WireSide,
  direction: WireDirection,
  peer: { address: string; port: number } | undefined,
  bytes: Uint8Array,
): void {
  let conn = connections.get(socket);
  if (!conn) {
    let local: PeerAddress | undefined;
    try {
      const a = socket.address();
      local = addressOf(a.address, a.port, a.family);
    } catch {
      // Not bound yet: the first send binds it.
    }
    let remote: PeerAddress | undefined;
    try {
      const r = socket.remoteAddress();
      remote = addressOf(r.address, r.port, r.family);
    } catch {
      // Not connected: each datagram names its peer.
    }
    conn = {
      id: nextId++,
      side,
      transport: "udp",
      peer: remote,
      local,
      openedAt: wireNow(),
      bytesIn: 0,
      bytesOut: 0,
    };
    connections.set(socket, conn);
    const opened = conn;
    // A datagram socket has no FIN: closing it ends the "connection" normally. Without this its
    // `open` had no `close`, so --events never gave a UDP socket's byte counts or duration.
    socket.once("close", () => {
      if (wireChannel.hasSubscribers)
        wireChannel.publish({ type: "close", time: wireNow(), conn: opened, reason: opened.reason ?? "fin" });
    });
    wireChannel.publish({ type: "open", time: conn.openedAt, conn });
  }
  const offset = direction === "in" ? conn.bytesIn : conn.bytesOut;
  if (direction === "in") conn.bytesIn += bytes.length;
  else conn.bytesOut += bytes.length;
  if (!wireDataChannel.hasSubscribers) return;
  const event: WireDataEvent = { type: "data", time: wireNow(), conn, direction, bytes, offset };
  if (peer) event.peer = addressOf(peer.address, peer.port);
  wireDataChannel.publish(event);
}

/** Whether anyone watches the tap, either half (for call sites that publish on both). */
export function isWireWatched(): boolean {
  return wireChannel.hasSubscribers || wireDataChannel.hasSubscribers;
}

/** Publishes that a server is listening. Call only with subscribers. */
export function tapListen(transport: "tcp" | "unix" | "udp", local: PeerAddress): void {
  wireChannel.publish({ type: "listen", time: wireNow(), transport, local });
}
