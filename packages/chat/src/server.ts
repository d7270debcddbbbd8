import { EventEmitter } from "node:events";
import type net from "node:net";
import { requireSafeAuth, startsTlsRecord } from "@netlab/core";
import { type ByteQueue, type Decoder, LINE_DEFAULTS, lines, type ProtocolError } from "@netlab/protocol";
import {
  type HandlerClass,
  type PeerAddress,
  type ServerTlsOptions,
  StreamRequestHandler,
  TCPServer,
} from "@netlab/socketserver";
import type { ChatBackend } from "./backend.js";
import { ChatError } from "./errors.js";
import { ChatHub, HUB_DEFAULTS, type HubOptions, type Link, type PeerSnapshot, type Session } from "./hub.js";
import { CHAT_ALPN, checkNick } from "./rules.js";

/** Options for {@link ChatServer}: where to listen, and the hub's limits. Every one has a default. */
export interface ChatServerOptions extends Partial<HubOptions> {
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 0 (an ephemeral port; `listen()` returns the real one). `lab server` uses 5001. */
  port?: number;
  /** A Unix socket path instead of host and port (see socketserver's TCPServer: 0600, ≤ 107 bytes). */
  path?: string;
  /** With host `::`, IPv6 clients only. Default false (dual-stack). */
  ipv6Only?: boolean;
  /** Longest line a client may send, in bytes. Default 64 KiB. */
  maxLineBytes?: number;
  /** How long `close()` waits for clients to take the shutdown notice. Default 2 000 ms. */
  drainTimeoutMs?: number;
  /**
   * Longest a line may take to arrive once its first byte is in, in ms: a client still sending one
   * line after this is told (`LINE_TIMEOUT`) and disconnected, so one byte a second cannot hold a
   * slot forever. Default 30 000; `Infinity` (or 0) is off.
   */
  frameTimeoutMs?: number;
  /** Speak TLS with this certificate and key; ALPN defaults to `netlab-chat/1`. Default: plaintext. */
  tls?: ServerTlsOptions;
  /**
   * Take `tokens` over a connection without TLS (where anyone on the path can read them). Default
   * false: a server with tokens and no TLS refuses to start (PLAINTEXT_AUTH).
   */
  allowPlaintextAuth?: boolean;
  /**
   * Cluster mode: rooms span every node on the same backend (`@netlab/chat-redis`). Started by
   * `listen()`, closed by `close()`. Default none: one process, as always.
   */
  backend?: ChatBackend;
}

/** How long a client told to go (kicked, quit, timed out) has to close before it is cut off. */
const KICK_LINGER_MS = 2_000;
const noop = () => {};
/** The hub's events, which a ChatServer passes on. */
const HUB_EVENTS: ReadonlySet<string | symbol> = new Set([
  "connect",
  "disconnect",
  "message",
  "join",
  "leave",
  "nick",
  "cluster",
  "lost",
  "error",
]);

/** The TCP server under a ChatServer: refuses with a chat-style line, reports errors as events. */
class ChatTCPServer extends TCPServer {
  readonly hub: ChatHub;
  readonly maxLineBytes: number;
  readonly owner: ChatServer;

  constructor(
    owner: ChatServer,
    hub: ChatHub,
    o: Required<Pick<ChatServerOptions, "host" | "port">> & ChatServerOptions,
  ) {
    super(
      {
        host: o.host,
        port: o.port,
        path: o.path,
        ipv6Only: o.ipv6Only,
        maxConnections: hub.options.maxClients,
        // Checked here (INVALID_OPTION); the hub's sweep enforces it, see ChatHandler.timeout.
        idleTimeoutMs: o.idleTimeoutMs ?? HUB_DEFAULTS.idleTimeoutMs,
        frameTimeoutMs: o.frameTimeoutMs,
        drainTimeoutMs: o.drainTimeoutMs ?? 2_000,
        tls: o.tls && { ...o.tls, alpnProtocols: o.tls.alpnProtocols ?? [CHAT_ALPN] },
      },
      ChatHandler as unknown as HandlerClass,
    );
    this.owner = owner;
    this.hub = hub;
    this.maxLineBytes = o.maxLineBytes ?? LINE_DEFAULTS.maxLineBytes;
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
    await this.hub.stop();
  }

  override handleError(err: unknown, peer?: PeerAddress): void {
    // A package does not print: the app decides (lab server logs it to stderr).
    if (this.owner.listenerCount("error") > 0) this.owner.emit("error", err, peer);
  }
}

