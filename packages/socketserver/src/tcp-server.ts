import net from "node:net";
import { BaseServer, type BoundAddress, type HandlerClass } from "./base-server.js";
import { NetworkError, toNetworkError } from "./errors.js";
import { isStaleSocket, removeSocketFile } from "./socket-file.js";
import type { PeerAddress, ServerOptions } from "./types.js";

/** How long a refused connection may take to read its `ERR` line and close before it is destroyed. */
const REFUSE_LINGER_MS = 1_000;

/**
 * A TCP server: one `StreamRequestHandler` per connection, every connection served at once (Node's
 * I/O is concurrent without threads). Binds 127.0.0.1 unless `host` says otherwise.
 * @example
 * const server = new TCPServer({ host: "127.0.0.1", port: 0 }, EchoHandler);
 * await server.listen();
 * void server.serveForever();
 */
export class TCPServer extends BaseServer {
  #server: net.Server | undefined;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
  }

  get address(): BoundAddress {
    const a = this.#server?.address();
    if (a && typeof a === "object") return { host: a.address, port: a.port, family: a.family };
    return {
      host: this.options.host,
      port: this.options.port,
      family: net.isIPv6(this.options.host) ? "IPv6" : "IPv4",
    };
  }

  async listen(): Promise<void> {
    if (this.state !== "idle" || this.#server) return;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    server.on("connection", (socket) => this.acceptRequest(socket));
    // A listener error after listen() (rare: EMFILE on accept) is reported, not thrown.
    const onError = (err: Error) => this.emit("error", err);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.listenOptions(), () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
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
  }

  /** What `net.Server.listen` gets. */
  protected listenOptions(): net.ListenOptions {
    return { host: this.options.host, port: this.options.port, backlog: this.options.requestQueueSize };
  }

  protected listenError(err: unknown): NetworkError {
    return toNetworkError(err, { action: "listen", host: this.options.host, port: this.options.port });
  }

  protected peerOf(request: unknown): PeerAddress | undefined {
    const socket = request as net.Socket;
    if (socket.remoteAddress === undefined) return undefined;
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
 * A stream server on a Unix socket `path` (peers' `clientAddress.family` is "unix"). With
 * `allowReuseAddress` (default true) a stale socket file left by a dead server is replaced; a live
 * one is ADDRESS_IN_USE. The file is removed on `serverClose()`.
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

  protected override wireTransport(): "unix" {
    return "unix";
  }

  override get address(): BoundAddress {
    return { host: this.options.path ?? "", port: 0, family: "unix" };
  }

  override async listen(): Promise<void> {
    const path = this.options.path!;
    if (this.options.allowReuseAddress && (await isStaleSocket(path))) removeSocketFile(path);
    await super.listen();
  }

  override async serverClose(): Promise<void> {
    const wasListening = this.state === "running" || this.state === "closing";
    await super.serverClose();
    // Node unlinks the socket file when the server closes; this covers a crash-free double close.
    if (wasListening) removeSocketFile(this.options.path!);
  }

  protected override listenOptions(): net.ListenOptions {
    return { path: this.options.path!, backlog: this.options.requestQueueSize };
  }

  protected override listenError(err: unknown): NetworkError {
    return toNetworkError(err, { action: "listen", path: this.options.path! });
  }

  protected override peerOf(request: unknown): PeerAddress | undefined {
    const socket = request as net.Socket;
    if (socket.destroyed) return undefined;
    return { address: "", port: 0, family: "unix" };
  }
}
