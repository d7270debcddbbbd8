import type net from "node:net";
import { type Decoder, decodeChunk, lines, ProtocolError } from "@netlab/protocol";
import { BaseRequestHandler, peerText } from "./base-handler.js";
import type { BaseServer } from "./base-server.js";
import { NetworkError } from "./errors.js";
import {
  kAbort,
  kClosing,
  kReadParked,
  kSlowConsumer,
  kWants,
  kWriteGone,
  RESOLVED,
  settleWithin,
} from "./internal.js";
import type { ConnectionInfo, PeerAddress } from "./types.js";
import { SocketWriter, type StreamWriter } from "./writer.js";

/** Bytes held unread per connection before the socket is paused (backpressure on the peer). */
const READ_HIGH_WATER_BYTES = 64 * 1024;
/** How long a finished connection waits for the peer to close before it is destroyed. */
const LINGER_MS = 2_000;
const LF = 0x0a;
const EMPTY = new Uint8Array(0);
/** #nextFrameNow: no more frames. */
const END: unique symbol = Symbol("end");
/** #nextFrameNow: wait for bytes. */
const PENDING: unique symbol = Symbol("pending");
const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

type Waiter = () => void;
/** The handler a socket belongs to, so the socket's listeners can be shared functions, not closures. */
const kOwner: unique symbol = Symbol("netlab.owner");
type OwnedSocket = net.Socket & { [kOwner]: StreamRequestHandler<unknown> };

/**
 * What `rfile` is: frames in, and raw bytes for binary protocols. Reads end (undefined) at EOF, on
 * shutdown, idle or frame timeout, or reset. A final frame without its terminator (a last line with
 * no newline) is delivered only after a clean end of input (FIN); after a reset it is dropped.
 */
export interface StreamReader<F> extends AsyncIterable<F> {
  /** The next frame; undefined at EOF. */
  readFrame(): Promise<F | undefined>;
  /** Exactly `n` raw bytes (after any already buffered); ProtocolError TRUNCATED at EOF. */
  readBytes(n: number): Promise<Uint8Array>;
  /** The next raw chunk as it arrived (at most `maxBytes`, the rest stays buffered); undefined at EOF. */
  readChunk(maxBytes?: number): Promise<Uint8Array | undefined>;
}

/** The handler's private operations that rfile/wfile call; set in the handler's static block. */
let ops: {
  readFrame(h: StreamRequestHandler<unknown>): Promise<unknown>;
  next(h: StreamRequestHandler<unknown>): Promise<IteratorResult<unknown>>;
  readBytes(h: StreamRequestHandler<unknown>, n: number): Promise<Uint8Array>;
  readChunk(h: StreamRequestHandler<unknown>, maxBytes: number): Promise<Uint8Array | undefined>;
  onClose(h: StreamRequestHandler<unknown>): void;
  onData(h: StreamRequestHandler<unknown>, socket: OwnedSocket, chunk: Buffer): void;
  onEnd(h: StreamRequestHandler<unknown>): void;
  onError(h: StreamRequestHandler<unknown>, err: Error): void;
};

// The socket's listeners: shared functions (`this` is the socket), not closures per connection.
function onClose(this: OwnedSocket): void {
  ops.onClose(this[kOwner]);
}
function onData(this: OwnedSocket, chunk: Buffer): void {
  ops.onData(this[kOwner], this, chunk);
}
function onEnd(this: OwnedSocket): void {
  ops.onEnd(this[kOwner]);
}
function onError(this: OwnedSocket, err: Error): void {
  ops.onError(this[kOwner], err);
}

