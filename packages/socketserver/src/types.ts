import type dgram from "node:dgram";
import type { ServerTlsOptions } from "./tls-accept.js";

/** Where a peer is. For Unix sockets: `address` is the path (often `""` for a client), `port` is 0. */
export interface PeerAddress {
  address: string;
  port: number;
  family: "IPv4" | "IPv6" | "unix";
}

/** Live per-connection counters; the same object is passed to every event for that connection. */
export interface ConnectionInfo {
  /** Unique within the server, counting from 1. */
  id: number;
  peer: PeerAddress;
  /** When the handler was created, in ms since the epoch. */
  openedAt: number;
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** Why the connection ended; set just before `close` is emitted (logs say it). */
  closeReason?: CloseReason;
}

/**
 * Why a connection ended: `closed` (EOF, or the handler finished), `reset` (the peer went away
 * mid-request), `shutdown`, `idle-timeout`, `frame-timeout`, `slow-consumer` (the peer stopped
 * reading), `error` (the handler failed).
 */
export type CloseReason =
  | "closed"
  | "reset"
  | "shutdown"
  | "idle-timeout"
  | "frame-timeout"
  | "slow-consumer"
  | "error";

/** One received datagram: what `DatagramRequestHandler.request` is. */
export interface Datagram {
  packet: Buffer;
  /** The server's socket, to reply on: a UDPServer's `dgram.Socket`, or a UnixDatagramServer's AF_UNIX socket. */
  socket: dgram.Socket | UnixDatagramSocket;
}

/**
 * A UnixDatagramServer's AF_UNIX datagram socket: the part of `node-unix-socket`'s `DgramSocket`
 * (loaded at run time, so typed here) that a handler may use.
 */
export interface UnixDatagramSocket {
  /** Sends `length` bytes of `buf` from `offset` as one datagram to the socket bound at `path`. */
  sendTo(
    buf: Buffer,
    offset: number,
    length: number,
    path: string,
    onSent?: (err: Error | undefined) => void,
  ): void;
  /** The path the socket is bound to. */
  address(): string;
}

/** Options every server takes. Limits have units in their names; "unlimited" is `Infinity`. */
export interface ServerOptions {
  /** Address to bind. Default `"127.0.0.1"`; `"::1"` or `"0.0.0.0"` only when asked. */
  host?: string;
  /** Port to bind. Default 0 = an ephemeral port; `server.address.port` is the real one. */
  port?: number;
  /**
   * A Unix socket path, instead of host and port (any stream server; required by Unix*Server).
   * Created with mode 0600; at most 107 bytes; a leading NUL makes a Linux abstract socket.
   */
  path?: string;
  /** With host `::`, accept IPv6 clients only (no IPv4-mapped peers). Default false: dual-stack. */
  ipv6Only?: boolean;
  /**
   * Most connections handled at once. Default 10 000. The next one gets one line
   * `ERR server full (N connections)\n` and is closed; the others keep working.
   */
  maxConnections?: number;
  /** A stream connection with no bytes in for this long (ms) is closed and its handler's signal aborts. Default Infinity. */
  idleTimeoutMs?: number;
  /**
   * Longest a frame (a line) may take to arrive once its first byte is in, in ms: a stream
   * connection whose handler waits on a partial frame for longer is closed (slowloris: one byte a
   * second would otherwise hold a connection forever, as every byte resets the idle timeout). The
   * handler's `onFrameTimeout()` may say why first. Default 30 000; `Infinity` is off.
   */
  frameTimeoutMs?: number;
  /** How long `shutdown()` waits for handlers to finish (ms) before destroying what is left. Default 5 000. */
  drainTimeoutMs?: number;
  /** Listen backlog. Default 511, as Node's (Python's 5 makes a burst of connects stall). */
  requestQueueSize?: number;
  /** Rebind a port in TIME_WAIT (TCP: always so in Node), replace a stale Unix socket file (default true); share a UDP port (UDPServer: default false, as Python's). */
  allowReuseAddress?: boolean;
  /** ms that `handleRequest()` waits for a request before calling `handleTimeout()`. Default Infinity. */
  timeout?: number;
  /**
   * Where the server's own lines go (a handler's error when nobody listens to `error`). The
   * package never prints: default silent; the CLI passes a writer to stderr.
   */
  log?: (line: string) => void;
  /**
   * Stream servers on TCP: speak TLS with this certificate and key. A connection reaches its
   * handler only once its handshake is done; a plaintext client gets one line and is closed
   * (the server's `tlsRefused` event says so). Default: plaintext.
   */
  tls?: ServerTlsOptions;
}

/** {@link ServerOptions} with every default filled in. */
export type ResolvedServerOptions = Required<Omit<ServerOptions, "path" | "tls">> & {
  path: string | undefined;
  tls: ServerTlsOptions | undefined;
};

/** Defaults for {@link ServerOptions}. */
export const SERVER_DEFAULTS: Readonly<ResolvedServerOptions> = {
  host: "127.0.0.1",
  port: 0,
  path: undefined,
  ipv6Only: false,
  tls: undefined,
  maxConnections: 10_000,
  idleTimeoutMs: Number.POSITIVE_INFINITY,
  frameTimeoutMs: 30_000,
  drainTimeoutMs: 5_000,
  requestQueueSize: 511,
  allowReuseAddress: true,
  timeout: Number.POSITIVE_INFINITY,
  log: () => {},
};
