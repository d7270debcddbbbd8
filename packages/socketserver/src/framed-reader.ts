import type net from "node:net";
import { ByteQueue, type Decoder, ProtocolError } from "@netlab/protocol";
import { NetworkError, requireMs, requirePositiveInt } from "./errors.js";
import { tapData, wireDataChannel } from "./tap.js";

/**
 * Where a reader is: reading (`flowing`, or `paused` while unread bytes pass the high-water mark),
 * at the peer's clean end (`fin`), cut without one (`reset`: an error, a close, our own destroy),
 * or `stopped` by its owner (reads end at once and incoming bytes are dropped).
 */
export type ReaderState = "flowing" | "paused" | "fin" | "reset" | "stopped";

/** What the owner of a {@link FramedReader} hears about; every hook is optional. */
export interface FramedReaderHooks<F> {
  /** Each chunk as it arrives, before it is queued (idle timers, byte counters, traces). */
  onChunk?(chunk: Uint8Array): void;
  /** Each frame, just before a read returns it (frame counters and events). */
  onFrame?(frame: F): void;
  /**
   * Each bad frame, awaited; the read then goes on with the next frame, or ends (undefined) after
   * an unrecoverable one. Without this hook the read rejects with the error instead. What the hook
   * throws, the read rejects with.
   */
  onProtocolError?(err: ProtocolError): void | Promise<void>;
  /** A partial frame waited longer than `frameTimeoutMs`; the owner decides (usually: close). */
  onFrameTimeout?(): void;
  /** A read is about to wait for bytes: the owner's turn is over (the writer ends its write tick). */
  onWait?(): void;
  /** The socket closed; called before the reader's own reads end. */
  onClose?(): void;
  /** The socket failed (a `close` follows). Given this hook, the reader is the socket's error listener. */
  onError?(err: Error): void;
}

/**
 * What `rfile` is: frames in, and raw bytes for binary protocols. Reads end (undefined) at EOF, on
 * shutdown, idle or frame timeout, or reset; after a reset, the whole frames and raw bytes that
 * arrived before it are still read first. A final frame without its terminator (a last line with
 * no newline) is delivered only after a clean end of input (FIN); after a reset it is dropped.
 */
export interface StreamReader<F> extends AsyncIterable<F> {
  /** The next frame; undefined at EOF. */
  readFrame(): Promise<F | undefined>;
  /**
   * The next frame if a whole one is queued now, else undefined (then `readFrame()` waits for it or
   * says the input is over). For a loop over lines that arrived together: no promise per line.
   */
  takeFrame(): F | undefined;
  /** Exactly `n` raw bytes (after any already buffered); ProtocolError TRUNCATED at EOF. */
  readBytes(n: number): Promise<Uint8Array>;
  /** The next raw chunk as it arrived (at most `maxBytes`, the rest stays buffered); undefined at EOF. */
  readChunk(maxBytes?: number): Promise<Uint8Array | undefined>;
}

/**
 * Options for {@link FramedReader}. `maxReadBytes` and `frameTimeoutMs` are read when they apply,
 * so an owner may pass getters for tunables that change (a handler's fields).
 */
export interface FramedReaderOptions<F> extends FramedReaderHooks<F> {
  /** Unread bytes held before the socket is paused while no read waits. Default 64 KiB. */
  highWaterBytes?: number;
  /** Largest `readBytes(n)`, in bytes. Default 16 MiB. */
  readonly maxReadBytes?: number;
  /**
   * Longest a read may wait on a partial frame (or on the rest of a `readBytes(n)` whose first bytes
   * are in), in ms; 0 or Infinity is off (the default).
   */
  readonly frameTimeoutMs?: number;
}

/** Default {@link FramedReaderOptions.highWaterBytes}. */
export const READ_HIGH_WATER_BYTES = 64 * 1024;

const DEFAULT_MAX_READ_BYTES = 16 * 1024 * 1024;
const END: unique symbol = Symbol("end");
const PENDING: unique symbol = Symbol("pending");
type Step<F> = F | typeof END | typeof PENDING;

