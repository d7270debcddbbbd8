import { chmodSync, lstatSync, statSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import { type AddressError, formatSocketPath, parseSocketPath } from "@netlab/core";
import { BaseServer, type BoundAddress, type HandlerClass } from "./base-server.js";
import { NetworkError, toNetworkError } from "./errors.js";
import { isStaleSocket, removeSocketFile } from "./socket-file.js";
import { TlsAcceptor } from "./tls-accept.js";
import type { PeerAddress, ServerOptions } from "./types.js";

/** How long a refused connection may take to read its `ERR` line and close before it is destroyed. */
const REFUSE_LINGER_MS = 1_000;

/**
 * A TCP server: one `StreamRequestHandler` per connection, every connection served at once (Node's
 * I/O is concurrent without threads). Binds 127.0.0.1 unless `host` says otherwise. With the `tls`
 * option each connection is handshaken before its handler exists (handlers see a `TLSSocket`);
 * `tlsRefused`(peer, {reason, message}) reports a plaintext client or a failed handshake.
 * @example
 * const server = new TCPServer({ host: "127.0.0.1", port: 0 }, EchoHandler);
 * await server.listen();
 * void server.serveForever();
 */
export class TCPServer extends BaseServer {
  #server: net.Server | undefined;
  readonly #tls: TlsAcceptor | undefined;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
    const { tls, maxConnections } = this.options;
    // Handshakes under way are bounded like connections: a flood of silent sockets holds no more.
    this.#tls = tls ? new TlsAcceptor(tls, maxConnections) : undefined;
  }

  /** Whether connections speak TLS (the `tls` option). */
  get isTls(): boolean {
    return this.#tls !== undefined;
  }

  get address(): BoundAddress {
    if (this.options.path !== undefined) return { host: this.options.path, port: 0, family: "unix" };
    const a = this.#server?.address();
    if (a && typeof a === "object") return { host: a.address, port: a.port, family: a.family };
    return {
      host: this.options.host,
      port: this.options.port,
      family: net.isIPv6(this.options.host) ? "IPv6" : "IPv4",
    };
  }

  async listen(): Promise<void> {
    if (!this.needsListen() || this.#server) return;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const acceptor = this.#tls;
    if (acceptor) {
      server.on("connection", (socket: net.Socket) => {
        // Read now: a socket destroyed after a failed handshake no longer knows its peer.
        const peer = this.peerOf(socket);
        acceptor.accept(
          socket,
          (secure) => this.acceptRequest(secure),
          (_raw, refusal) => {
            if (peer && this.listenerCount("tlsRefused") > 0) this.emit("tlsRefused", peer, refusal);
          },
        );
      });
    } else {
      server.on("connection", (socket) => this.acceptRequest(socket));
    }
    // A listener error after listen() (rare: EMFILE on accept) is reported, not thrown.
    const onError = (err: Error) => this.emit("error", err);
    try {
      await listenStream(server, this.listenOptions(), this.options);
    } catch (err) {
      server.close();
      throw this.listenError(err);
    }
    server.on("error", (err) => {
      if (this.listenerCount("error") > 0) onError(err);
    });
    this.#server = server;
    this.markListening();
  }

  async serverClose(): Promise<void> {
    const server = this.#server;
    if (!server?.listening) return;
    // net.Server.close's callback waits for every connection; the listening socket itself closes at once.
    server.close();
    // Handshakes under way would reach a handler no more than a connection left in the backlog.
    this.#tls?.closePending();
    // Node unlinks the socket file when the server closes; this covers a crash-free double close.
    const path = this.options.path;
    if (path !== undefined && !isAbstract(path)) removeSocketFile(path);
  }

  protected override wireTransport(): "tcp" | "unix" {
    return this.options.path === undefined ? "tcp" : "unix";
  }

  /** What `net.Server.listen` gets. */
  protected listenOptions(): net.ListenOptions {
    const { path, host, port, requestQueueSize: backlog, ipv6Only } = this.options;
    if (path !== undefined) return { path, backlog };
    return ipv6Only ? { host, port, backlog, ipv6Only } : { host, port, backlog };
  }

  protected listenError(err: unknown): NetworkError {
    return streamListenError(err, this.options);
  }

  protected peerOf(request: unknown): PeerAddress | undefined {
    const socket = request as net.Socket;
    if (this.options.path !== undefined) {
      return socket.destroyed ? undefined : { address: "", port: 0, family: "unix" };
    }
    if (socket.remoteAddress === undefined) return undefined;
    // Reading remoteAddress made Node keep the peer on the socket (`_peername`, { address, family,
    // port }): when that is a PeerAddress already, it serves as ours, rather than a second object
    // (and its share of the socket's life) per connection.
    const cached = (socket as { _peername?: Partial<PeerAddress> })._peername;
    if (
      cached?.address === socket.remoteAddress &&
      typeof cached.port === "number" &&
      (cached.family === "IPv4" || cached.family === "IPv6")
    ) {
      return cached as PeerAddress;
    }
    return {
      address: socket.remoteAddress,
      port: socket.remotePort ?? 0,
      family: socket.remoteFamily === "IPv6" ? "IPv6" : "IPv4",
    };
  }

  protected refuse(request: unknown): void {
    const socket = request as net.Socket;
    socket.on("error", () => {});
    // Read and drop what the client sends, so that closing does not turn into a reset that could
    // swallow the ERR line before the client reads it.
    socket.resume();
    socket.end(`ERR server full (${this.options.maxConnections} connections)\n`);
    setTimeout(() => socket.destroy(), REFUSE_LINGER_MS).unref();
  }

  protected discard(request: unknown): void {
    const socket = request as net.Socket;
    socket.on("error", () => {});
    socket.destroy();
  }
}

/**
 * A stream server on a Unix socket `path` (peers' `clientAddress.family` is "unix"): a TCPServer
 * that must have a path. Any TCPServer given `path` behaves the same way: the file is created
 * with mode 0600; with `allowReuseAddress` (default true) a stale socket file left by a dead
 * server is replaced, a live one is ADDRESS_IN_USE, and anything that is not a socket is never
 * touched; a path over 107 bytes is refused before anything is created; a path starting with NUL
 * is a Linux abstract socket (no file). The file is removed on `serverClose()`.
 * @example new UnixStreamServer({ path: "/tmp/echo.sock" }, EchoHandler)
 */
export class UnixStreamServer extends TCPServer {
  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
    if (!options.path) {
      throw new NetworkError("INVALID_OPTION", "UnixStreamServer needs a path", {
        hint: "pass { path: '/tmp/name.sock' }",
      });
    }
  }
}