/** `rfile`: one small object per connection, its methods on the prototype. It is its own iterator. */
class Reader<F> implements StreamReader<F>, AsyncIterator<F> {
  readonly #h: StreamRequestHandler<unknown>;
  constructor(h: StreamRequestHandler<unknown>) {
    this.#h = h;
  }
  readFrame(): Promise<F | undefined> {
    return ops.readFrame(this.#h) as Promise<F | undefined>;
  }
  readBytes(n: number): Promise<Uint8Array> {
    return ops.readBytes(this.#h, n);
  }
  readChunk(maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array | undefined> {
    return ops.readChunk(this.#h, maxBytes);
  }
  next(): Promise<IteratorResult<F>> {
    return ops.next(this.#h) as Promise<IteratorResult<F>>;
  }
  [Symbol.asyncIterator](): AsyncIterator<F> {
    return this;
  }
}

/** A stream connection's info: byte counts read live from the socket (Node counts them already). */
class StreamInfo implements ConnectionInfo {
  readonly id: number;
  readonly peer: PeerAddress;
  readonly openedAt: number;
  framesIn = 0;
  framesOut = 0;
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
    const { id, peer, openedAt, bytesIn, bytesOut, framesIn, framesOut } = this;
    return { id, peer, openedAt, bytesIn, bytesOut, framesIn, framesOut };
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
 * before a peer over `maxQueuedBytes` is cut.
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

  // Raw bytes received and not yet decoded or read: chunks[head] from offset on, then the rest.
  #chunks: Uint8Array[] = NO_CHUNKS;
  #head = 0;
  #offset = 0;
  #rawBytes = 0;
  // Decoded items (frames, or recoverable errors in their place) not yet returned.
  #items: Array<F | ProtocolError> = NO_ITEMS as F[];
  #itemHead = 0;
  #decoder: Decoder<F> | undefined;
  #decoderEnded = false;
  #isEof = false;
  /** The peer ended its side (FIN): a final unterminated frame is complete by its word. */
  #isCleanEnd = false;
  /**
   * performance.now() when the handler began waiting on a partial frame; 0 while none is pending.
   * One timestamp per connection, and a timer only while a partial frame waits: nothing per chunk.
   */
  #partialSince = 0;
  #frameTimer: NodeJS.Timeout | undefined;
  /** The last piece fed to the decoder ended mid-line and completed nothing (a line being dropped too). */
  #isOpenPiece = false;
  #isPaused = false;
  #waiters: Waiter[] | undefined;
  // A read waiting for bytes, answered by #wake (one at a time; others wait in #waiters). Kept in
  // fields rather than an object: one allocation less per read that has to wait.
  #pendingKind: ReadKind = NO_READ;
  #pendingResolve: ((value: unknown) => void) | undefined;
  #pendingReject: ((err: unknown) => void) | undefined;
  /** For a parked readChunk: its maxBytes. */
  #pendingMaxBytes = 0;
  /** Mirrors signal.aborted, read on every frame. */
  #isAborted = false;
  /** `wfile`: the connection's one write path (writer.ts). */
  readonly #writer: SocketWriter;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Made when close() waits for the socket's close; resolved by #onClose. */
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #isClosed = false;
  /** After the handler is done, incoming bytes are dropped while the peer closes. */
  #isDiscarding = false;

  constructor(request: net.Socket, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.timeout = server.options.idleTimeoutMs;
    this.frameTimeout = server.options.frameTimeoutMs;
    this.rfile = new Reader<F>(this as StreamRequestHandler<unknown>);
    this.#writer = new SocketWriter(request, this);
  }

  static {
    ops = {
      readFrame: (h) => h.#readFrame(),
      next: (h) => h.#next(),
      readBytes: (h, n) => h.#readBytes(n),
      readChunk: (h, maxBytes) => h.#readChunk(maxBytes),
      onClose: (h) => h.#onClose(),
      onData: (h, socket, chunk) => h.#onData(socket, chunk),
      onEnd: (h) => h.#onEnd(),
      onError: (h, err) => h.#onError(err),
    };
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

  /** Frames in, and raw bytes for binary protocols. Reads end (undefined) at EOF, on shutdown, idle timeout or reset. */
  readonly rfile: StreamReader<F>;

  /**
   * Bytes out. `write()` resolves at once unless the socket's buffer is full, then when it drains;
   * `send()` batches bytes from elsewhere (a broadcast) without waiting, under `maxQueuedBytes`.
   */
  get wfile(): StreamWriter {
    return this.#writer;
  }

  protected override start(): void {
    const socket = this.request as OwnedSocket;
    socket[kOwner] = this as StreamRequestHandler<unknown>;
    this.#isAborted = this.isAborted;
    socket.on("close", onClose);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.resume();
  }

  // What the socket's listeners (shared functions, below the class) call.
  #onClose(): void {
    this.#isClosed = true;
    this.#isEof = true;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#frameTimer);
    this[kAbort](new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} closed`));
    this.#wake();
    this.#resolveClosed?.();
  }

  #onData(socket: OwnedSocket, chunk: Buffer): void {
    this.#idleTimer?.refresh();
    if (this.server[kWants].bytesIn) this.server.emit("bytesIn", this.info, chunk.length);
    if (this.#isDiscarding) return;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
    this.#rawBytes += chunk.length;
    if (this.#rawBytes >= READ_HIGH_WATER_BYTES && !this.#isPaused) {
      this.#isPaused = true;
      socket.pause();
    }
    this.#wake();
  }

  #onEnd(): void {
    this.#isEof = true;
    this.#isCleanEnd = true;
    this.#wake();
  }

  #onError(err: Error): void {
    this.#writer.fail(err);
    this.#isEof = true;
    this.#wake();
  }

  /** Reads end when the signal aborts (shutdown, idle timeout), so a handler parked on a read finishes. */
  protected override aborted(): void {
    this.#isAborted = true;
    this.#wake();
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
    clearTimeout(this.#frameTimer);
    if (this.#isClosed) return;
    this.#isDiscarding = true;
    this.#chunks = NO_CHUNKS;
    this.#head = 0;
    this.#offset = 0;
    this.#rawBytes = 0;
    if (this.#isPaused) {
      this.#isPaused = false;
      socket.resume();
    }
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
    const reason = new NetworkError("TIMEOUT", `connection from ${peerText(h)} idle for ${ms} ms`);
    void h.#timedOut(() => h.onIdleTimeout(), reason);
  }

  /** A read found part of a frame and waits for the rest: the frame's deadline starts, once. */
  #partialPending(): void {
    if (this.#partialSince !== 0) return;
    const ms = this.frameTimeout;
    if (!(ms > 0 && Number.isFinite(ms)) || this.#isClosed) return;
    this.#partialSince = performance.now();
    if (this.#frameTimer === undefined) {
      this.#frameTimer = setTimeout(StreamRequestHandler.#onFrameTimer, ms, this);
      this.#frameTimer.unref();
    }
  }

  /**
   * The frame timer: armed once per pending frame and left running when the frame completes; if
   * another partial frame began meanwhile it waits out that one's remainder, else it stops.
   */
  static #onFrameTimer(h: StreamRequestHandler<unknown>): void {
    h.#frameTimer = undefined;
    if (h.#partialSince === 0 || h.#isClosed || h.#isAborted) return;
    const ms = h.frameTimeout;
    const waited = performance.now() - h.#partialSince;
    // libuv's clock is whole ms: a timer may fire up to a ms early by performance.now().
    if (waited + 1 < ms) {
      h.#frameTimer = setTimeout(StreamRequestHandler.#onFrameTimer, ms - waited, h);
      h.#frameTimer.unref();
      return;
    }
    const reason = new NetworkError(
      "TIMEOUT",
      `connection from ${peerText(h)}: a frame was still incomplete after ${ms} ms`,
      { hint: "send each line whole; raise frameTimeoutMs (lab server --line-timeout) for slow links" },
    );
    void h.#timedOut(() => h.onFrameTimeout(), reason);
  }

  async #timedOut(goodbye: () => void | Promise<void>, reason: NetworkError): Promise<void> {
    // The goodbye comes first, while the handler still holds the connection, so its words are
    // written before the handler's end; a goodbye that hangs gets LINGER_MS.
    await settleWithin((async () => goodbye())(), LINGER_MS);
    this[kAbort](reason);
    this.#wake();
    this.#writer.endNow();
    setTimeout(() => this.request.destroy(), LINGER_MS).unref();
  }

  #wake(): void {
    if (this.#pendingKind !== NO_READ) this.#fulfilPendingRead();
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    for (const w of waiters) w();
  }

  /**
   * A frame read parked on PENDING is answered right here, in the data callback: one promise hop
   * from bytes in to the handler's loop, instead of one per async layer.
   */
  #fulfilPendingRead(): void {
    const kind = this.#pendingKind;
    if (kind === CHUNK_READ) {
      if (this.#rawBytes > 0) this.#settlePendingRead()(this.#takeChunk(this.#pendingMaxBytes));
      else if (this.#isEof || this.#isAborted) this.#settlePendingRead()(undefined);
      else this.#resumeSocket();
      return;
    }
    const next = this.#nextFrameNow();
    if (next === PENDING) {
      this.#resumeSocket();
      return;
    }
    const asIterator = kind === ITERATOR_READ;
    const reject = this.#pendingReject!;
    const resolve = this.#settlePendingRead();
    if (next === END) {
      resolve(asIterator ? { done: true, value: undefined } : undefined);
    } else if (next instanceof ProtocolError) {
      const slow = this.#readFrameSlow(next);
      const settled: Promise<unknown> = asIterator ? slow.then(toIteratorResult) : slow;
      settled.then(resolve, reject);
    } else {
      const frame = this.#deliver(next);
      resolve(asIterator ? { done: false, value: frame } : frame);
    }
  }

  /** Clears the parked read and returns its resolve. */
  #settlePendingRead(): (value: unknown) => void {
    const resolve = this.#pendingResolve!;
    this.#pendingKind = NO_READ;
    this.#pendingResolve = undefined;
    this.#pendingReject = undefined;
    return resolve;
  }

  /** Parks a read until bytes (or the end) arrive. */
  #parkRead<T>(kind: ReadKind, maxBytes = 0): Promise<T> {
    this.#resumeSocket();
    this.#writer.readWaits();
    this.#pendingKind = kind;
    this.#pendingMaxBytes = maxBytes;
    return new Promise<T>((resolve, reject) => {
      this.#pendingResolve = resolve as (value: unknown) => void;
      this.#pendingReject = reject;
    });
  }

  #resumeSocket(): void {
    if (this.#isPaused && this.#rawBytes < READ_HIGH_WATER_BYTES) {
      this.#isPaused = false;
      this.request.resume();
    }
  }

  #wait(): Promise<void> {
    this.#resumeSocket();
    this.#writer.readWaits();
    return new Promise((resolve) => this.#addWaiter(resolve));
  }

  #addWaiter(waiter: Waiter): void {
    if (this.#waiters) this.#waiters.push(waiter);
    else this.#waiters = [waiter];
  }

  /**
   * The next frame without waiting: a frame, END (no more frames), PENDING (wait for bytes), or a
   * ProtocolError for onProtocolError. The common case (bytes already here) allocates no promise.
   */
  #nextFrameNow(): F | ProtocolError | typeof END | typeof PENDING {
    for (;;) {
      if (this.#itemHead < this.#items.length) {
        const item = this.#items[this.#itemHead++] as F | ProtocolError;
        if (this.#itemHead === this.#items.length) {
          this.#items = NO_ITEMS as F[];
          this.#itemHead = 0;
        }
        return item;
      }
      if (this.#isAborted || this.#decoderEnded) return END;
      this.#decoder ??= this.createDecoder();
      const decoder = this.#decoder;
      if (this.#rawBytes > 0) {
        const frame = this.#decodeNextPiece(decoder);
        if (frame !== PENDING) return frame;
        continue;
      }
      if (this.#isEof) {
        this.#decoderEnded = true;
        // Only a clean end (FIN) completes a final unterminated frame: after a reset (or our own
        // destroy) the bytes of an unfinished line are dropped, never delivered as if whole.
        if (this.#isCleanEnd) this.#endDecoder(decoder);
        continue;
      }
      if (decoder.bufferedBytes > 0 || this.#isOpenPiece) this.#partialPending();
      else this.#partialSince = 0;
      return PENDING;
    }
  }

  /** Counts a frame that is about to be returned. */
  #deliver(frame: F): F {
    this.#partialSince = 0;
    this.info.framesIn++;
    if (this.server[kWants].frameIn) this.server.emit("frameIn", this.info, frame);
    return frame;
  }

  #next(): Promise<IteratorResult<F>> {
    const next = this.#nextFrameNow();
    if (next === END) return ITER_DONE;
    if (next === PENDING && this.#pendingKind === NO_READ) return this.#parkRead(ITERATOR_READ);
    if (next !== PENDING && !(next instanceof ProtocolError)) {
      return Promise.resolve({ done: false, value: this.#deliver(next) });
    }
    return this.#readFrameSlow(next).then(toIteratorResult);
  }

  #readFrame(): Promise<F | undefined> {
    const next = this.#nextFrameNow();
    if (next === END) return RESOLVED_UNDEFINED;
    if (next === PENDING && this.#pendingKind === NO_READ) return this.#parkRead(FRAME_READ);
    if (next !== PENDING && !(next instanceof ProtocolError)) return Promise.resolve(this.#deliver(next));
    return this.#readFrameSlow(next);
  }

  async #readFrameSlow(first: F | ProtocolError | typeof PENDING): Promise<F | undefined> {
    let next: F | ProtocolError | typeof END | typeof PENDING = first;
    for (;;) {
      if (next === END) return undefined;
      if (next === PENDING) {
        await this.#wait();
      } else if (next instanceof ProtocolError) {
        await this.onProtocolError(next);
        if (!next.recoverable) this.#failDecoder();
      } else {
        return this.#deliver(next);
      }
      next = this.#nextFrameNow();
    }
  }

  /**
   * Feeds the decoder up to and including the next newline, so the decoder never holds the bytes
   * after a line: a handler can switch from frames to raw reads (a header line, then file data).
   */
  #decodeNextPiece(decoder: Decoder<F>): F | ProtocolError | typeof PENDING {
    const chunk = this.#chunks[this.#head]!;
    const nl = chunk.indexOf(LF, this.#offset);
    const end = nl === -1 ? chunk.length : nl + 1;
    const piece = this.#offset === 0 && end === chunk.length ? chunk : chunk.subarray(this.#offset, end);
    this.#consume(end - this.#offset, chunk);
    let frames: F[];
    try {
      frames = decoder.push(piece);
    } catch (err) {
      this.#isOpenPiece = nl === -1;
      // A recoverable error: keep stream order (frames before it, the error, frames after it).
      const first = asProtocolError(err);
      for (const frame of first.frames as F[]) this.#pushItem(frame);
      this.#pushItem(first);
      if (first.recoverable) {
        try {
          for (const item of decodeChunk(decoder, EMPTY)) this.#pushItem(item);
        } catch (rest) {
          this.#pushItem(asProtocolError(rest));
        }
      }
      return PENDING;
    }
    this.#isOpenPiece = nl === -1 && frames.length === 0;
    if (frames.length === 0) return PENDING;
    if (frames.length === 1) return frames[0] as F;
    for (let i = 1; i < frames.length; i++) this.#pushItem(frames[i] as F);
    return frames[0] as F;
  }

  #pushItem(item: F | ProtocolError): void {
    if (this.#items === NO_ITEMS) this.#items = [];
    this.#items.push(item);
  }

  #endDecoder(decoder: Decoder<F>): void {
    try {
      for (const frame of decoder.end()) this.#pushItem(frame);
    } catch (err) {
      const e = asProtocolError(err);
      for (const frame of e.frames as F[]) this.#pushItem(frame);
      this.#pushItem(e);
    }
  }

  #failDecoder(): void {
    this.#decoderEnded = true;
    this.#items = NO_ITEMS as F[];
    this.#itemHead = 0;
  }

  /** Drops `n` bytes from the head chunk (n ≤ what is left of it). */
  #consume(n: number, chunk: Uint8Array): void {
    this.#offset += n;
    this.#rawBytes -= n;
    if (this.#offset === chunk.length) {
      this.#offset = 0;
      this.#head++;
      if (this.#head === this.#chunks.length) {
        this.#chunks = NO_CHUNKS;
        this.#head = 0;
      } else if (this.#head >= 64) {
        // A reader that is always a chunk behind never drains the queue: drop what it consumed.
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    }
  }

  #checkRawAllowed(): void {
    const held = (this.#decoder?.bufferedBytes ?? 0) + (this.#items.length - this.#itemHead);
    if (held > 0) {
      throw new ProtocolError(
        "DECODER_FAILED",
        "raw read while the decoder holds part of a frame; read the whole frame first",
      );
    }
  }

  #readChunk(maxBytes: number): Promise<Uint8Array | undefined> {
    try {
      this.#checkRawAllowed();
    } catch (err) {
      return Promise.reject(err);
    }
    if (!(maxBytes >= 1)) {
      return Promise.reject(
        new ProtocolError("INVALID_OPTION", `readChunk(maxBytes) needs maxBytes ≥ 1, got ${maxBytes}`),
      );
    }
    if (this.#rawBytes > 0) return Promise.resolve(this.#takeChunk(maxBytes));
    if (this.#isEof || this.#isAborted) return RESOLVED_UNDEFINED;
    if (this.#pendingKind === NO_READ) return this.#parkRead(CHUNK_READ, maxBytes);
    return this.#readChunkSlow(maxBytes);
  }

  /** A second readChunk while one is parked: waits its turn. */
  async #readChunkSlow(maxBytes: number): Promise<Uint8Array | undefined> {
    for (;;) {
      if (this.#rawBytes > 0) return this.#takeChunk(maxBytes);
      if (this.#isEof || this.#isAborted) return undefined;
      await this.#wait();
    }
  }

  /** The head chunk, or its first `maxBytes` (needs #rawBytes > 0). */
  #takeChunk(maxBytes: number): Uint8Array {
    const chunk = this.#chunks[this.#head]!;
    const end = Math.min(chunk.length, this.#offset + maxBytes);
    const out = this.#offset === 0 && end === chunk.length ? chunk : chunk.subarray(this.#offset, end);
    this.#consume(out.length, chunk);
    return out;
  }

  async #readBytes(n: number): Promise<Uint8Array> {
    this.#checkRawAllowed();
    if (!Number.isSafeInteger(n) || n < 0 || n > this.maxReadBytes) {
      throw new ProtocolError(
        "FRAME_TOO_LARGE",
        `readBytes(${n}) is over maxReadBytes (${this.maxReadBytes})`,
        { hint: "read large bodies with readChunk() in a loop" },
      );
    }
    while (this.#rawBytes < n) {
      if (this.#isEof || this.#isAborted) {
        throw new ProtocolError("TRUNCATED", `stream ended after ${this.#rawBytes} of ${n} bytes`);
      }
      // Reading past the high-water mark is allowed for a readBytes that asked for more.
      if (this.#isPaused) {
        this.#isPaused = false;
        this.request.resume();
      }
      await new Promise<void>((resolve) => this.#addWaiter(resolve));
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(n - filled, chunk.length - this.#offset);
      out.set(chunk.subarray(this.#offset, this.#offset + take), filled);
      filled += take;
      this.#consume(take, chunk);
    }
    return out;
  }

  /** @internal for the writer's cork heuristic */
  get [kReadParked](): boolean {
    return this.#pendingKind !== NO_READ;
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

/** What a parked read is waiting to return. */
type ReadKind = 0 | 1 | 2 | 3;
const NO_READ = 0;
const FRAME_READ = 1;
const ITERATOR_READ = 2;
const CHUNK_READ = 3;

/** Shared empty queues: a connection gets its own array when it first needs one. */
const NO_CHUNKS: Uint8Array[] = [];
const NO_ITEMS: unknown[] = [];

const ITER_DONE: Promise<IteratorResult<never>> = Promise.resolve({ done: true, value: undefined });

function toIteratorResult<F>(frame: F | undefined): IteratorResult<F> {
  return frame === undefined ? { done: true, value: undefined } : { done: false, value: frame };
}

function asProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError("DECODER_FAILED", `decoder failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