/** What the parked read returns when bytes arrive. */
const NO_READ = 0;
const FRAME_READ = 1;
const ITERATOR_READ = 2;
const CHUNK_READ = 3;
/** readFrameCallback(): the parked read is a callback, not a promise. */
const CALLBACK_READ = 4;
type ReadKind =
  | typeof NO_READ
  | typeof FRAME_READ
  | typeof ITERATOR_READ
  | typeof CHUNK_READ
  | typeof CALLBACK_READ;

/**
 * What {@link FramedReader.readFrameCallback} calls: with the frame (undefined at the end), or with
 * `failure` set (never undefined) when the read failed, with what readFrame() would have rejected with.
 */
export type FrameCallback<F, T> = (arg: T, frame: F | undefined, failure?: unknown) => void;

const RESOLVED_UNDEFINED: Promise<undefined> = Promise.resolve(undefined);

/**
 * The queue of every reader that holds no bytes: shared, and never appended to (#data swaps in a
 * queue of the reader's own first). An idle connection keeps no ByteQueue of its own.
 */
const EMPTY_QUEUE = new ByteQueue();
/** Queues readers emptied, for the next reader that receives bytes: a busy server allocates none per read. */
const spareQueues: ByteQueue[] = [];
const MAX_SPARE_QUEUES = 64;
const ITER_DONE: Promise<IteratorResult<never>> = Promise.resolve({ done: true, value: undefined });

/**
 * Each socket's reader (one per socket), for the shared socket listeners: a property of the
 * socket, which costs a slot in it where a WeakMap entry cost a share of a growing table.
 */
const kReader: unique symbol = Symbol("netlab.reader");
type ReadSocket = net.Socket & { [kReader]: FramedReader<unknown> };
let onData: (this: ReadSocket, chunk: Buffer) => void;
let onEnd: (this: ReadSocket) => void;
let onClose: (this: ReadSocket) => void;
let onError: (this: ReadSocket, err: Error) => void;

/**
 * Frames and raw bytes from one socket, in stream order: the reader owns the bytes (one
 * {@link ByteQueue}) and its decoder takes one frame at a time from the front, so `readFrame()`,
 * `readBytes(n)` and `readChunk()` alternate freely (a header line, then file data, then the next
 * line). One reader per socket, one read at a time.
 *
 * Memory: while no read waits, the socket is paused once `highWaterBytes` are unread; while one
 * waits, bytes flow and the decoder's limit bounds them (it fails as soon as the queue passes it).
 * Reads end (undefined) at the peer's end, on reset or after `stop()`. A final frame without its
 * terminator (a last line without a newline) is delivered only after a clean end (FIN), never after
 * a reset. `frameTimeoutMs` bounds how long a read may wait on a frame whose first bytes are in.
 * @example
 * const reader = new FramedReader(socket, lines());
 * for await (const line of reader) console.log(line);
 */
export class FramedReader<F> implements StreamReader<F>, AsyncIterator<F> {
  readonly #socket: net.Socket;
  /** EMPTY_QUEUE while no bytes are held (#data takes one, #releaseQueue gives it back). */
  #queue = EMPTY_QUEUE;
  /** Undefined once frames are over (an unrecoverable error, or the end was decoded). */
  #decoder: Decoder<F> | undefined;
  readonly #hooks: FramedReaderOptions<F>;
  readonly #highWater: number;
  #state: ReaderState = "flowing";
  /** The last decode found part of a frame and no whole one: the frame deadline applies. */
  #isPartial = false;
  /**
   * performance.now() when a read began waiting on a partial frame; 0 while none does. One
   * timestamp, and a timer only while a partial frame waits: nothing per chunk.
   */
  #partialSince = 0;
  #frameTimer: NodeJS.Timeout | undefined;
  // A frame or chunk read waiting for bytes, answered in the data callback itself (one promise hop
  // from bytes in to the caller). Fields rather than an object: one allocation less per waiting read.
  #parked: ReadKind = NO_READ;
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;
  /** A parked readFrameCallback: its callback and argument (no promise, no closure). */
  #callback: ((arg: unknown, frame: never, failure?: unknown) => void) | undefined;
  #callbackArg: unknown;
  /** A parked readChunk's maxBytes. */
  #parkedMaxBytes = 0;
  /** Slow-path reads (readBytes, a read while another is parked, reads after an error) waiting for bytes or the end. */
  #waiters: Array<() => void> | undefined;
  /** A bad frame takeFrame() met: the next readFrame() reports it, as it would have met it itself. */
  #taken: { err: unknown } | undefined;
  /** What stop() was given: a cut-short readBytes() rejects with it. */
  #stopReason: unknown;