/**
 * Binds `server` as every netlab stream server binds: a Unix socket path is checked first (over
 * 107 bytes, or a file that is not a socket: refused; a stale socket left by a dead server:
 * replaced when `allowReuseAddress`, default true) and born mode 0600; a failure is a
 * NetworkError that says what to do (`port 5001 on 127.0.0.1 is already in use`).
 * @example await listenStream(net.createServer(onConnection), { path: "/tmp/r.sock" });
 */
export async function listenStream(
  server: net.Server,
  options: net.ListenOptions,
  { allowReuseAddress = true }: { allowReuseAddress?: boolean } = {},
): Promise<void> {
  const { path } = options;
  try {
    if (path !== undefined) await prepareSocketPath(path, allowReuseAddress);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      const listening = () => {
        server.off("error", reject);
        resolve();
      };
      if (path === undefined || isAbstract(path)) server.listen(options, listening);
      // The socket file is born 0600: no window in which another user may connect.
      else withUmask(0o177, () => server.listen(options, listening));
    });
    if (path !== undefined && !isAbstract(path)) chmodSync(path, 0o600);
  } catch (err) {
    throw streamListenError(err, options);
  }
}

function streamListenError(err: unknown, where: { path?: string; host?: string; port?: number }) {
  if (err instanceof NetworkError) return err;
  const { path, host, port } = where;
  if (path !== undefined && !isAbstract(path) && isMissing(dirname(path))) {
    // libuv reports a bind into a missing directory as EACCES: "permission denied" would send
    // the user looking at modes (even as root) for a folder that is not there.
    return new NetworkError(
      "NO_SUCH_SOCKET",
      `cannot listen on ${formatSocketPath(path)}: directory ${dirname(path)} does not exist`,
      { hint: "create the directory, or choose another path", cause: err },
    );
  }
  if (path !== undefined) return toNetworkError(err, { action: "listen", path });
  return toNetworkError(err, { action: "listen", host, port });
}

function isMissing(path: string): boolean {
  try {
    statSync(path);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ENOENT";
  }
}

function isAbstract(path: string): boolean {
  return path.startsWith("\0");
}

/**
 * Checks a socket path before anything is created: too long (Node 20 would cut it and bind
 * another path), or taken by something that is not a socket. A stale socket is removed.
 */
async function prepareSocketPath(path: string, allowReuseAddress: boolean): Promise<void> {
  try {
    parseSocketPath(isAbstract(path) ? `@${path.slice(1)}` : path);
  } catch (err) {
    const e = err as AddressError;
    throw new NetworkError("INVALID_OPTION", e.message, { hint: e.hint, cause: e });
  }
  if (isAbstract(path)) return;
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) {
    throw new NetworkError(
      "ADDRESS_IN_USE",
      `cannot listen on ${formatSocketPath(path)}: a file that is not a socket is there`,
      { hint: "it is never replaced: choose another path, or remove it yourself" },
    );
  }
  if (allowReuseAddress && (await isStaleSocket(path))) removeSocketFile(path);
}

/** Runs `fn` (a synchronous bind) under `mask`; where umask cannot be set (a worker), as it is. */
function withUmask(mask: number, fn: () => void): void {
  let old: number | undefined;
  try {
    old = process.umask(mask);
  } catch {
    old = undefined;
  }
  try {
    fn();
  } finally {
    if (old !== undefined) process.umask(old);
  }
}
