import { EventEmitter } from "node:events";
import type net from "node:net";
import { describeBytes, formatHostPort, formatSocketPath, NetlabError, sniffProtocol } from "@netlab/core";
import { lines, SecretRedactor } from "@netlab/protocol";
import {
  connect,
  FramedReader,
  NetworkError,
  tapData,
  toNetworkError,
  wireDataChannel,
} from "@netlab/socketserver";
import { connectTls, TlsError, tlsExitCode } from "@netlab/tls";
import { Backoff } from "./backoff.js";
import {
  type ChatClientOptions,
  CLIENT_DEFAULTS,
  type ClientMode,
  type ClientState,
  type Reconnected,
  stripUndefined,
} from "./client-options.js";
import { ChatError } from "./errors.js";
import { Outbox } from "./outbox.js";
import { CHAT_ALPN, type Command, nickKey, PROTOCOL_TAG, PROTOCOL_VERSION, parseInput } from "./rules.js";
import type { ChatEvent, ChatEventOf, ClientMessage, Hello } from "./schema.js";
import { parseEvent, serverFull } from "./server-line.js";
import { StallClock } from "./stall-clock.js";
import { firstEvent } from "./wait.js";

/** Errors before the welcome that mean the server will not let us in with what we have. */
const AUTH_REFUSALS: ReadonlySet<string> = new Set(["AUTH_FAILED", "AUTH_REQUIRED", "NICK_TAKEN"]);

/**
 * How many of a connection's first bytes are kept to tell a protocol no line client can talk:
 * enough for sniffProtocol to see a TLS server's "this port speaks TLS" and the message to quote it.
 */
const SNIFF_BYTES = 64;

/** The id prefix of settle()'s pings, whose pongs are not emitted as events. */
const SETTLE_ID = "settle-";

/** The events that end a wait for the mode: it is decided, or the connection changed. */
const MODE_OR_STATE = ["mode", "state"] as const;

/** drained() looks again at least this often, so no wait of its own is without an end. */
const DRAINED_RECHECK_MS = 1_000;

/**
 * A chat client: speaks JSON mode to a netlab chat server (upgrading only when the server's first
 * line announces `netlab chat/1`) and plain lines to anything else, sending nothing the caller did
 * not give it.
 *
 * Events: `event`(ChatEvent) in JSON mode; `line`(string) for each line from a plain server;
 * `state`(ClientState, error?) on every change, with the NetlabError that caused a drop;
 * `reconnected`(Reconnected) once a reconnect has been made and (JSON mode) asked for the room and
 * the messages missed;
 * `wire`(WireChunk) for every read and write (only computed when someone listens; tokens masked
 * unless `redact` is false); over TLS, the
 * TLS records as they crossed TCP (`tls: true`: ciphertext, handshake included) when someone
 * listened at connect time.
 * @example
 * const client = new ChatClient({ port: 5001, nick: "alice" });
 * client.on("event", (e) => console.log(formatEvent(e)));
 * await client.connect();
 * client.send("hello everyone");
 */
