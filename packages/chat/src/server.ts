import { EventEmitter } from "node:events";
import type net from "node:net";
import { type Decoder, LINE_DEFAULTS, lines, type ProtocolError } from "@netlab/protocol";
import {
  type HandlerClass,
  NetworkError,
  type PeerAddress,
  StreamRequestHandler,
  TCPServer,
} from "@netlab/socketserver";
import { ChatHub, HUB_DEFAULTS, type HubOptions, type Link, type PeerSnapshot, type Session } from "./hub.js";

/** Options for {@link ChatServer}: where to listen, and the hub's limits. Every one has a default. */
export interface ChatServerOptions extends Partial<HubOptions> {
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 0 (an ephemeral port; `listen()` returns the real one). `lab server` uses 5001. */
  port?: number;
  /** Longest line a client may send, in bytes. Default 64 KiB. */
  maxLineBytes?: number;
  /** How long `close()` waits for clients to take the shutdown notice. Default 2 000 ms. */
  drainTimeoutMs?: number;
}

/** How long a client told to go (kicked, quit, timed out) has to close before it is cut off. */
const KICK_LINGER_MS = 2_000;
const noop = () => {};
const handled = new WeakSet<Promise<void>>();

/** The TCP server under a ChatServer: refuses with a chat-style line, reports errors as events. */
class ChatTCPServer extends TCPServer {
  readonly hub: ChatHub;
  readonly maxLineBytes: number;
  readonly owner: ChatServer;
  /** Connections written to in this turn of the event loop, corked until it ends. */
  readonly #corked = new Set<ChatHandler>();
  #isFlushScheduled = false;

  constructor(
    owner: ChatServer,
    hub: ChatHub,
    o: Required<Pick<ChatServerOptions, "host" | "port">> & ChatServerOptions,
  ) {
    super(
      {
        host: o.host,
        port: o.port,
        maxConnections: hub.options.maxClients,
        idleTimeoutMs: o.idleTimeoutMs ?? HUB_DEFAULTS.idleTimeoutMs,
        drainTimeoutMs: o.drainTimeoutMs ?? 2_000,
      },
      ChatHandler as unknown as HandlerClass,
    );
    this.owner = owner;
    this.hub = hub;
    this.maxLineBytes = o.maxLineBytes ?? LINE_DEFAULTS.maxLineBytes;
  }

