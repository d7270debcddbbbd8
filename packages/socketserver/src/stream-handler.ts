import type net from "node:net";
import { type Decoder, lines, type ProtocolError } from "@netlab/protocol";
import { BaseRequestHandler, peerText } from "./base-handler.js";
import type { BaseServer } from "./base-server.js";
import { NetworkError } from "./errors.js";
import { FramedReader, type FramedReaderOptions, type StreamReader } from "./framed-reader.js";
import {
  HANDLED_LATER,
  kAbort,
  kAbortReason,
  kClosing,
  kHandle,
  kHandled,
  kReadParked,
  kSlowConsumer,
  kWants,
  kWriteGone,
  RESOLVED,
  settleWithin,
} from "./internal.js";
import { isWireWatched, tapOpen, tapReason, wireChannel } from "./tap.js";
import type { CloseReason, ConnectionInfo, PeerAddress } from "./types.js";
import { SocketWriter, type StreamWriter } from "./writer.js";

/** How long a finished connection waits for the peer to close before it is destroyed. */
const LINGER_MS = 2_000;

/** The handler's private operations that its reader's hooks call; set in the handler's static block. */
let ops: {
  onChunk(h: StreamRequestHandler<unknown>, chunk: Uint8Array): void;
  onFrame(h: StreamRequestHandler<unknown>, frame: unknown): void;
  onProtocolError(h: StreamRequestHandler<unknown>, err: ProtocolError): void | Promise<void>;
  onFrameTimeout(h: StreamRequestHandler<unknown>): void;
  onWait(h: StreamRequestHandler<unknown>): void;
  onClose(h: StreamRequestHandler<unknown>): void;
  onError(h: StreamRequestHandler<unknown>, err: Error): void;
};

/**
 * What the handler's reader tells it (the socket's close and error too): one small object per
 * connection, its methods on the prototype, rather than an object of closures. The tunables are read when they apply, so a
 * handler may change them in setup() or later.
 */