  constructor(socket: net.Socket, decoder: Decoder<F>, options: FramedReaderOptions<F> = {}) {
    this.#socket = socket;
    this.#decoder = decoder;
    this.#hooks = options;
    this.#highWater = options.highWaterBytes ?? READ_HIGH_WATER_BYTES;
    // A NaN high-water mark would never pause the socket: an unbounded queue. Checked once per
    // connection, never per read.
    requirePositiveInt("highWaterBytes", this.#highWater);
    if (options.maxReadBytes !== undefined)
      requirePositiveInt("maxReadBytes", options.maxReadBytes, { allowInfinity: true });
    if (options.frameTimeoutMs !== undefined) requireMs("frameTimeoutMs", options.frameTimeoutMs);
    (socket as ReadSocket)[kReader] = this as FramedReader<unknown>;
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onClose);
    if (options.onError) socket.on("error", onError);
  }

  get state(): ReaderState {
    return this.#state;
  }

  /** A read is waiting for bytes: what is written meanwhile comes from elsewhere (a broadcast). */
  get isWaiting(): boolean {
    return this.#parked !== NO_READ || this.#waiters !== undefined;
  }

  /** Bytes received and not yet read. */
  get bufferedBytes(): number {
    return this.#queue.size;
  }

  /**
   * Ends every read now and drops what is queued and what still arrives (the socket keeps flowing,
   * so a FIN gets through). A `readBytes()` cut short rejects with `reason` when one is given (a
   * handler passes its abort reason, so the server knows its own shutdown or timeout).
   */
  stop(reason?: unknown): void {
    if (this.#state === "stopped") return;
    if (this.#state === "paused") this.#socket.resume();
    this.#state = "stopped";
    this.#stopReason = reason;
    this.#queue.clear();
    this.#releaseQueue();
    clearTimeout(this.#frameTimer);
    this.#wake();
  }

  /** The next frame; undefined at the end. */
  readFrame(): Promise<F | undefined> {
    let next: Step<F>;
    try {
      next = this.#taken === undefined ? this.#step() : this.#takeFailure();
    } catch (err) {
      return this.#readFrameSlow(err);
    }
    if (next === END) return RESOLVED_UNDEFINED;
    if (next !== PENDING) return Promise.resolve(this.#deliver(next));
    return this.#parked === NO_READ ? this.#park(FRAME_READ) : this.#readFrameSlow(PENDING);
  }

  /**
   * The next frame if a whole one is queued now; undefined when none is (nothing waits, no read is
   * parked: call readFrame() then). A bad frame is kept for that readFrame(), which reports it.
   */
  takeFrame(): F | undefined {
    if (this.#parked !== NO_READ || this.#waiters !== undefined || this.#taken !== undefined)
      return undefined;
    let next: Step<F>;
    try {
      next = this.#step();
    } catch (err) {
      this.#taken = { err };
      return undefined;
    }
    return next === END || next === PENDING ? undefined : this.#deliver(next);
  }

  /** Throws the failure takeFrame() kept. */
  #takeFailure(): never {
    const { err } = this.#taken!;
    this.#taken = undefined;
    throw err;
  }

  next(): Promise<IteratorResult<F>> {
    let next: Step<F>;
    try {
      next = this.#taken === undefined ? this.#step() : this.#takeFailure();
    } catch (err) {
      return this.#readFrameSlow(err).then(toIteratorResult);
    }
    if (next === END) return ITER_DONE;
    if (next !== PENDING) return Promise.resolve({ done: false, value: this.#deliver(next) });
    if (this.#parked === NO_READ) return this.#park(ITERATOR_READ);
    return this.#readFrameSlow(PENDING).then(toIteratorResult);
  }

  [Symbol.asyncIterator](): AsyncIterator<F> {
    return this;
  }

  /**
   * readFrame() without a promise: `callback(arg, frame)` with the next frame, `callback(arg,
   * undefined)` at the end, or `callback(arg, undefined, err)` where readFrame() would reject. Never
   * called before this returns; a frame that arrives later is handed over from the socket's data
   * callback itself. For a handler that keeps nothing suspended while its connection idles: a
   * parked callback costs two fields, where an awaited readFrame() holds a promise, its resolving
   * functions and the suspended async function. `callback` must not throw (it runs in a socket
   * event); take the frames already queued with takeFrame() first.
   */
  // The callback's type spelled out, not FrameCallback<F, T>: through the alias, TypeScript measured
  // FramedReader<F> as invariant in F (a FramedReader<string> was no FramedReader<unknown>).
  readFrameCallback<T>(callback: (arg: T, frame: F | undefined, failure?: unknown) => void, arg: T): void {
    let next: Step<F>;
    try {
      next = this.#taken === undefined ? this.#step() : this.#takeFailure();
    } catch (err) {
      settleCallback(this.#readFrameSlow(err), callback, arg);
      return;
    }
    if (next === PENDING && this.#parked === NO_READ) {
      this.#waiting();
      this.#parked = CALLBACK_READ;
      this.#callback = callback as FrameCallback<never, unknown>;
      this.#callbackArg = arg;
      return;
    }
    // Rare: the end, a frame takeFrame() was not asked for, or another read is parked.
    if (next === END) settleCallback(RESOLVED_UNDEFINED, callback, arg);
    else if (next === PENDING) settleCallback(this.#readFrameSlow(PENDING), callback, arg);
    else settleCallback(Promise.resolve(this.#deliver(next)), callback, arg);
  }

  /**
   * Exactly `n` raw bytes (after what is queued). If they do not all come: ProtocolError TRUNCATED
   * after the peer's clean end (it sent less than it promised), NetworkError CONNECTION_RESET after
   * a reset, the reason given to `stop(reason)` after a stop.
   */
  async readBytes(n: number): Promise<Uint8Array> {
    this.#checkRawAllowed();
    const max = this.#hooks.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ProtocolError("INVALID_OPTION", `readBytes(n) needs an integer n ≥ 0, got ${n}`);
    }
    if (n > max) {
      throw new ProtocolError("FRAME_TOO_LARGE", `readBytes(${n}) is over maxReadBytes (${max})`, {
        hint: "read large bodies with readChunk() in a loop",
      });
    }
    try {
      while (this.#queue.size < n) {
        if (this.#isOver()) throw this.#cutShort(n);
        // Some of the n bytes are in: the rest is a pending frame, bounded by frameTimeoutMs as a
        // line's rest is, so a peer trickling a byte at a time cannot hold the read forever.
        if (this.#queue.size > 0) this.#isPartial = true;
        await this.#wait();
      }
    } finally {
      // Done with (or out of) this read: its deadline, if one started, is no longer pending.
      this.#isPartial = false;
      this.#partialSince = 0;
    }
    const bytes = this.#queue.take(n);
    this.#releaseQueue();
    return bytes;
  }

  /**
   * The next raw bytes as they arrived (at most `maxBytes`; the rest stays queued); undefined at
   * the end. Not an async function: bytes already queued cost one resolved promise, and a read that
   * waits is parked and answered from the data callback.
   */
  readChunk(maxBytes = Number.POSITIVE_INFINITY): Promise<Uint8Array | undefined> {
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
    if (this.#queue.size > 0) return Promise.resolve(this.#takeChunk(maxBytes));
    if (this.#isOver()) return RESOLVED_UNDEFINED;
    if (this.#parked !== NO_READ) return this.#readChunkSlow(maxBytes);
    this.#parkedMaxBytes = maxBytes;
    return this.#park(CHUNK_READ);
  }

  /** A readChunk while another read is parked: waits its turn. */
  async #readChunkSlow(maxBytes: number): Promise<Uint8Array | undefined> {
    while (this.#queue.size === 0) {
      if (this.#isOver()) return undefined;
      await this.#wait();
    }
    return this.#takeChunk(maxBytes);
  }

  #takeChunk(maxBytes: number): Uint8Array {
    const chunk = this.#queue.takeChunk(maxBytes);
    this.#releaseQueue();
    this.#resumeIfLow();
    return chunk;
  }

  // The socket's listeners: shared functions (`this` is the socket) that find their reader in
  // `socket[kReader]`, rather than a closure each per connection (about 0.2 KiB of each idle connection).
  static {
    onData = function (this: ReadSocket, chunk: Buffer): void {
      this[kReader].#data(chunk);
    };
    onEnd = function (this: ReadSocket): void {
      this[kReader].#end();
    };
    onClose = function (this: ReadSocket): void {
      this[kReader].#close();
    };
    onError = function (this: ReadSocket, err: Error): void {
      this[kReader].#hooks.onError?.(err);
    };
  }

  #data(chunk: Buffer): void {
    if (wireDataChannel.hasSubscribers) tapData(this.#socket, "in", chunk);
    this.#hooks.onChunk?.(chunk);
    if (this.#state === "stopped") return;
    let queue = this.#queue;
    if (queue === EMPTY_QUEUE) {
      queue = spareQueues.pop() ?? new ByteQueue();
      this.#queue = queue;
    }
    queue.append(chunk);
    this.#wake();
    // Nobody waits (or the waiting read is satisfied) and too much is unread: let TCP push back.
    if (
      this.#state === "flowing" &&
      this.#queue.size >= this.#highWater &&
      this.#waiters === undefined &&
      this.#parked === NO_READ
    ) {
      this.#state = "paused";
      this.#socket.pause();
    }
  }

  #end(): void {
    if (this.#state === "flowing" || this.#state === "paused") this.#state = "fin";
    this.#wake();
  }

  #close(): void {
    this.#hooks.onClose?.();
    if (this.#state === "flowing" || this.#state === "paused") this.#state = "reset";
    clearTimeout(this.#frameTimer);
    this.#wake();
  }

  /** What a readBytes(n) the stream's end cut short throws: only a clean end is the peer's fault. */
  #cutShort(n: number): unknown {
    const got = `${this.#queue.size} of ${n} bytes`;
    if (this.#state === "stopped" && this.#stopReason !== undefined) return this.#stopReason;
    if (this.#state === "reset") return new NetworkError("CONNECTION_RESET", `connection reset after ${got}`);
    return new ProtocolError("TRUNCATED", `stream ended after ${got}`);
  }

  #isOver(): boolean {
    return this.#state === "fin" || this.#state === "reset" || this.#state === "stopped";
  }

  /**
   * The next frame without waiting: a frame, END, or PENDING (wait for bytes). Throws what the
   * decoder throws; after an unrecoverable error frames are over. Allocates nothing.
   */
  #step(): Step<F> {
    const decoder = this.#decoder;
    if (decoder === undefined || this.#state === "stopped") return END;
    const queue = this.#queue;
    const hadBytes = queue.size > 0;
    let frame: F | undefined;
    try {
      if (this.#state === "fin") frame = decoder.decodeEof(queue);
      else if (queue.size > 0) frame = decoder.decode(queue);
    } catch (err) {
      this.#isPartial = false;
      if (!(err instanceof ProtocolError && err.recoverable)) this.#decoder = undefined;
      this.#releaseQueue();
      throw err;
    }
    this.#releaseQueue();
    if (frame !== undefined) {
      this.#isPartial = false;
      return frame;
    }
    if (this.#state === "fin" || this.#state === "reset") {
      // A reset (or our own destroy) drops the bytes of an unfinished frame: never delivered as if whole.
      this.#decoder = undefined;
      return END;
    }
    // Bytes went in and no frame came out (the decoder may have dropped them: the rest of an
    // over-long line is still a frame pending).
    if (hadBytes) this.#isPartial = true;
    return PENDING;
  }

  #deliver(frame: F): F {
    this.#partialSince = 0;
    this.#hooks.onFrame?.(frame);
    return frame;
  }

  async #readFrameSlow(first: unknown): Promise<F | undefined> {
    let failure = first === PENDING ? undefined : first;
    for (;;) {
      if (failure !== undefined) {
        await this.#report(failure);
        failure = undefined;
      } else {
        await this.#wait();
      }
      let next: Step<F>;
      try {
        next = this.#step();
      } catch (err) {
        failure = err;
        continue;
      }
      if (next === END) return undefined;
      if (next !== PENDING) return this.#deliver(next);
    }
  }

  /** Hands a decoder's error to onProtocolError, or throws it when there is no such hook. */
  async #report(err: unknown): Promise<void> {
    const hook = this.#hooks.onProtocolError;
    if (hook === undefined) throw err;
    await hook.call(this.#hooks, asProtocolError(err));
  }

  #checkRawAllowed(): void {
    if (this.#isPartial) {
      throw new ProtocolError(
        "DECODER_FAILED",
        "raw read while part of a frame is queued; read the whole frame first",
      );
    }
  }

  /** Parks a frame read until bytes (or the end) arrive. */
  #park<T>(kind: ReadKind): Promise<T> {
    this.#waiting();
    this.#parked = kind;
    return new Promise<T>((resolve, reject) => {
      this.#resolve = resolve as (value: unknown) => void;
      this.#reject = reject;
    });
  }

  #wait(): Promise<void> {
    this.#waiting();
    return new Promise((resolve) => {
      if (this.#waiters) this.#waiters.push(resolve);
      else this.#waiters = [resolve];
    });
  }

  /** A read is about to wait: bytes must flow, and a partial frame's deadline starts (once). */
  #waiting(): void {
    this.#hooks.onWait?.();
    if (this.#state === "paused") {
      this.#state = "flowing";
      this.#socket.resume();
    }
    if (this.#isPartial) this.#partialPending();
    else this.#partialSince = 0;
  }

  /** Gives an emptied queue back (and the reader EMPTY_QUEUE): an idle reader holds none. */
  #releaseQueue(): void {
    const queue = this.#queue;
    if (queue.size !== 0 || queue === EMPTY_QUEUE) return;
    this.#queue = EMPTY_QUEUE;
    if (spareQueues.length < MAX_SPARE_QUEUES) spareQueues.push(queue);
  }

  #resumeIfLow(): void {
    if (this.#state === "paused" && this.#queue.size < this.#highWater) {
      this.#state = "flowing";
      this.#socket.resume();
    }
  }

  #wake(): void {
    if (this.#parked !== NO_READ) this.#answerParked();
    const waiters = this.#waiters;
    if (waiters === undefined) return;
    this.#waiters = undefined;
    for (const w of waiters) w();
  }

  /** Answers the parked read if the queue now holds its frame or bytes (or the end came). */
  #answerParked(): void {
    if (this.#parked === CHUNK_READ) {
      if (this.#queue.size > 0) this.#unpark()(this.#takeChunk(this.#parkedMaxBytes));
      else if (this.#isOver()) this.#unpark()(undefined);
      return;
    }
    if (this.#parked === CALLBACK_READ) {
      this.#answerCallback();
      return;
    }
    const isIterator = this.#parked === ITERATOR_READ;
    let next: Step<F>;
    try {
      next = this.#step();
    } catch (err) {
      const reject = this.#reject!;
      const resolve = this.#unpark();
      const slow = this.#readFrameSlow(err);
      (isIterator ? slow.then(toIteratorResult) : slow).then(resolve, reject);
      return;
    }
    if (next === PENDING) {
      if (this.#isPartial) this.#partialPending();
      return;
    }
    const resolve = this.#unpark();
    if (next === END) resolve(isIterator ? { done: true, value: undefined } : undefined);
    else {
      const frame = this.#deliver(next);
      resolve(isIterator ? { done: false, value: frame } : frame);
    }
  }

  /** Answers a parked readFrameCallback if its frame (or the end, or a bad frame) is here. */
  #answerCallback(): void {
    let next: Step<F>;
    let failure: unknown;
    try {
      next = this.#step();
    } catch (err) {
      next = PENDING;
      failure = err;
    }
    if (next === PENDING && failure === undefined) {
      if (this.#isPartial) this.#partialPending();
      return;
    }
    const callback = this.#callback as FrameCallback<never, unknown>;
    const arg = this.#callbackArg;
    this.#parked = NO_READ;
    this.#callback = undefined;
    this.#callbackArg = undefined;
    // A frame is handed over here, in the data callback. The end and failures come from stop(),
    // a socket event or a write cutting the peer, in the middle of someone else's work: the
    // callback gets them in a microtask, as an awaited readFrame() would.
    if (failure !== undefined) settleCallback(this.#readFrameSlow(failure) as Promise<never>, callback, arg);
    else if (next === END) settleCallback(RESOLVED_UNDEFINED, callback, arg);
    else callback(arg, this.#deliver(next as F) as never);
  }

  /** Clears the parked read and returns its resolve. */
  #unpark(): (value: unknown) => void {
    const resolve = this.#resolve!;
    this.#parked = NO_READ;
    this.#resolve = undefined;
    this.#reject = undefined;
    return resolve;
  }

  /** A read found part of a frame and waits for the rest: the frame's deadline starts, once. */
  #partialPending(): void {
    if (this.#partialSince !== 0) return;
    const ms = this.#hooks.frameTimeoutMs ?? 0;
    if (!(ms > 0 && Number.isFinite(ms)) || this.#isOver()) return;
    this.#partialSince = performance.now();
    if (this.#frameTimer === undefined) {
      this.#frameTimer = setTimeout(FramedReader.#onFrameTimer, ms, this);
      this.#frameTimer.unref();
    }
  }

  /**
   * The frame timer: armed once per pending frame and left running when the frame completes; if
   * another partial frame began meanwhile it waits out that one's remainder, else it stops.
   */
  static #onFrameTimer(r: FramedReader<unknown>): void {
    r.#frameTimer = undefined;
    if (r.#partialSince === 0 || r.#isOver()) return;
    const ms = r.#hooks.frameTimeoutMs ?? 0;
    const waited = performance.now() - r.#partialSince;
    // libuv's clock is whole ms: a timer may fire up to a ms early by performance.now().
    if (waited + 1 < ms) {
      r.#frameTimer = setTimeout(FramedReader.#onFrameTimer, ms - waited, r);
      r.#frameTimer.unref();
      return;
    }
    r.#hooks.onFrameTimeout?.();
  }
}

/** Hands a promised frame to a readFrameCallback callback (the slow and rare paths). */
function settleCallback<F, T>(frame: Promise<F | undefined>, callback: FrameCallback<F, T>, arg: T): void {
  frame.then(
    (f) => callback(arg, f),
    (err: unknown) => callback(arg, undefined, err ?? new ProtocolError("DECODER_FAILED", "a read failed")),
  );
}

function toIteratorResult<F>(frame: F | undefined): IteratorResult<F> {
  return frame === undefined ? { done: true, value: undefined } : { done: false, value: frame };
}

function asProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError("DECODER_FAILED", `decoder failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