  /**
   * Corks `socket` until the end of this turn of the event loop, so the lines a broadcast burst
   * sends to one client leave in one write (one syscall) rather than one each. Latency cost: none
   * beyond the current turn.
   */
  cork(handler: ChatHandler): void {
    if (this.#corked.has(handler)) return;
    handler.request.cork();
    this.#corked.add(handler);
    if (!this.#isFlushScheduled) {
      this.#isFlushScheduled = true;
      setImmediate(() => this.#uncorkAll());
    }
  }

  #uncorkAll(): void {
    this.#isFlushScheduled = false;
    for (const handler of this.#corked) handler.flush();
    this.#corked.clear();
  }

  protected override refuse(request: unknown): void {
    const socket = request as net.Socket;
    socket.on("error", noop);
    socket.resume(); // read and drop, so closing is not a reset that could swallow the line
    socket.end(
      `! server full: ${this.hub.options.maxClients} clients connected; try again later [SERVER_FULL]\n`,
    );
    setTimeout(() => socket.destroy(), KICK_LINGER_MS).unref();
  }

  /** Every client gets the shutdown notice first, then the framework's shutdown closes them. */
  override async shutdown(): Promise<void> {
    this.hub.shutdown();
    await super.shutdown();
    this.hub.dispose();
  }

  override handleError(err: unknown, peer?: PeerAddress): void {
    // A package does not print: the app decides (lab server logs it to stderr).
    if (this.owner.listenerCount("error") > 0) this.owner.emit("error", err, peer);
  }
}

/** One chat connection: lines in go to the hub; the hub writes to it through a Link. */
class ChatHandler extends StreamRequestHandler<string, ChatTCPServer> {
  #session: Session | undefined;
  /** Bytes written while corked in this turn: not yet offered to the kernel, so not a backlog. */
  #corkedBytes = 0;

  /** Ends this turn's batch: one write to the kernel, then the slow-consumer check on what it refused. */
  flush(): void {
    this.request.uncork();
    this.#corkedBytes = 0;
    if (this.#session) this.server.hub.checkQueue(this.#session);
  }

  protected override createDecoder(): Decoder<string> {
    return lines({ maxLineBytes: this.server.maxLineBytes });
  }

  override setup(): void {
    const socket = this.request;
    const handler = this;
    const server = this.server;
    const link: Link = {
      write(bytes) {
        if (socket.destroyed || socket.writableEnded) return;
        server.cork(handler);
        handler.#corkedBytes += bytes.length;
        const sent = handler.wfile.write(bytes);
        // Never awaited (a slow reader must not hold up a broadcast), but a failure must not go
        // unhandled. Most writes return the same settled promise, so this costs one lookup.
        if (!handled.has(sent)) {
          handled.add(sent);
          sent.catch(noop);
        }
      },
      get bufferedBytes() {
        return Math.max(0, socket.writableLength - handler.#corkedBytes);
      },
      end() {
        if (!socket.writableEnded) socket.end();
        setTimeout(() => socket.destroy(), KICK_LINGER_MS).unref();
      },
      destroy() {
        socket.destroy();
      },
      address: this.clientAddress.address,
      port: this.clientAddress.port,
      get bytesIn() {
        return handler.info.bytesIn;
      },
    };
    this.#session = this.server.hub.attach(link);
  }

  override async handle(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    const hub = this.server.hub;
    for await (const line of this.rfile) {
      hub.receive(session, line);
      if (session.isClosed) break;
    }
  }

  protected override onProtocolError(err: ProtocolError): void {
    if (this.#session) this.server.hub.protocolError(this.#session, err);
  }

  protected override onIdleTimeout(): void {
    const session = this.#session;
    if (!session) return;
    const ms = this.timeout;
    const idle = ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
    this.server.hub.kick(session, "IDLE_TIMEOUT", `idle for ${idle}, disconnected`);
  }

  override finish(): void {
    const session = this.#session;
    if (!session) return;
    const reason = this.signal.reason as unknown;
    let why = "connection closed";
    if (this.server.state !== "running") why = "server shutdown";
    else if (reason instanceof NetworkError && reason.code === "TIMEOUT") why = "idle timeout";
    this.server.hub.detach(session, why);
  }
}

/**
 * The chat server: `ChatHub` (rooms, nicks, history, limits) on a `@netlab/socketserver` TCPServer,
 * one `StreamRequestHandler` per connection. Text mode for `nc` and friends; JSON mode for a client
 * whose first line is a `hello`.
 *
 * Events: "connect"(PeerSnapshot), "disconnect"(PeerSnapshot, reason), "message"({room, from, text}),
 * "join"({room, nick}), "leave"({room, nick, reason}), "nick"({from, to}), "error"(err, peer?).
 * @example
 * const server = new ChatServer({ port: 5001 });
 * const { port } = await server.listen();
 * server.on("connect", (p) => console.error(`connect ${p.address}:${p.port}`));
 * // later
 * await server.close();
 */
export class ChatServer extends EventEmitter {
  readonly hub: ChatHub;
  readonly #tcp: ChatTCPServer;
  #closing: Promise<void> | undefined;

  constructor(opts: ChatServerOptions = {}) {
    super();
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    // The socket server owns idle timeouts (its timer is refreshed by every byte in).
    this.hub = new ChatHub({ ...defined, idleTimeoutMs: Number.POSITIVE_INFINITY });
    for (const name of ["connect", "disconnect", "message", "join", "leave", "nick"]) {
      this.hub.on(name, (...args: unknown[]) => this.emit(name, ...args));
    }
    this.#tcp = new ChatTCPServer(this, this.hub, { host: "127.0.0.1", port: 0, ...defined });
  }

  /** Binds and starts serving. Throws NetworkError ADDRESS_IN_USE and the like. */
  async listen(): Promise<{ host: string; port: number }> {
    await this.#tcp.listen();
    void this.#tcp.serveForever();
    return this.address;
  }

  /** Where the server is bound (the real port once listening). */
  get address(): { host: string; port: number } {
    const a = this.#tcp.address;
    return { host: a.host, port: a.port };
  }

  /** The limits in force. */
  get options(): HubOptions {
    return { ...this.hub.options, idleTimeoutMs: this.#tcp.options.idleTimeoutMs };
  }

  /** Every client gets a shutdown notice, then the server closes. Harmless twice. */
  close(): Promise<void> {
    this.#closing ??= this.#tcp.shutdown();
    return this.#closing;
  }

  /**
   * The `@netlab/socketserver` server underneath, for code that runs any BaseServer (`lab server`
   * logs its open/close events, and its `shutdown()` sends the notice as `close()` does).
   */
  get socketServer(): TCPServer {
    return this.#tcp;
  }

  /** The operator console: `<server> text` to everyone. */
  broadcast(text: string): void {
    this.hub.broadcast(text);
  }

  peers(): PeerSnapshot[] {
    return this.hub.peers();
  }

  stats(): { clients: number; messagesTotal: number; bytesIn: number; bytesOut: number } {
    return this.hub.stats();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
