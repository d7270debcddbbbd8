import { EventEmitter } from "node:events";
import type net from "node:net";
import { NetlabError } from "@netlab/core";
import { lines } from "@netlab/protocol";
import { connect, FramedReader, NetworkError } from "@netlab/socketserver";
import { ChatError } from "./errors.js";
import { type Command, nickKey, PROTOCOL_TAG, PROTOCOL_VERSION, parseInput } from "./rules.js";
import { type ChatEvent, type ClientMessage, chatEventSchema } from "./schema.js";

/** Where a client is in its life. */
export type ClientState = "connecting" | "connected" | "reconnecting" | "closed";
/** How the client talks to this server: undecided until the server's first line (or `detectMs`). */
export type ClientMode = "unknown" | "json" | "plain";

/** Raw bytes as they crossed the socket: one entry per TCP read ("in") or per write ("out"). */
export interface WireChunk {
  direction: "in" | "out";
  bytes: Uint8Array;
  /** ms since epoch */
  at: number;
}

/** Options for {@link ChatClient}. */
export interface ChatClientOptions {
  /** Default "127.0.0.1". */
  host?: string;
  port: number;
  /** The nick to ask for in JSON mode; the server picks `guest-N` when absent or taken. */
  nick?: string;
  /** Reconnect with backoff when the connection drops. Default false. */
  reconnect?: boolean;
  /** Give up a connection attempt after this long. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Give up when the server owes an answer and sends nothing for this long, in ms: after we wrote
   * something (in JSON mode a netlab server answers every line: hello, commands, pings) no byte
   * came back; against a plain line server, only while it has not sent a single byte on this
   * connection (a line server may rightly say nothing to a line). A quiet chat is not a stall:
   * nothing is owed while we send nothing. The client then closes with STALLED and does not
   * reconnect. Default 10 000 ms; `Infinity` waits forever.
   */
  stallTimeoutMs?: number;
  /** First reconnect delay, doubled after each failure up to `maxReconnectDelayMs`. Default 250 ms. */
  reconnectDelayMs?: number;
  /** Default 8 000 ms. */
  maxReconnectDelayMs?: number;
  /**
   * Stop reconnecting when no connection has been made for this long since the drop, in ms: the
   * client closes with RECONNECT_FAILED. Default 60 000 ms; `Infinity` retries forever.
   */
  reconnectTimeoutMs?: number;
  /** How long to wait for a server's first line before treating it as a plain line server. Default 300 ms. */
  detectMs?: number;
  /** Longest line accepted from the server. Default 1 MiB. */
  maxLineBytes?: number;
  /** Upgrade to JSON mode when the server announces `netlab chat/1`. Default true. */
  upgrade?: boolean;
}

/** The one line a full netlab chat server sends before closing. */
const FULL = /^! (.*) \[SERVER_FULL\]$/;

const DEFAULTS = {
  host: "127.0.0.1",
  reconnect: false,
  connectTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
  reconnectDelayMs: 250,
  maxReconnectDelayMs: 8_000,
  reconnectTimeoutMs: 60_000,
  detectMs: 300,
  maxLineBytes: 1024 * 1024,
  upgrade: true,
};

/**
 * A chat client: speaks JSON mode to a netlab chat server (upgrading only when the server's first
 * line announces `netlab chat/1`) and plain lines to anything else, sending nothing the caller did
 * not give it.
 *
 * Events: `event`(ChatEvent) in JSON mode; `line`(string) for each line from a plain server;
 * `state`(ClientState, error?) on every change, with the NetlabError that caused a drop;
 * `wire`(WireChunk) for every read and write (only computed when someone listens).
 * @example
 * const client = new ChatClient({ port: 5001, nick: "alice" });
 * client.on("event", (e) => console.log(formatEvent(e)));
 * await client.connect();
 * client.send("hello everyone");
 */