/** What a TLS client's bytes on a plaintext port become: nothing. */
function dropAll(buf: ByteQueue): undefined {
  buf.take(buf.size);
  return undefined;
}

/**
 * A plaintext chat connection's decoder: lines, unless its first bytes begin a TLS handshake record
 * (`lab client --tls`, `ncat --ssl` on this port), which no person types: a ClientHello is not chat
 * lines for the room, so the client is told why and what else it sends is dropped. A class rather
 * than closures over the handler: those cost ~0.2 KiB more per idle connection.
 */
class PlaintextDecoder implements Decoder<string> {
  /** Undecided until the first bytes are in. */
  #isTls: boolean | undefined;
  readonly #lines: Decoder<string>;
  readonly #handler: { refuseTls(): void };

  constructor(lines: Decoder<string>, handler: { refuseTls(): void }) {
    this.#lines = lines;
    this.#handler = handler;
  }

  decode(buf: ByteQueue): string | undefined {
    if (this.#isTls === false) return this.#lines.decode(buf);
    if (this.#isTls === undefined) {
      this.#isTls = startsTlsRecord(buf.byteAt(0), buf.size > 1 ? buf.byteAt(1) : undefined);
      if (this.#isTls === undefined) return undefined;
      if (!this.#isTls) return this.#lines.decode(buf);
      this.#handler.refuseTls();
    }
    return dropAll(buf);
  }

  decodeEof(buf: ByteQueue): string | undefined {
    // Undecided means one byte that could begin a record, then the end: a line after all.
    return this.#isTls ? dropAll(buf) : this.#lines.decodeEof(buf);
  }
}

function destroySocket(socket: net.Socket): void {
  socket.destroy();
}

/**
 * One chat connection: lines in go to the hub, and the handler is the hub's Link to it (its writer,
 * `wfile.send()`: batched per turn, held under `maxQueuedBytes`). One object, not a handler and a
 * link beside it: at thousands of idle clients each object counts. The Link's methods are on the
 * prototype (an object literal of closures and accessors cost ~1 KB per idle client).
 */
class ChatHandler extends StreamRequestHandler<string, ChatTCPServer> implements Link {
  /**
   * The hub's idle sweep times clients out: one interval for all, not a timer per connection. Off
   * as 0 rather than Infinity, which V8 would keep as a boxed number in every handler.
   */
  override timeout = 0;
  #session: Session | undefined;

  protected override createDecoder(): Decoder<string> {
    const decoder = lines({ maxLineBytes: this.server.maxLineBytes });
    return this.server.isTls ? decoder : new PlaintextDecoder(decoder, this);
  }

  /** Tells a TLS client on this plaintext port why it is being closed (see {@link PlaintextDecoder}). */
  refuseTls(): void {
    if (this.#session) {
      this.server.hub.kick(
        this.#session,
        "WRONG_PROTOCOL",
        "this port does not speak TLS; connect without --tls",
      );
    }
  }

  override setup(): void {
    this.#session = this.server.hub.attach(this);
  }

  /** Link: queues bytes for the client (see StreamWriter.send). */
  send(bytes: Uint8Array): boolean {
    return this.wfile.send(bytes);
  }

  /** Link: what is queued for the client and not yet taken. */
  get bufferedBytes(): number {
    return this.wfile.bufferedBytes;
  }

  /** Link: this turn's batch goes first; a client that does not close is cut off after a while. */
  end(): void {
    this.wfile.end().catch(noop);
    setTimeout(destroySocket, KICK_LINGER_MS, this.request).unref();
  }

  /** Link: closes at once, dropping what is queued (the transport hook of that name, made public). */
  override destroy(): void {
    this.request.destroy();
  }

  get address(): string {
    return this.clientAddress.address;
  }

  get port(): number {
    return this.clientAddress.port;
  }

  /** Link: bytes received so far (the socket counts them). */
  get bytesIn(): number {
    return this.info.bytesIn;
  }

  /**
   * One line from the client, to the hub. Frames rather than a `handle()` loop: an idle client
   * (most of them, at 5 000) keeps no suspended async function, promise or closure, only a
   * callback parked on its reader. Lines that arrived together are handed over without a wait each.
   */
  protected override handleFrame(line: string): boolean | Promise<boolean> {
    const session = this.#session;
    // Refused by the hub (full, or shutting down): its last line is out; nothing more is read.
    if (!session) return false;
    // A promise while a token is checked, or (cluster mode) when the answer comes from the cluster:
    // the next line waits for it, so replies stay in order.
    const pending = this.server.hub.receive(session, line);
    if (pending) return pending.then(() => !session.isClosed);
    return !session.isClosed;
  }

  protected override onProtocolError(err: ProtocolError): void {
    if (this.#session) this.server.hub.protocolError(this.#session, err);
  }

  protected override onFrameTimeout(): void {
    if (!this.#session) return;
    const ms = this.frameTimeout;
    const after = ms < 10_000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`;
    this.server.hub.kick(this.#session, "LINE_TIMEOUT", `line not completed within ${after}, disconnected`);
  }

  /** The writer cut this client (its queue passed `maxQueueBytes`): the hub says why to the room. */
  protected override onSlowConsumer(): void {
    if (this.#session) this.server.hub.slowConsumer(this.#session);
  }

  override finish(): void {
    // Replies to the last lines go out when the framework ends the connection (the writer's batch
    // leaves before its end).
    const session = this.#session;
    if (!session) return;
    const why = this.server.state === "running" ? "connection closed" : "server shutdown";
    this.server.hub.detach(session, why);
  }
}

/**
 * The chat server: `ChatHub` (rooms, nicks, history, limits) on a `@netlab/socketserver` TCPServer,
 * one `StreamRequestHandler` per connection. Text mode for `nc` and friends; JSON mode for a client
 * whose first line is a `hello`.
 *
 * Events: "connect"(PeerSnapshot), "disconnect"(PeerSnapshot, reason), "message"({room, from, text}),
 * "join"({room, nick}), "leave"({room, nick, reason}), "nick"({from, to}), "error"(err, peer?); in
 * cluster mode also "cluster"({isDegraded, reason}) and "lost"({room, count, node}) (Pub/Sub).
 * @example
 * const server = new ChatServer({ port: 5001 });
 * const { port } = await server.listen();
 * server.on("connect", (p) => console.error(`connect ${formatPeer(p)}`)); // formatPeer from @netlab/core
 * // later
 * await server.close();
 */
export class ChatServer extends EventEmitter {
  readonly hub: ChatHub;
  readonly #tcp: ChatTCPServer;
  #closing: Promise<void> | undefined;

  constructor(opts: ChatServerOptions = {}) {
    super();
    const { backend, ...rest } = opts;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    checkTokens(opts);
    this.hub = new ChatHub(defined, backend);
    // An event is forwarded from its first listener on, so the hub builds no payloads nobody reads.
    const forwarded = new Set<string | symbol>();
    this.on("newListener", (name: string | symbol) => {
      if (!HUB_EVENTS.has(name) || forwarded.has(name)) return;
      forwarded.add(name);
      this.hub.on(name, (...args: unknown[]) => this.emit(name, ...args));
    });
    this.#tcp = new ChatTCPServer(this, this.hub, { host: "127.0.0.1", port: 0, ...defined });
  }

  /**
   * Binds and starts serving. Throws NetworkError ADDRESS_IN_USE and the like; in cluster mode it
   * joins the cluster first (and throws the backend's error: unreachable, auth, duplicate node id).
   */
  async listen(): Promise<{ host: string; port: number }> {
    await this.hub.start();
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
    return { ...this.hub.options };
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

  /** The rooms and how many clients each holds, by name (what `/rooms` lists); no per-client work. */
  rooms(): { name: string; clients: number }[] {
    return this.hub.rooms();
  }

  stats(): { clients: number; messagesTotal: number; bytesIn: number; bytesOut: number } {
    return this.hub.stats();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Refuses, before anything binds, tokens over plaintext (unless allowed) and token names that
 * could never be nicks. A server with the `tls` option is encrypted.
 */
function checkTokens(opts: ChatServerOptions): void {
  const tokens = opts.tokens;
  requireSafeAuth({
    hasTokens: tokens !== undefined,
    isEncrypted: opts.tls !== undefined,
    allowPlaintextAuth: opts.allowPlaintextAuth ?? false,
  });
  for (const grant of tokens?.grants() ?? []) {
    if (grant.name === undefined) continue;
    try {
      checkNick(grant.name);
    } catch (err) {
      const e = err as ChatError;
      throw new ChatError(e.code, `token file, line ${grant.line}: ${e.message}`, { hint: e.hint });
    }
  }
}