class ReaderHooks implements FramedReaderOptions<unknown> {
  readonly #h: StreamRequestHandler<unknown>;
  constructor(h: StreamRequestHandler<unknown>) {
    this.#h = h;
  }
  get maxReadBytes(): number {
    return this.#h.maxReadBytes;
  }
  get frameTimeoutMs(): number {
    return this.#h.frameTimeout;
  }
  onChunk(chunk: Uint8Array): void {
    ops.onChunk(this.#h, chunk);
  }
  onFrame(frame: unknown): void {
    ops.onFrame(this.#h, frame);
  }
  onProtocolError(err: ProtocolError): void | Promise<void> {
    return ops.onProtocolError(this.#h, err);
  }
  onFrameTimeout(): void {
    ops.onFrameTimeout(this.#h);
  }
  onWait(): void {
    ops.onWait(this.#h);
  }
  onClose(): void {
    ops.onClose(this.#h);
  }
  onError(err: Error): void {
    ops.onError(this.#h, err);
  }
}

/** A stream connection's info: byte counts read live from the socket (Node counts them already). */
class StreamInfo implements ConnectionInfo {
  readonly id: number;
  readonly peer: PeerAddress;
  readonly openedAt: number;
  framesIn = 0;
  framesOut = 0;
  closeReason?: CloseReason;
  readonly #socket: net.Socket;
  constructor(id: number, peer: PeerAddress, socket: net.Socket) {
    this.id = id;
    this.peer = peer;
    this.openedAt = Date.now();
    this.#socket = socket;
  }
  get bytesIn(): number {
    return this.#socket.bytesRead;
  }
  get bytesOut(): number {
    return this.#socket.bytesWritten;
  }
  toJSON(): ConnectionInfo {
    const { id, peer, openedAt, bytesIn, bytesOut, framesIn, framesOut, closeReason } = this;
    return { id, peer, openedAt, bytesIn, bytesOut, framesIn, framesOut, closeReason };
  }
}

/**
 * One instance per TCP or Unix stream connection. `rfile` reads frames (lines by default; override
 * `createDecoder()` for another framing) or raw bytes; `wfile.write()` waits for drain when the
 * socket's buffer is full, so a slow reader cannot grow the server's memory.
 *
 * Tunables (set as fields, read after `setup()`): `timeout` (idle ms, default the server's
 * `idleTimeoutMs`), `frameTimeout` (ms a partial frame may wait, default the server's
 * `frameTimeoutMs`), `disableNagleAlgorithm` (default true), `maxReadBytes` (largest `readBytes(n)`),
 * `maxQueuedBytes` (what `wfile.send()` may leave queued, default Infinity).
 * Hooks: `onProtocolError(err)` for bad frames, `onIdleTimeout()` before an idle connection closes,
 * `onFrameTimeout()` before a connection stuck on a partial frame closes, `onSlowConsumer(bytes)`
 * before a peer over `maxQueuedBytes` is cut. Instead of `handle()`, a handler may define
 * `handleFrame(frame)`: called with each frame in order, it keeps nothing suspended while the
 * connection idles.
 * @example
 * class Upper extends StreamRequestHandler {
 *   override async handle() {
 *     for await (const line of this.rfile) await this.wfile.write(`${line.toUpperCase()}\n`);
 *   }
 * }
 */
export class StreamRequestHandler<
  F = string,
  S extends BaseServer = BaseServer,
> extends BaseRequestHandler<S> {
  declare readonly request: net.Socket;
  /** Idle timeout in ms: no bytes in for this long closes the connection. Default: the server's `idleTimeoutMs`. */
  timeout: number;
  /**
   * Longest a frame may take to arrive, in ms, counted from when the handler waits on a frame whose
   * first bytes are in (time the handler spends elsewhere does not count). Past it the connection
   * is closed (`onFrameTimeout()` may say why first). Default: the server's `frameTimeoutMs`
   * (30 000); 0 or `Infinity` is off.
   */
  frameTimeout: number;
  /** Send small writes at once (TCP_NODELAY). Default true: latency matters more than packet count. */
  disableNagleAlgorithm = true;
  /** Largest `rfile.readBytes(n)`, in bytes. Default 16 MiB. */
  maxReadBytes = 16 * 1024 * 1024;
  /**
   * Most bytes `wfile.send()` may leave queued for the peer (the batch and what the kernel refused):
   * a send that would pass it, even after the batch went out, cuts the connection (`onSlowConsumer()`).
   * `write()` waits for drain instead and is not capped. Default `Infinity`.
   */
  maxQueuedBytes = Number.POSITIVE_INFINITY;

  /** `wfile`: the connection's one write path (writer.ts). */
  readonly #writer: SocketWriter;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Made when close() waits for the socket's close; resolved by #onClose. */
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #isClosed = false;

  constructor(request: net.Socket, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.timeout = server.options.idleTimeoutMs;
    this.frameTimeout = server.options.frameTimeoutMs;
    this.#writer = new SocketWriter(request, this);
  }

  protected override createInfo(id: number, peer: PeerAddress): ConnectionInfo {
    // Node counts the bytes already; reading its counters costs nothing per chunk.
    return new StreamInfo(id, peer, this.request);
  }

  /** The framing `rfile` reads with. Default: `lines()` (UTF-8, LF or CRLF, 64 KiB per line). */
  protected createDecoder(): Decoder<F> {
    return lines() as unknown as Decoder<F>;
  }

  /**
   * Serves the connection a frame at a time, instead of a loop in `handle()`: a subclass that
   * defines it (and keeps the default `handle()`) gets each frame of `rfile` in order. A returned
   * promise holds the next frame until it settles (replies stay in order); `false`, or a promise of
   * it, ends the connection as returning from `handle()` does, and so does the end of the input.
   * What it throws (or its promise rejects with) is what `handle()` throwing would be. Bad frames
   * go to `onProtocolError()` as with `rfile`. Between frames nothing waits but a callback on the
   * reader: no async function, promise or closure per connection (about 1 KiB less per idle
   * connection than an awaited `readFrame()` loop, for a server holding thousands of idle ones).
   * @example
   * class Upper extends StreamRequestHandler {
   *   protected override handleFrame(line: string) {
   *     return this.wfile.write(`${line.toUpperCase()}\n`);
   *   }
   * }
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler may return `wfile.write()`'s Promise<void>.
  protected handleFrame?(frame: F): boolean | void | PromiseLike<boolean | void>;

  /**
   * Called with each bad frame (over-long line, invalid UTF-8, bad JSON); `rfile` then goes on with
   * the next frame. An unrecoverable error (a bad length prefix) lands here too, and `rfile` ends.
   * Default: ignore. Override to reply, e.g. `await this.wfile.write(`ERR ${err.message}\n`)`.
   */
  protected onProtocolError(_err: ProtocolError): void | Promise<void> {}

  /**
   * Called when `wfile.send()` would leave more than `maxQueuedBytes` queued (the peer stopped
   * reading), before the signal aborts (NetworkError SLOW_CONSUMER) and the socket is destroyed.
   * Nothing more reaches the peer, so this is for the rest of the server (a chat tells the room
   * why). Default: nothing.
   */
  protected onSlowConsumer(_queuedBytes: number): void {}

  /** Called when the connection idled out, before it is closed: a last chance to say why. Default: nothing. */
  protected onIdleTimeout(): void | Promise<void> {}

  /**
   * Called when a partial frame waited longer than `frameTimeout`, before the connection is closed:
   * a last chance to say why (the protocol decides how). Default: nothing.
   */
  protected onFrameTimeout(): void | Promise<void> {}

  /**
   * Frames in, and raw bytes for binary protocols. Reads end (undefined) at EOF, on shutdown, idle
   * timeout or reset. Made when the connection starts (so `createDecoder()` may read subclass fields).
   */
  rfile!: StreamReader<F>;
  #reader: FramedReader<F> | undefined;

  /**
   * Bytes out. `write()` resolves at once unless the socket's buffer is full, then when it drains;
   * `send()` batches bytes from elsewhere (a broadcast) without waiting, under `maxQueuedBytes`.
   */
  get wfile(): StreamWriter {
    return this.#writer;
  }

  protected override start(): void {
    const socket = this.request;
    if (isWireWatched()) tapOpen(socket, "server");
    const hooks = new ReaderHooks(this as StreamRequestHandler<unknown>) as FramedReaderOptions<F>;
    const reader = new FramedReader<F>(socket, this.createDecoder(), hooks);
    this.#reader = reader;
    this.rfile = reader;
    if (this.isAborted) reader.stop(this[kAbortReason]);
    socket.resume();
  }

  static {
    ops = {
      onChunk(h, chunk) {
        h.#idleTimer?.refresh();
        if (h.server[kWants].bytesIn) h.server.emit("bytesIn", h.info, chunk.length);
      },
      onFrame(h, frame) {
        h.info.framesIn++;
        if (h.server[kWants].frameIn) h.server.emit("frameIn", h.info, frame);
      },
      onProtocolError: (h, err) => h.onProtocolError(err),
      onFrameTimeout: (h) => h.#onFrameTimeout(),
      // A read that waits ends the handler's turn: its next write is a first write again.
      onWait: (h) => h.#writer.readWaits(),
      onClose: (h) => h.#onClose(),
      // Later writes are rejected with why the socket failed.
      onError: (h, err) => h.#writer.fail(err),
    };
  }

  /** @internal handleFrame() serves, by callbacks, when defined and handle() is not overridden. */
  override [kHandle](): void | Promise<void> | typeof HANDLED_LATER {
    if (this.handleFrame === undefined || this.handle !== BaseRequestHandler.prototype.handle) {
      return this.handle();
    }
    this.#serveFrames(undefined);
    return HANDLED_LATER;
  }

  /**
   * Hands `first` (or what is queued) and every frame already queued to handleFrame, then parks a
   * callback on the reader (#onFrameRead) until the next one, the end or a failure.
   */
  #serveFrames(first: F | undefined): void {
    const reader = this.#reader!;
    const handleFrame = this.handleFrame!;
    try {
      for (let frame = first ?? reader.takeFrame(); frame !== undefined; frame = reader.takeFrame()) {
        const verdict = handleFrame.call(this, frame);
        if (verdict === false) {
          this.#framesDone(false);
          return;
        }
        // wfile.write()'s answer when the socket took the bytes: settled, so the next frame goes now.
        if (verdict === RESOLVED) continue;
        if (typeof verdict === "object" && verdict !== null) {
          verdict.then(
            (v) => (v === false ? this.#framesDone(false) : this.#serveFrames(undefined)),
            (err: unknown) => this.#framesDone(true, err),
          );
          return;
        }
      }
    } catch (err) {
      this.#framesDone(true, err);
      return;
    }
    reader.readFrameCallback(StreamRequestHandler.#onFrameRead, this);
  }

  /** The reader's callback: a frame, the end (undefined) or a failed read. Never throws. */
  static #onFrameRead(h: StreamRequestHandler<unknown>, frame: unknown, failure?: unknown): void {
    if (failure !== undefined) h.#framesDone(true, failure);
    else if (frame === undefined) h.#framesDone(false);
    else h.#serveFrames(frame);
  }

  #framesDone(hasFailed: boolean, failure?: unknown): void {
    this.server[kHandled](this, hasFailed, failure);
  }

  #onClose(): void {
    this.#isClosed = true;
    clearTimeout(this.#idleTimer);
    this[kAbort](new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} closed`));
    this.#resolveClosed?.();
  }

  /**
   * Reads end when the signal aborts (shutdown, idle timeout), so a handler parked on a read finishes.
   * Not when the abort is the socket's close: the reader then ends by itself after what arrived
   * before the reset (whole frames and raw bytes: an upload keeps every byte it received).
   */
  protected override aborted(): void {
    if (!this.#isClosed) this.#reader?.stop(this[kAbortReason]);
  }

  #whenClosed(): Promise<void> {
    if (this.#isClosed) return RESOLVED;
    this.#closed ??= new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
    return this.#closed;
  }

  protected override started(): void {
    const socket = this.request;
    if (this.disableNagleAlgorithm) socket.setNoDelay(true);
    const ms = this.timeout;
    if (Number.isFinite(ms) && ms > 0 && !this.#isClosed) {
      // A shared callback with the handler as its argument: no closure per connection.
      this.#idleTimer = setTimeout(StreamRequestHandler.#onIdleTimer, ms, this, ms);
      this.#idleTimer.unref();
    }
  }

  protected override async close(): Promise<void> {
    const socket = this.request;
    clearTimeout(this.#idleTimer);
    // Incoming bytes are dropped from now on while the peer closes.
    this.#reader?.stop();
    if (this.#isClosed) return;
    // The peer normally closes its side once it sees EOF; one that does not is destroyed after a
    // moment, and at once during shutdown (after our bytes reached the kernel, or drainTimeoutMs).
    const isClosing = this.server[kClosing];
    const closed = this.#whenClosed();
    await this.#writer.close(isClosing ? this.server.options.drainTimeoutMs : 0, closed);
    if (!(await settleWithin(closed, isClosing ? 0 : LINGER_MS))) socket.destroy();
    await closed;
  }

  protected override destroy(): void {
    this.request.destroy();
  }

  static #onIdleTimer(h: StreamRequestHandler<unknown>, ms: number): void {
    const reason = new NetworkError("IDLE_TIMEOUT", `connection from ${peerText(h)} idle for ${ms} ms`);
    void h.#timedOut(() => h.onIdleTimeout(), reason);
  }

  /** The reader saw a partial frame wait past `frameTimeout`: say why (the hook), then close. */
  #onFrameTimeout(): void {
    const ms = this.frameTimeout;
    const reason = new NetworkError(
      "FRAME_TIMEOUT",
      `connection from ${peerText(this)}: a frame was still incomplete after ${ms} ms`,
      { hint: "send each line whole; raise frameTimeoutMs (lab server --line-timeout) for slow links" },
    );
    void this.#timedOut(() => this.onFrameTimeout(), reason);
  }

  async #timedOut(goodbye: () => void | Promise<void>, reason: NetworkError): Promise<void> {
    // The goodbye comes first, while the handler still holds the connection, so its words are
    // written before the handler's end; a goodbye that hangs gets LINGER_MS.
    await settleWithin((async () => goodbye())(), LINGER_MS);
    if (wireChannel.hasSubscribers) tapReason(this.request, "timeout");
    this[kAbort](reason);
    this.#writer.endNow();
    setTimeout(() => this.request.destroy(), LINGER_MS).unref();
  }

  /** @internal for the writer's cork heuristic */
  get [kReadParked](): boolean {
    return this.#reader?.isWaiting ?? false;
  }

  /** @internal the writer's queue passed maxQueuedBytes */
  [kSlowConsumer](queuedBytes: number): void {
    const reason = new NetworkError(
      "SLOW_CONSUMER",
      `connection from ${peerText(this)}: ${queuedBytes} bytes queued, over maxQueuedBytes (${this.maxQueuedBytes})`,
      { hint: "the peer stopped reading; raise maxQueuedBytes for slow links" },
    );
    try {
      this.onSlowConsumer(queuedBytes);
    } finally {
      this[kAbort](reason);
      this.request.destroy();
    }
  }

  /** @internal the error a write gets once the connection is over: why it is over, if known. */
  [kWriteGone](cause: Error | undefined): NetworkError {
    const reason = this.abortReason;
    if (reason instanceof NetworkError && reason.code !== "CONNECTION_RESET") return reason;
    return new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} is closed`, {
      cause,
      hint: "the peer went away; nothing more can be sent",
    });
  }
}