export class ChatClient extends EventEmitter {
  readonly #o: typeof DEFAULTS & ChatClientOptions;
  #state: ClientState = "connecting";
  #mode: ClientMode = "unknown";
  #socket: net.Socket | undefined;
  #nick: string | undefined;
  #room: string | undefined;
  /**
   * The nick to ask for on (re)connect: the one given, until the server answers; from then on
   * only a nick the server accepted, so a refused `/nick alice` is never claimed on a reconnect.
   */
  #wantedNick: string | undefined;
  /** Input given before the mode was known; sent once it is. */
  #queued: string[] = [];
  #detectTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #attempt = 0;
  /** When the last connection dropped (reconnect mode), for `reconnectTimeoutMs`. */
  #droppedAt = 0;
  /** Fires when an owed answer does not come within `stallTimeoutMs`. */
  #stallTimer: NodeJS.Timeout | undefined;
  /** Bytes read on the current connection. */
  #bytesHeard = 0;
  #pingSeq = 0;
  readonly #pongWaiters = new Map<string, () => void>();
  #lastDataAt = 0;
  #isClosing = false;
  /** JSON lines waiting for the server's welcome, or for room under its flood limit. */
  #outbox: string[] = [];
  #isWelcomed = false;
  #limits: { floodMessages: number; floodWindowMs: number } | undefined;
  /** When recent lines went out, oldest first: at most the flood budget. */
  #sentAt: number[] = [];
  #pumpTimer: NodeJS.Timeout | undefined;
  #drainWaiters: Array<() => void> = [];
  /** Why the client closed itself: a netlab server refused us (server full), or stopped answering. */
  #refusal: ChatError | undefined;

