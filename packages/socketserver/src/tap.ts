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

/**
 * What `wireChannel` publishes: every chunk read and written on every socket of the process, and
 * the life of each connection. `time` is ms since the epoch, fractional.
 */
export type WireEvent =
  | { type: "listen"; time: number; transport: "tcp" | "unix" | "udp"; local: PeerAddress }
  | { type: "open"; time: number; conn: WireConnection }
  | {
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
  | { type: "half-close"; time: number; conn: WireConnection; direction: WireDirection }
  | { type: "close"; time: number; conn: WireConnection; reason: WireCloseReason; error?: string };

/**
 * The tap: subscribe to see every byte every command reads and writes (hexdumps, event logs,
 * recordings). Nothing is computed while nobody subscribes: each call site checks
 * `wireChannel.hasSubscribers` first.
 * @example
 * wireChannel.subscribe((e) => { if (e.type === "data") console.log(e.direction, e.bytes.length); });
 */
export const wireChannel = diagnostics.channel("netlab:wire");

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
 * Call sites check `wireChannel.hasSubscribers`; a socket first seen later is opened on its first chunk.
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
    const err = (socket as unknown as { errored?: Error | null }).errored ?? undefined;
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    let reason: WireCloseReason;
    if (conn.reason) reason = conn.reason;
    else if (code === "ECONNRESET" || code === "EPIPE") reason = "rst";
    else if (hadError || err) reason = "error";
    else reason = isInEnded && isOutEnded ? "fin" : "rst";
    const event: WireEvent = { type: "close", time: wireNow(), conn, reason };
    if (err && reason === "error") event.error = err.message;
    wireChannel.publish(event);
  });
  wireChannel.publish({ type: "open", time: conn.openedAt, conn });
  return conn;
}

/** Publishes one chunk read (`in`) or written (`out`) on a stream socket. Call only with subscribers. */
export function tapData(socket: net.Socket, direction: WireDirection, data: string | Uint8Array): void {
  const conn = connections.get(socket) ?? tapOpen(socket, "client");
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  const offset = direction === "in" ? conn.bytesIn : conn.bytesOut;
  if (direction === "in") conn.bytesIn += bytes.length;
  else conn.bytesOut += bytes.length;
  wireChannel.publish({ type: "data", time: wireNow(), conn, direction, bytes, offset });
}

/** Marks why the connection is about to close (a timeout), for its `close` event. */
export function tapReason(socket: net.Socket, reason: WireCloseReason): void {
  const conn = connections.get(socket);
  if (conn && !conn.reason) conn.reason = reason;
}

/** Publishes one datagram received (`in`) or sent (`out`) on a UDP socket. Call only with subscribers. */
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
    wireChannel.publish({ type: "open", time: conn.openedAt, conn });
  }
  const offset = direction === "in" ? conn.bytesIn : conn.bytesOut;
  if (direction === "in") conn.bytesIn += bytes.length;
  else conn.bytesOut += bytes.length;
  const event: WireEvent = { type: "data", time: wireNow(), conn, direction, bytes, offset };
  if (peer) event.peer = addressOf(peer.address, peer.port);
  wireChannel.publish(event);
}

/** Publishes that a server is listening. Call only with subscribers. */
export function tapListen(transport: "tcp" | "unix" | "udp", local: PeerAddress): void {
  wireChannel.publish({ type: "listen", time: wireNow(), transport, local });
}