export class ChatClient extends EventEmitter {
  readonly #o: typeof CLIENT_DEFAULTS & ChatClientOptions;
  #state: ClientState = "connecting";
  #mode: ClientMode = "unknown";
  #socket: net.Socket | undefined;
  /** The socket corked for this turn's writes, until the tick that uncorks it. */
  #corked: net.Socket | undefined;
  #nick: string | undefined;
  #room: string | undefined;
  /**
   * The nick to ask for on (re)connect: the one given, until the server answers; from then on
   * only a nick the server accepted, so a refused `/nick alice` is never claimed on a reconnect.
   */
  #wantedNick: string | undefined;
  /**
   * The server's reclaim token for our nick (the `reclaim` of its last welcome or own `nick`
   * event): a reconnect's hello offers it, so a session the server still holds for us (our old
   * connection died without a FIN, or its node did) gives the nick back at once. Kept here only:
   * never emitted, logged or printed.
   */
  #reclaim: { nick: string; token: string } | undefined;
  /** Input given before the mode was known; sent once it is. */
  #queued: string[] = [];
  #detectTimer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  /** Fires when an owed answer does not come within `stallTimeoutMs`. */
  readonly #stall = new StallClock();
  /**
   * With other nodes to fail over to: pings a server that has been quiet for `stallTimeoutMs`, so
   * that a node gone silent (a machine that went away without a FIN) is noticed while we send
   * nothing, and a stall means "try the next node" rather than "give up".
   */
  #liveness: NodeJS.Timeout | undefined;
  /** Why the last connection was dropped on purpose to fail over (a stall), for the reconnect line. */
  #stalled: ChatError | undefined;
  /** Runs while the socket holds more than its high-water mark of ours: the server must read it. */
  #drainTimer: NodeJS.Timeout | undefined;
  /** Set while the caller has paused reading (its output backs up); resolved by resume(). */
  #paused: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Connections destroyed on purpose (a refusal, a stall): their buffered lines are dropped. */
  readonly #discarded = new WeakSet<net.Socket>();
  /** performance.now() at the last resume(): the drain clock does not count time spent paused. */
  #resumedAt = Number.NEGATIVE_INFINITY;
  /** Bytes read on the current connection. */
  #bytesHeard = 0;
  /** The first SNIFF_BYTES of the connection, for #sniff. */
  #firstBytes: Buffer = Buffer.alloc(0);
  /** This connection's `wire` redaction state, each way (a secret may be split across chunks). */
  #wireRedactors: { in: SecretRedactor; out: SecretRedactor } | undefined;
  #pingSeq = 0;
  readonly #pongWaiters = new Map<string, () => void>();
  #lastDataAt = 0;
  #isClosing = false;
  /** JSON lines waiting for the server's welcome, or for room under its flood limit. */
  readonly #outbox = new Outbox(
    (line) => this.#write(line),
    () => this.#state === "connected",
  );
  /** Why the client closed itself: a netlab server refused us (server full), or stopped answering. */
  #refusal: ChatError | undefined;
  /** The server's banner asked for a token. */
  #isAuthRequired = false;
  /** No welcome yet on this connection: an auth error now is a refusal, not a passing error. */
  #isWelcomed = false;
  /** `host`/`port`, then `failover`'s; `#at` is the one in use. */
  readonly #addresses: { host: string; port: number }[];
  #at = 0;
  /** Cluster mode: the `streamId` of the last message seen in `#room`, asked after on a reconnect. */
  #lastStreamId: string | undefined;
  /** The address a dropped connection was on, until the next connection is told what to resume. */
  #droppedFrom: string | undefined;

  constructor(opts: ChatClientOptions) {
    super();
    this.#o = { ...CLIENT_DEFAULTS, ...stripUndefined(opts), port: opts.port };
    this.#wantedNick = opts.nick;
    if (opts.nick !== undefined && opts.reclaimToken !== undefined) {
      this.#reclaim = { nick: opts.nick, token: opts.reclaimToken };
    }
    this.#backoff = new Backoff(this.#o);
    this.#addresses = [
      { host: this.#o.host, port: this.#o.port },
      ...(opts.failover ?? []).map((a) => ({ host: a.host ?? this.#o.host, port: a.port })),
    ];
  }

  get state(): ClientState {
    return this.#state;
  }
  get mode(): ClientMode {
    return this.#mode;
  }
  /** The nick the server gave us (JSON mode). */
  get nick(): string | undefined {
    return this.#nick;
  }
  /** The room we are in (JSON mode). */
  get room(): string | undefined {
    return this.#room;
  }
  /** The server connected to (or tried next): `host`, or one of `failover`'s. */
  get host(): string {
    return this.#addresses[this.#at]?.host ?? this.#o.host;
  }
  get port(): number {
    return this.#addresses[this.#at]?.port ?? this.#o.port;
  }
  /** Where the client connects, as the address grammar writes it: `[::1]:5001`, `unix:/path`. */
  get address(): string {
    return this.#o.path === undefined ? formatHostPort(this.host, this.port) : formatSocketPath(this.#o.path);
  }

  /**
   * Connects once (with `failover`, to the first address that answers, in turn). Rejects with a
   * NetlabError such as CONNECTION_REFUSED (`cannot connect to 127.0.0.1:5001: connection refused`,
   * hint `is 'lab server' running?`), the first address's when none answered; reconnection only
   * applies to drops after a successful connect.
   */
  async connect(): Promise<void> {
    this.#isClosing = false;
    this.#refusal = undefined;
    this.#droppedFrom = undefined;
    this.#at = 0;
    this.#setState("connecting");
    let first: unknown;
    for (let tried = 1; ; tried++) {
      try {
        await this.#open();
        return;
      } catch (err) {
        first ??= err;
        // A node that is down is the cluster's other nodes' cue; a TLS refusal or a bad option is not.
        if (!(err instanceof NetworkError) || tried >= this.#addresses.length || this.#isClosing) break;
        this.#at = (this.#at + 1) % this.#addresses.length;
      }
    }
    this.#setState("closed", first as NetlabError);
    throw first;
  }

  /**
   * Sends a line as a person types it. JSON mode: `hello` or `/join #x` become typed commands, and
   * a line that is not a valid command becomes a local `error` event. Plain mode: the line as is.
   */
  send(input: string): void {
    if (this.#state === "closed") {
      this.#localError(new ChatError("NOT_CONNECTED", "not connected", { hint: "connect first" }));
      return;
    }
    if (this.#mode === "unknown" || this.#state !== "connected") {
      this.#queued.push(input);
      return;
    }
    if (this.#mode === "plain") {
      this.#write(`${input}\n`);
      return;
    }
    let command: Command | undefined;
    try {
      command = parseInput(input);
    } catch (err) {
      if (err instanceof NetlabError) this.#localError(err);
      return;
    }
    if (command === undefined) return;
    // A /nick is remembered only once the server accepts it (the `nick` event, in #track).
    this.#sendJson(command);
  }

  /** Sends a typed command (JSON mode only; ignored otherwise). */
  sendCommand(command: Command): void {
    if (this.#mode === "json" && this.#state === "connected") this.#sendJson(command);
  }

  /**
   * Resolves when every reply to what was sent so far has arrived: in JSON mode the server's
   * answer to a `ping` sent now (it answers in order); in plain mode once `quietMs` pass without
   * data or the server closes (a server that has not said a word yet owes one: quiet does not end
   * the wait, an answer or a stall does). Lines held back to stay under the server's flood limit
   * are sent first; after that it never waits longer than `timeoutMs`.
   */
  async settle({ quietMs = 500, timeoutMs = 5_000 } = {}): Promise<void> {
    let deadline = Date.now() + timeoutMs;
    await this.#waitForMode(timeoutMs);
    if (this.#mode === "json" && this.#state === "connected") {
      // Lines held back by pacing go first (however long that takes); then the ping's deadline starts.
      await this.#outbox.drained();
      if (this.#state !== "connected") return; // stalled or dropped while waiting: nothing will answer
      const id = `${SETTLE_ID}${++this.#pingSeq}`;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#pongWaiters.set(id, done);
        this.#sendJson({ type: "ping", id });
      });
      this.#pongWaiters.delete(id);
      return;
    }
    this.#lastDataAt = Math.max(this.#lastDataAt, Date.now());
    this.#socket?.end(); // half-close: a line server sees EOF and can answer, then close
    while (this.#state === "connected" && Date.now() < deadline) {
      const paused = this.#paused;
      if (paused !== undefined) {
        // Our own reader's output is full: the server's quiet is ours. Wait for it as a write to a
        // full pipe waits, and give the time back to the deadline.
        const since = Date.now();
        await new Promise<void>((resolve) => {
          // Looks again each second, so a connection that closes meanwhile ends the wait.
          const timer = setTimeout(resolve, DRAINED_RECHECK_MS);
          void paused.promise.then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        deadline += Date.now() - since;
        continue;
      }
      const quietFor = Date.now() - this.#lastDataAt;
      // A server that has not said a word yet owes one (the stall clock runs): quiet is no answer.
      if (quietFor >= quietMs && !this.#stall.isRunning) break;
      // Short steps, so a server that closes ends the wait at once.
      const step = Math.min(25, quietFor >= quietMs ? 25 : quietMs - quietFor, deadline - Date.now());
      await new Promise((r) => setTimeout(r, Math.max(0, step) + 1));
    }
  }

  /**
   * Resolves once what was sent so far has left this client's own queues: the lines held back
   * for the server's welcome or flood limit, and the socket's buffer down under its high-water
   * mark (the kernel took the rest). Waits through a reconnect; resolves at once when closed. A
   * caller feeding input faster than the server takes it (`yes | lab client`) awaits this between
   * lines, so what it holds stays bounded instead of growing with the input.
   */
  async drained(): Promise<void> {
    for (;;) {
      if (this.#state === "closed") return;
      const socket = this.#socket;
      if (this.#state !== "connected" || this.#mode === "unknown" || !socket) {
        await firstEvent(this, MODE_OR_STATE, DRAINED_RECHECK_MS);
        continue;
      }
      await this.#outbox.drained();
      if (this.#state !== "connected" || this.#socket !== socket) continue;
      if (!socket.writableNeedDrain) return;
      await firstEvent(socket, ["drain", "close"], DRAINED_RECHECK_MS);
    }
  }

  /**
   * Stops handing lines on until {@link ChatClient.resume}: the socket is paused once 64 KiB wait
   * unread, so TCP holds the server back. For a caller whose own output backs up (a piped stdout
   * that is read slowly, or not at all): without it, a server sending fast would grow this process
   * without limit. No stall is counted while paused (the answer may be among the unread bytes).
   * Harmless twice.
   */
  pause(): void {
    if (this.#paused !== undefined) return;
    let resolve = () => {};
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#paused = { promise, resolve };
    this.#stall.stop();
  }

  /** Reads on after {@link ChatClient.pause}. Harmless when not paused. */
  resume(): void {
    const paused = this.#paused;
    if (paused !== undefined) {
      this.#resumedAt = performance.now();
      // What waited unread is arriving now: for settle(), the server has not gone quiet.
      this.#lastDataAt = Date.now();
    }
    this.#paused = undefined;
    paused?.resolve();
  }

  /** Leaves: sends `quit` in JSON mode, flushes, closes. Stops reconnecting. Harmless twice. */
  async close(): Promise<void> {
    this.#isClosing = true;
    this.#backoff.cancel();
    clearTimeout(this.#detectTimer);
    this.#stall.stop();
    const socket = this.#socket;
    if (socket && !socket.destroyed && socket.writableEnded) {
      // Already half-closed by settle(), which waited for the replies: nothing more is coming.
      socket.destroy();
    } else if (socket && !socket.destroyed) {
      this.#outbox.clear();
      if (this.#mode === "json" && this.#state === "connected" && socket.writable) {
        this.#write(`${JSON.stringify({ type: "quit" })}\n`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => socket.destroy(), 1_000);
        socket.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
        socket.end();
      });
    }
    // A stall or a refusal may have destroyed the socket already: it is why we closed, so say it
    // now rather than when its "close" event comes (a caller checks right after close() resolves);
    // once, whichever of the two comes first.
    if (this.#state !== "closed") this.#setState("closed", this.#refusal);
  }

  async #open(): Promise<void> {
    const socket = await this.#dial().catch((err: unknown) => {
      // Refused is nearly always "the server is not running": say so. Other causes keep their hint.
      if (!(err instanceof NetworkError) || err.code !== "CONNECTION_REFUSED") throw err;
      throw new NetworkError(err.code, err.message, { hint: "is 'lab server' running?", cause: err.cause });
    });
    if (this.#isClosing) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    this.#startLiveness();
    this.#mode = "unknown";
    this.#isAuthRequired = false;
    this.#isWelcomed = false;
    this.#outbox.reset();
    this.#backoff.connected();
    this.#bytesHeard = 0;
    this.#wireRedactors = undefined;
    this.#firstBytes = Buffer.alloc(0);
    this.#lastDataAt = Date.now();
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {}); // reported through "close"
    socket.on("close", () => this.#onClose(socket));
    // A bad line (too long, not UTF-8) is a local error event, and the next line is read.
    const reader = new FramedReader(socket, lines({ maxLineBytes: this.#o.maxLineBytes }), {
      onProtocolError: (err) => this.#localError(err),
      // The stall clock stops at the first byte of an answer: this bounds the rest of it.
      frameTimeoutMs: this.#o.frameTimeoutMs,
      onFrameTimeout: () => {
        // A plain line server may leave a prompt ("Name: ") unended while a person thinks.
        if (this.#mode === "plain") return;
        const seconds = this.#o.frameTimeoutMs / 1000;
        this.#cut(
          socket,
          new ChatError(
            "STALLED",
            `the server at ${this.address} sent part of a line and no end to it in ${seconds} s`,
            {
              hint: "the server is stuck or is not a line server; check it, or raise --line-timeout",
            },
          ),
        );
      },
    });
    this.#readLines(reader, socket).catch((err: NetlabError) => this.#localError(err));
    this.#setState("connected");
    // setImmediate: if the event loop was busy past detectMs, the server's first line may be
    // waiting in this very turn's I/O; let it be read before deciding the server is silent.
    this.#detectTimer = setTimeout(() => setImmediate(() => this.#decide("plain")), this.#o.detectMs);
  }

  /** A plain TCP connection, or a TLS one whose server is trusted (nothing sent yet either way). */
  async #dial(): Promise<net.Socket> {
    const { host, port } = this;
    const { tls } = this.#o;
    const { path, family } = this.#o;
    if (!tls) return connect({ host, port, path, family, timeoutMs: this.#o.connectTimeoutMs });
    try {
      const { socket, peer } = await connectTls({
        host,
        port,
        trust: tls.trust,
        handshakeTimeoutMs: tls.handshakeTimeoutMs ?? this.#o.connectTimeoutMs,
        alpnProtocols: [CHAT_ALPN],
        // What crosses TCP is ciphertext: that is what a wire view must show.
        ...(this.listenerCount("wire") > 0
          ? {
              tap: (direction: "in" | "out", bytes: Uint8Array) =>
                this.emit("wire", { direction, bytes, at: Date.now(), tls: true }),
            }
          : {}),
      });
      socket.setNoDelay(true);
      tls.onPeer?.(peer);
      return socket;
    } catch (err) {
      if (err instanceof TlsError) throw err;
      throw toNetworkError(err, { action: "connect", host, port });
    }
  }

  #onData(chunk: Buffer): void {
    this.#lastDataAt = Date.now();
    if (this.#bytesHeard < SNIFF_BYTES) this.#sniff(chunk);
    this.#bytesHeard += chunk.length;
    // Any byte is an answer: what was owed has started to arrive.
    this.#stall.stop();
    if (!this.#o.tls && this.listenerCount("wire") > 0) this.#emitWire("in", chunk);
  }

  /**
   * The first bytes of a connection, checked for a protocol no line client can talk (a lab files
   * server's header, a TLS record or a netlab TLS server's one line to plaintext clients): that ends
   * the client with what it reached and how to reach it, not with mojibake or a line printed as if
   * it were chat. Text banners (HTTP, SMTP, SSH) are for a line client to read.
   */
  #sniff(chunk: Buffer): void {
    this.#firstBytes = Buffer.concat([this.#firstBytes, chunk]).subarray(0, SNIFF_BYTES);
    if (this.#firstBytes.length < SNIFF_BYTES && this.#firstBytes.length < 6) return;
    const sniffed = sniffProtocol(this.#firstBytes);
    if (sniffed === undefined || !["netlab-files", "netlab-tls-port", "tls"].includes(sniffed.name)) return;
    const at = this.address;
    const said = describeBytes(this.#firstBytes);
    this.#refusal =
      sniffed.name === "netlab-files"
        ? new ChatError(
            "WRONG_PROTOCOL",
            `reached ${sniffed.description} at ${at}, not a chat or line server (it sent ${said})`,
            {
              hint: "send and fetch files with 'lab transfer'; lab server listens on 5001 unless told otherwise: check --port",
            },
          )
        : new ChatError("WRONG_PROTOCOL", `the server at ${at} speaks TLS (it sent ${said})`, {
            hint: `add --tls: lab client --tls ${at}`,
          });
    this.#isClosing = true;
    this.#discard(this.#socket);
  }

  /** Hands each line of one connection to #onLine, until it ends (a last line without a newline counts after a FIN). */
  async #readLines(reader: FramedReader<string>, socket: net.Socket): Promise<void> {
    for (let line = await reader.readFrame(); line !== undefined; line = await reader.readFrame()) {
      if (this.#paused !== undefined) await this.#paused.promise;
      // A refused or stalled connection was destroyed on purpose: what it still had buffered is
      // not chat; nor is an old connection's once a new one is up. A connection that simply
      // closed is read to its end (while paused, its last lines come after the close).
      if (this.#discarded.has(socket)) return;
      if (socket.destroyed && this.#socket !== undefined && socket !== this.#socket) return;
      this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    const refusal = this.#mode === "unknown" ? serverFull(line) : undefined;
    if (refusal !== undefined) {
      // A netlab server turning us away: say so, and do not retry (it is not an outage).
      this.#refusal = refusal;
      this.#localError(this.#refusal);
      this.#isClosing = true;
      this.#discard(this.#socket);
      return;
    }
    if (this.#mode === "unknown") {
      const isNetlab = this.#o.upgrade && line.includes(PROTOCOL_TAG);
      this.#isAuthRequired = isNetlab && line.includes("[AUTH_REQUIRED]");
      this.#decide(isNetlab ? "json" : "plain");
      if (isNetlab) return; // the text banner; the JSON welcome follows
    }
    if (this.#mode === "plain") {
      this.emit("line", line);
      return;
    }
    const event = parseEvent(line);
    if (event === undefined) return;
    this.#track(event);
    if (event.type === "error" && event.code === "NICK_RECLAIMED") {
      // Another client took our nick with our token: reconnecting would take it back, and so on.
      this.#refusal = new ChatError("NICK_RECLAIMED", event.message, {
        hint: "another connection offered this client's reclaim token; not reconnecting",
      });
      this.emit("event", event);
      this.#isClosing = true;
      this.#discard(this.#socket);
      return;
    }
    // settle()'s own ping is bookkeeping, not a reply anyone asked for (docs/chat.md showed
    // "* pong settle-1" to every library user who printed events).
    if (event.type === "pong" && typeof event.id === "string" && event.id.startsWith(SETTLE_ID)) return;
    this.emit("event", event);
    if (event.type === "error" && !this.#isWelcomed && AUTH_REFUSALS.has(event.code)) {
      // Refused at the door: retrying with the same token would only earn a longer delay.
      this.#refusal = new ChatError(event.code as "AUTH_FAILED", event.message, {
        hint: event.hint ?? "check --token-file or LAB_TOKEN",
      });
      this.#isClosing = true;
      this.#discard(this.#socket);
    }
  }

  #track(e: ChatEvent): void {
    switch (e.type) {
      case "welcome":
        this.#isWelcomed = true;
        this.#keepReclaim(e);
        // Given the nick we asked for (as people read it): remember the server's spelling. Given
        // another: ours was refused, and a reconnect must not claim it.
        if (this.#wantedNick !== undefined)
          this.#wantedNick = nickKey(e.nick) === nickKey(this.#wantedNick) ? e.nick : undefined;
        this.#nick = e.nick;
        this.#room = e.room;
        this.#outbox.welcome(
          e.limits && {
            floodMessages: e.limits.floodMessages,
            floodWindowMs: Math.min(e.limits.floodWindowMs, this.#o.maxPaceWindowMs),
          },
        );
        break;
      case "nick":
        if (e.from === this.#nick) {
          this.#nick = e.to;
          this.#wantedNick = e.to;
        }
        this.#keepReclaim(e);
        break;
      case "join":
        if (e.nick === this.#nick) {
          if (e.room !== this.#room) this.#lastStreamId = undefined;
          this.#room = e.room;
        }
        break;
      case "message":
        if (e.streamId !== undefined && e.room === this.#room) this.#lastStreamId = e.streamId;
        break;
      case "pong": {
        const waiter = e.id === undefined ? undefined : this.#pongWaiters.get(String(e.id));
        waiter?.();
        break;
      }
    }
  }

  /** Keeps the event's reclaim token and takes it out: what is emitted gets printed and logged. */
  #keepReclaim(e: ChatEventOf<"welcome"> | ChatEventOf<"nick">): void {
    if (e.reclaim === undefined) return;
    this.#reclaim = { nick: e.type === "welcome" ? e.nick : e.to, token: e.reclaim };
    delete e.reclaim;
    this.#o.onReclaim?.({ ...this.#reclaim });
  }

  #decide(mode: "json" | "plain"): void {
    if (this.#mode !== "unknown") return;
    clearTimeout(this.#detectTimer);
    this.#mode = mode;
    const hello = mode === "json" ? this.#sendHello() : undefined;
    if (this.#droppedFrom !== undefined) {
      const reconnected: Reconnected = { from: this.#droppedFrom, to: this.address };
      if (hello?.room !== undefined) reconnected.room = hello.room;
      if (hello?.since !== undefined) reconnected.since = hello.since;
      this.#droppedFrom = undefined;
      this.emit("reconnected", reconnected);
    }
    this.emit("mode", mode);
    const queued = this.#queued;
    this.#queued = [];
    for (const input of queued) this.send(input);
  }

  /**
   * The hello, with the token when the server asked for one (asking `requestToken` if need be).
   * On a reconnect it asks for the room we were in and, in a cluster, the messages after the last
   * one seen there.
   */
  #sendHello(): Hello {
    const hello: Hello = { type: "hello", proto: PROTOCOL_VERSION };
    if (this.#wantedNick) hello.nick = this.#wantedNick;
    const reclaim = this.#reclaim;
    if (hello.nick !== undefined && reclaim && nickKey(reclaim.nick) === nickKey(hello.nick)) {
      hello.reclaim = reclaim.token;
    }
    if (this.#room !== undefined) hello.room = this.#room;
    if (this.#room !== undefined && this.#lastStreamId !== undefined) hello.since = this.#lastStreamId;
    if (!this.#isAuthRequired) {
      this.#sendJson(hello);
      return hello;
    }
    const socket = this.#socket;
    const send = (token: string | undefined) => {
      if (socket !== this.#socket || this.#isClosing) return;
      if (token) hello.token = token;
      this.#sendJson(hello);
    };
    if (this.#o.token !== undefined || this.#o.requestToken === undefined) {
      send(this.#o.token);
      return hello;
    }
    this.#o.requestToken().then(send, () => send(undefined));
    return hello;
  }

  async #waitForMode(timeoutMs: number): Promise<void> {
    if (this.#mode !== "unknown" || this.#state !== "connected") return;
    await firstEvent(this, MODE_OR_STATE, timeoutMs);
  }

  #onClose(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#detectTimer);
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#stall.stop();
    this.#socket = undefined;
    for (const waiter of this.#pongWaiters.values()) waiter();
    if (this.#isClosing) {
      if (this.#state !== "closed") this.#setState("closed", this.#refusal);
      return;
    }
    const err =
      this.#stalled ??
      new NetlabError("CONNECTION_CLOSED", `the server at ${this.address} closed the connection`, {
        hint: "it shut down or ended this connection: check that it runs, or its log for why",
      });
    this.#stalled = undefined;
    if (!this.#o.reconnect) {
      this.#setState("closed", err);
      return;
    }
    this.#backoff.dropped();
    this.#droppedFrom ??= this.address;
    this.#setState("reconnecting", err);
    this.#scheduleReconnect(err);
  }

  /** The next attempt after backoff, unless it would start past `reconnectTimeoutMs`: then give up. */
  #scheduleReconnect(lastError: NetlabError): void {
    const isScheduled = this.#backoff.schedule(async () => {
      if (this.#isClosing) return;
      // Each attempt goes to the next node of the cluster (with one address: the same one).
      this.#at = (this.#at + 1) % this.#addresses.length;
      try {
        await this.#open();
      } catch (err) {
        if (this.#isClosing) return;
        if (err instanceof TlsError && tlsExitCode(err) === 60) {
          // A server we no longer trust stays untrusted: retrying would only ask again.
          this.#isClosing = true;
          this.#setState("closed", err);
          return;
        }
        this.#setState("reconnecting", err as NetlabError);
        this.#scheduleReconnect(err as NetlabError);
      }
    });
    if (isScheduled) return;
    const seconds = Math.round(this.#o.reconnectTimeoutMs / 1000);
    this.#isClosing = true;
    this.#setState(
      "closed",
      new ChatError(
        "RECONNECT_FAILED",
        `gave up reconnecting to ${this.#everyAddress()} after ${seconds} s: ${lastError.message}`,
        { hint: lastError.hint ?? "is 'lab server' running? start it and connect again", cause: lastError },
      ),
    );
  }

  /** Every address this client tries, as people read them: `127.0.0.1:5001 or 127.0.0.1:5002`. */
  #everyAddress(): string {
    if (this.#o.path !== undefined || this.#addresses.length === 1) return this.address;
    return this.#addresses.map((a) => formatHostPort(a.host, a.port)).join(" or ");
  }

  /**
   * Starts the stall clock after a write, when the server owes an answer (see `stallTimeoutMs`)
   * and the clock is not already running; any byte read stops it.
   */
  #expectAnswer(): void {
    if (this.#stall.isRunning || this.#isClosing || this.#paused !== undefined) return;
    if (!Number.isFinite(this.#o.stallTimeoutMs)) return;
    const isOwed = this.#mode === "json" || (this.#mode === "plain" && this.#bytesHeard === 0);
    if (!isOwed) return;
    const socket = this.#socket;
    this.#stall.start(this.#o.stallTimeoutMs, () => {
      const seconds = this.#o.stallTimeoutMs / 1000;
      this.#cut(
        socket,
        new ChatError("STALLED", `no answer from ${this.address} in ${seconds} s`, {
          hint: "the server accepted the connection but does not answer; check it, or raise --stall-timeout",
        }),
      );
    });
  }

  /**
   * Starts the drain clock when a write finds the socket full: a server that reads nothing of what
   * we send for `stallTimeoutMs` is stalled too (a plain server that greeted us owes no answer, so
   * the stall clock alone would let `yes | lab client` wait on it forever, if in bounded memory).
   */
  #expectDrain(socket: net.Socket): void {
    if (this.#drainTimer !== undefined || !Number.isFinite(this.#o.stallTimeoutMs)) return;
    const onDrain = () => {
      clearTimeout(this.#drainTimer);
      this.#drainTimer = undefined;
    };
    socket.once("drain", onDrain);
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      socket.off("drain", onDrain);
      if (!socket.writableNeedDrain) return;
      // We stopped reading (our stdout is full) during this wait: a server blocked writing to us
      // read nothing either, through no fault of its own. Count afresh from when we read again.
      if (this.#paused !== undefined || performance.now() - this.#resumedAt < this.#o.stallTimeoutMs) {
        this.#expectDrain(socket);
        return;
      }
      const seconds = this.#o.stallTimeoutMs / 1000;
      this.#cut(
        socket,
        new ChatError(
          "STALLED",
          `the server at ${this.address} read nothing of what we sent in ${seconds} s`,
          {
            hint: "the server accepted the connection but does not read; check it, or raise --stall-timeout",
          },
        ),
      );
    }, this.#o.stallTimeoutMs);
  }

  /** Destroys a connection on purpose: whatever it still had buffered is not read. */
  #discard(socket: net.Socket | undefined): void {
    if (socket === undefined) return;
    this.#discarded.add(socket);
    socket.destroy();
  }

  /** Drops a connection whose server stopped answering (`stalled` says how): fail over, or close. */
  #cut(socket: net.Socket | undefined, stalled: ChatError): void {
    if (this.#isClosing || socket !== this.#socket) return;
    if (this.#canFailOver) {
      // Another node can take over: to a client, a node whose machine went away looks like this.
      this.#stalled = stalled;
      this.#discard(socket);
      return;
    }
    // Alone, not an outage to retry: a server that accepts and says nothing would only do it again.
    this.#refusal = stalled;
    this.#isClosing = true;
    this.#discard(socket);
  }

  /** Reconnecting, with other nodes to go to, and a stall timeout to notice a silent one by. */
  get #canFailOver(): boolean {
    return this.#o.reconnect && this.#addresses.length > 1 && Number.isFinite(this.#o.stallTimeoutMs);
  }

  /** Starts the liveness pings (once) when this client can fail over. */
  #startLiveness(): void {
    if (this.#liveness !== undefined || !this.#canFailOver) return;
    const every = this.#o.stallTimeoutMs;
    this.#liveness = setInterval(() => {
      const isQuiet = Date.now() - this.#lastDataAt >= every;
      if (this.#mode !== "json" || this.#state !== "connected" || this.#stall.isRunning || !isQuiet) return;
      // A settle id: its pong is bookkeeping, not an event.
      this.#sendJson({ type: "ping", id: `${SETTLE_ID}${++this.#pingSeq}` });
    }, every);
    this.#liveness.unref();
  }

  #sendJson(message: ClientMessage): void {
    const line = `${JSON.stringify(message)}\n`;
    if (message.type === "hello") {
      this.#write(line);
      return;
    }
    this.#outbox.push(line);
  }

  #write(text: string): void {
    const socket = this.#socket;
    if (!socket?.writable) return;
    const bytes = Buffer.from(text, "utf8");
    if (this.#corked !== socket) {
      // The lines of one turn (a chunk of piped input) leave in one system call, not one each.
      this.#corked = socket;
      socket.cork();
      process.nextTick(() => {
        if (this.#corked === socket) this.#corked = undefined;
        socket.uncork();
      });
    }
    if (!socket.write(bytes)) this.#expectDrain(socket);
    if (wireDataChannel.hasSubscribers) tapData(socket, "out", bytes);
    this.#expectAnswer();
    if (!this.#o.tls && this.listenerCount("wire") > 0) this.#emitWire("out", bytes);
  }

  /** A plaintext `wire` chunk, its tokens masked unless `redact` is false. */
  #emitWire(direction: "in" | "out", bytes: Uint8Array): void {
    if (this.#o.redact) {
      this.#wireRedactors ??= { in: new SecretRedactor(), out: new SecretRedactor() };
      bytes = this.#wireRedactors[direction].push(bytes);
    }
    this.emit("wire", { direction, bytes, at: Date.now() });
  }

  #localError(err: NetlabError): void {
    const event: ChatEvent = { type: "error", code: err.code, message: err.message };
    if (err.hint) event.hint = err.hint;
    this.emit("event", event);
  }

  #setState(state: ClientState, error?: NetlabError): void {
    if (state === this.#state && error === undefined) return;
    this.#state = state;
    if (state !== "connected") {
      this.#outbox.stop();
    }
    if (state === "closed") {
      clearInterval(this.#liveness);
      this.#liveness = undefined;
    }
    this.emit("state", state, error);
  }
}