  constructor(opts: ChatClientOptions) {
    super();
    this.#o = { ...DEFAULTS, ...stripUndefined(opts), port: opts.port };
    this.#wantedNick = opts.nick;
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
  get host(): string {
    return this.#o.host;
  }
  get port(): number {
    return this.#o.port;
  }

  /**
   * Connects once. Rejects with a NetlabError such as CONNECTION_REFUSED (`cannot connect to
   * 127.0.0.1:5001: connection refused`, hint `is 'lab server' running?`); reconnection only
   * applies to drops after a successful connect.
   */
  async connect(): Promise<void> {
    this.#isClosing = false;
    this.#refusal = undefined;
    this.#setState("connecting");
    try {
      await this.#open();
    } catch (err) {
      this.#setState("closed", err as NetlabError);
      throw err;
    }
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
    const deadline = Date.now() + timeoutMs;
    await this.#waitForMode(timeoutMs);
    if (this.#mode === "json" && this.#state === "connected") {
      // Lines held back by pacing go first (however long that takes); then the ping's deadline starts.
      await this.#outboxDrained();
      if (this.#state !== "connected") return; // stalled or dropped while waiting: nothing will answer
      const id = `settle-${++this.#pingSeq}`;
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
      const quietFor = Date.now() - this.#lastDataAt;
      // A server that has not said a word yet owes one (the stall clock runs): quiet is no answer.
      if (quietFor >= quietMs && this.#stallTimer === undefined) break;
      // Short steps, so a server that closes ends the wait at once.
      const step = Math.min(25, quietFor >= quietMs ? 25 : quietMs - quietFor, deadline - Date.now());
      await new Promise((r) => setTimeout(r, Math.max(0, step) + 1));
    }
  }

  /** Leaves: sends `quit` in JSON mode, flushes, closes. Stops reconnecting. Harmless twice. */
  async close(): Promise<void> {
    this.#isClosing = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#detectTimer);
    clearTimeout(this.#stallTimer);
    const socket = this.#socket;
    if (socket && !socket.destroyed && socket.writableEnded) {
      // Already half-closed by settle(), which waited for the replies: nothing more is coming.
      socket.destroy();
    } else if (socket && !socket.destroyed) {
      this.#outbox = [];
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
    // now rather than when its "close" event comes (a caller checks right after close() resolves).
    this.#setState("closed", this.#refusal);
  }

  async #open(): Promise<void> {
    const socket = await connect({
      host: this.#o.host,
      port: this.#o.port,
      timeoutMs: this.#o.connectTimeoutMs,
    }).catch((err: unknown) => {
      // Refused is nearly always "the server is not running": say so. Other causes keep their hint.
      if (!(err instanceof NetworkError) || err.code !== "CONNECTION_REFUSED") throw err;
      throw new NetworkError(err.code, err.message, { hint: "is 'lab server' running?", cause: err.cause });
    });
    if (this.#isClosing) {
      socket.destroy();
      return;
    }
    this.#socket = socket;
    this.#mode = "unknown";
    this.#isWelcomed = false;
    this.#sentAt = [];
    this.#attempt = 0;
    this.#bytesHeard = 0;
    this.#lastDataAt = Date.now();
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => {}); // reported through "close"
    socket.on("close", () => this.#onClose(socket));
    // A bad line (too long, not UTF-8) is a local error event, and the next line is read.
    const reader = new FramedReader(socket, lines({ maxLineBytes: this.#o.maxLineBytes }), {
      onProtocolError: (err) => this.#localError(err),
    });
    this.#readLines(reader, socket).catch((err: NetlabError) => this.#localError(err));
    this.#setState("connected");
    // setImmediate: if the event loop was busy past detectMs, the server's first line may be
    // waiting in this very turn's I/O; let it be read before deciding the server is silent.
    this.#detectTimer = setTimeout(() => setImmediate(() => this.#decide("plain")), this.#o.detectMs);
  }

  #onData(chunk: Buffer): void {
    this.#lastDataAt = Date.now();
    this.#bytesHeard += chunk.length;
    // Any byte is an answer: what was owed has started to arrive.
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    if (this.listenerCount("wire") > 0) this.emit("wire", { direction: "in", bytes: chunk, at: Date.now() });
  }

  /** Hands each line of one connection to #onLine, until it ends (a last line without a newline counts after a FIN). */
  async #readLines(reader: FramedReader<string>, socket: net.Socket): Promise<void> {
    for (let line = await reader.readFrame(); line !== undefined; line = await reader.readFrame()) {
      if (socket !== this.#socket && socket.destroyed) return;
      this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    if (this.#mode === "unknown" && FULL.test(line)) {
      // A netlab server turning us away: say so, and do not retry (it is not an outage).
      this.#refusal = new ChatError("SERVER_FULL", line.replace(FULL, "$1"), {
        hint: "try again later, or ask the operator to raise --max-clients",
      });
      this.#localError(this.#refusal);
      this.#isClosing = true;
      this.#socket?.destroy();
      return;
    }
    if (this.#mode === "unknown") {
      const isNetlab = this.#o.upgrade && line.includes(PROTOCOL_TAG);
      this.#decide(isNetlab ? "json" : "plain");
      if (isNetlab) return; // the text banner; the JSON welcome follows
    }
    if (this.#mode === "plain") {
      this.emit("line", line);
      return;
    }
    if (!line.startsWith("{")) return; // text lines sent before the server saw our hello
    let event: ChatEvent;
    try {
      const parsed = chatEventSchema.safeParse(JSON.parse(line));
      if (!parsed.success) return; // an event from a newer server: skip it rather than fail
      event = parsed.data;
    } catch {
      return;
    }
    this.#track(event);
    this.emit("event", event);
  }

  #track(e: ChatEvent): void {
    switch (e.type) {
      case "welcome":
        // Given the nick we asked for (as people read it): remember the server's spelling. Given
        // another: ours was refused, and a reconnect must not claim it.
        if (this.#wantedNick !== undefined)
          this.#wantedNick = nickKey(e.nick) === nickKey(this.#wantedNick) ? e.nick : undefined;
        this.#nick = e.nick;
        this.#room = e.room;
        this.#limits = e.limits;
        this.#isWelcomed = true;
        queueMicrotask(() => this.#pump());
        break;
      case "nick":
        if (e.from === this.#nick) {
          this.#nick = e.to;
          this.#wantedNick = e.to;
        }
        break;
      case "join":
        if (e.nick === this.#nick) this.#room = e.room;
        break;
      case "pong": {
        const waiter = e.id === undefined ? undefined : this.#pongWaiters.get(String(e.id));
        waiter?.();
        break;
      }
    }
  }

  #decide(mode: "json" | "plain"): void {
    if (this.#mode !== "unknown") return;
    clearTimeout(this.#detectTimer);
    this.#mode = mode;
    if (mode === "json") {
      const hello: ClientMessage = { type: "hello", proto: PROTOCOL_VERSION };
      if (this.#wantedNick) hello.nick = this.#wantedNick;
      this.#sendJson(hello);
    }
    this.emit("mode", mode);
    const queued = this.#queued;
    this.#queued = [];
    for (const input of queued) this.send(input);
  }

  async #waitForMode(timeoutMs: number): Promise<void> {
    if (this.#mode !== "unknown" || this.#state !== "connected") return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.off("mode", done);
        self.off("state", done);
        resolve();
      }
      this.on("mode", done);
      this.on("state", done);
    });
  }

  #onClose(socket: net.Socket): void {
    if (socket !== this.#socket) return;
    clearTimeout(this.#detectTimer);
    clearTimeout(this.#stallTimer);
    this.#stallTimer = undefined;
    this.#socket = undefined;
    for (const waiter of this.#pongWaiters.values()) waiter();
    if (this.#isClosing) {
      if (this.#state !== "closed") this.#setState("closed", this.#refusal);
      return;
    }
    const err = new NetlabError(
      "CONNECTION_CLOSED",
      `the server at ${this.#o.host}:${this.#o.port} closed the connection`,
    );
    if (!this.#o.reconnect) {
      this.#setState("closed", err);
      return;
    }
    this.#droppedAt = Date.now();
    this.#setState("reconnecting", err);
    this.#scheduleReconnect(err);
  }

  /** The next attempt after backoff, unless it would start past `reconnectTimeoutMs`: then give up. */
  #scheduleReconnect(lastError: NetlabError): void {
    const delay = Math.min(this.#o.maxReconnectDelayMs, this.#o.reconnectDelayMs * 2 ** this.#attempt);
    const elapsed = Date.now() - this.#droppedAt;
    if (elapsed + delay > this.#o.reconnectTimeoutMs) {
      const seconds = Math.round(this.#o.reconnectTimeoutMs / 1000);
      this.#isClosing = true;
      this.#setState(
        "closed",
        new ChatError(
          "RECONNECT_FAILED",
          `gave up reconnecting to ${this.#o.host}:${this.#o.port} after ${seconds} s: ${lastError.message}`,
          { hint: lastError.hint ?? "is 'lab server' running? start it and connect again", cause: lastError },
        ),
      );
      return;
    }
    this.#attempt++;
    this.#reconnectTimer = setTimeout(async () => {
      if (this.#isClosing) return;
      try {
        await this.#open();
      } catch (err) {
        if (this.#isClosing) return;
        this.#setState("reconnecting", err as NetlabError);
        this.#scheduleReconnect(err as NetlabError);
      }
    }, delay);
  }

  /**
   * Starts the stall clock after a write, when the server owes an answer (see `stallTimeoutMs`)
   * and the clock is not already running; any byte read stops it.
   */
  #expectAnswer(): void {
    if (this.#stallTimer !== undefined || this.#isClosing) return;
    if (!Number.isFinite(this.#o.stallTimeoutMs)) return;
    const isOwed = this.#mode === "json" || (this.#mode === "plain" && this.#bytesHeard === 0);
    if (!isOwed) return;
    const socket = this.#socket;
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      if (this.#isClosing || socket !== this.#socket) return;
      const seconds = this.#o.stallTimeoutMs / 1000;
      this.#refusal = new ChatError(
        "STALLED",
        `no answer from ${this.#o.host}:${this.#o.port} in ${seconds} s`,
        {
          hint: "the server accepted the connection but does not answer; check it, or raise --stall-timeout",
        },
      );
      // Not an outage to retry: a server that accepts and says nothing would only do it again.
      this.#isClosing = true;
      socket?.destroy();
    }, this.#o.stallTimeoutMs);
  }

  #sendJson(message: ClientMessage): void {
    const line = `${JSON.stringify(message)}\n`;
    if (message.type === "hello") {
      this.#write(line);
      return;
    }
    this.#outbox.push(line);
    this.#pump();
  }

  /**
   * Sends what the outbox holds once welcomed, staying under 80% of the server's announced flood
   * limit (a script piping 1 000 lines is paced, not disconnected); waits for the window otherwise.
   */
  #pump(): void {
    clearTimeout(this.#pumpTimer);
    if (!this.#isWelcomed || this.#state !== "connected") return;
    const limits = this.#limits;
    const budget = limits ? Math.max(1, Math.floor(limits.floodMessages * 0.8)) : Number.POSITIVE_INFINITY;
    while (this.#outbox.length > 0) {
      const now = Date.now();
      if (limits) {
        while (this.#sentAt.length > 0 && this.#sentAt[0]! <= now - limits.floodWindowMs)
          this.#sentAt.shift();
        if (this.#sentAt.length >= budget) {
          // A tenth of a window more: lines can arrive closer together than they left.
          const waitMs = this.#sentAt[0]! + limits.floodWindowMs * 1.1 - now;
          this.#pumpTimer = setTimeout(() => this.#pump(), waitMs);
          return;
        }
        this.#sentAt.push(now);
      }
      this.#write(this.#outbox.shift()!);
    }
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when the outbox is empty, or the connection is gone. */
  #outboxDrained(): Promise<void> {
    if (this.#outbox.length === 0 || this.#state !== "connected") return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #write(text: string): void {
    const socket = this.#socket;
    if (!socket?.writable) return;
    const bytes = Buffer.from(text, "utf8");
    socket.write(bytes);
    this.#expectAnswer();
    if (this.listenerCount("wire") > 0) this.emit("wire", { direction: "out", bytes, at: Date.now() });
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
      clearTimeout(this.#pumpTimer);
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
    this.emit("state", state, error);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
