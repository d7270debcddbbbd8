import net from "node:net";
import { requireInt } from "./errors.js";

/** Defaults of {@link ReusedReads} and its {@link ReadBudget}. */
export const READS_DEFAULTS = {
  readBufferBytes: 1024 * 1024,
  readBufferTotalBytes: 64 * 1024 * 1024,
} as const;

/**
 * Reads grow to this size on their own; past it, only with room in the {@link ReadBudget}. A
 * thousand bulk connections at this size hold 1 GiB at most (two directions, two buffers each).
 */
export const FREE_READ_BYTES = 256 * 1024;

/** Throws INVALID_OPTION unless `value` is a whole number of bytes from 1 KiB to 64 MiB. */
export function requireReadBufferBytes(value: number): void {
  requireInt("readBufferBytes", value, { min: 1024, max: 64 * 1024 * 1024 });
}

/** Throws INVALID_OPTION unless `value` is a whole number of bytes from 0 to 16 GiB. */
export function requireReadBufferTotalBytes(value: number): void {
  requireInt("readBufferTotalBytes", value, { min: 0, max: 16 * 1024 * 1024 * 1024 });
}

/**
 * Read buffer bytes past {@link FREE_READ_BYTES} that all the reads sharing it hold at once: larger
 * reads cost less CPU per byte (fewer system calls and wake-ups), and the budget keeps a crowd of
 * bulk connections from each taking the largest size.
 */
export class ReadBudget {
  /** Bytes taken now. */
  usedBytes = 0;
  /** @param limitBytes Most bytes taken at once. Default 64 MiB. */
  constructor(readonly limitBytes: number = READS_DEFAULTS.readBufferTotalBytes) {
    requireReadBufferTotalBytes(limitBytes);
  }

  /** Takes `bytes` if they fit under the limit; says whether they did. */
  take(bytes: number): boolean {
    if (this.usedBytes + bytes > this.limitBytes) return false;
    this.usedBytes += bytes;
    return true;
  }

  /** Gives back bytes taken before. */
  give(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes);
  }
}

/** The size reads start at and shrink back to: an idle connection holds two of these, one per direction. */
const FIRST_READ_BYTES = 16 * 1024;
/** Reads of under a quarter of the buffer in a row before it halves. */
const SMALL_READS_TO_SHRINK = 8;

/**
 * Who gets each read of a {@link ReusedReads}: `view` holds the bytes read and is valid only during
 * the call. Returns true when something still references `view` afterwards (a write the kernel has
 * not taken yet), so that the next read goes to another buffer until {@link ReusedReads.release}.
 */
export type ReadConsumer = (view: Buffer) => boolean;

/** net's `onread` option: the buffer to read into (or a function handing it out) and the callback. */
export interface OnRead {
  buffer: () => Uint8Array;
  /** Returns false to stop the socket reading (Node's rule); true otherwise. */
  callback: (nread: number, buffer: Uint8Array) => boolean;
}

/**
 * Reads of one socket into reused buffers (net's `onread` option) instead of the fresh 64 KiB buffer
 * and the Readable machinery Node's `'data'` event costs per read. Give {@link onread} to
 * `net.connect` or {@link adoptWithReusedBuffer}, then {@link attach} the one consumer.
 *
 * Sized by use: reads start at 16 KiB, a read that fills the buffer doubles it (up to
 * `readBufferBytes`; past {@link FREE_READ_BYTES} only with room in the `budget`), and a run of
 * reads using under a quarter of it halves it again, so a busy connection makes few large reads and
 * an idle one holds 16 KiB. {@link dispose} gives the budget back when the socket closes. A buffer the consumer keeps (a
 * write still in flight) is never read into again until {@link release}; at most one is tracked as
 * held (it becomes the spare), and a consumer that keeps more gets fresh buffers, so no byte is
 * overwritten while referenced. `'end'`, `'error'`, `pause()` and `resume()` work as with `'data'`.
 * @example
 * const reads = new ReusedReads();
 * const upstream = net.connect({ host, port, onread: reads.onread });
 * reads.attach(upstream, (view) => { dest.write(view); return dest.writableLength > 0; });
 */
export class ReusedReads {
  /** Pass as `onread` when creating the socket. */
  readonly onread: OnRead;
  readonly #maxBytes: number;
  readonly #budget: ReadBudget | undefined;
  /** The size the next buffer handed out should have. */
  #wantBytes: number;
  #smallReads = 0;
  #current: Buffer;
  /** The buffer a consumer still references, until `release()`. */
  #held: Buffer | undefined;
  /** A free buffer: the last one held, once released. */
  #spare: Buffer | undefined;
  #wasKept = false;
  #consumer: ReadConsumer | undefined;
  /** A read that came before `attach` (a copy); the socket stopped reading for it. */
  #early: Buffer | undefined;

  /**
   * @param readBufferBytes Most bytes one read returns. Default 1 MiB.
   * @param budget Shared by the reads whose buffers may grow past 256 KiB; none: no bound but
   * `readBufferBytes`.
   */
  constructor(readBufferBytes: number = READS_DEFAULTS.readBufferBytes, budget?: ReadBudget) {
    requireReadBufferBytes(readBufferBytes);
    this.#maxBytes = readBufferBytes;
    this.#budget = budget;
    this.#wantBytes = Math.min(FIRST_READ_BYTES, readBufferBytes);
    this.#current = Buffer.allocUnsafe(this.#wantBytes);
    this.onread = {
      // Node calls this once the callback returned, and reads next into what it returns.
      buffer: () => this.#next(),
      callback: (nread, buffer) => this.#onRead(nread, buffer),
    };
  }

  /**
   * Hands every read of `socket` (created with {@link onread}) to `consumer`, starting with one that
   * came before, if any.
   */
  attach(socket: net.Socket, consumer: ReadConsumer): void {
    this.#consumer = consumer;
    const early = this.#early;
    if (early === undefined) return;
    this.#early = undefined;
    consumer(early);
    // `read(0)` restarts a socket with `onread` that its callback stopped, without touching a
    // pause() the owner made.
    if (!socket.destroyed) socket.read(0);
  }

  /** Says that every buffer handed to the consumer is free again (its writes were flushed). */
  release(): void {
    if (this.#held === undefined) return;
    this.#spare = this.#held;
    this.#held = undefined;
  }

  /** Gives back what this connection's reads took from the budget (call once its socket closed). */
  dispose(): void {
    this.#resize(Math.min(FIRST_READ_BYTES, this.#maxBytes));
    this.#spare = undefined;
  }

  /** Sets the size the next buffer should have, moving what is past FREE_READ_BYTES through the budget. */
  #resize(bytes: number): void {
    const budget = this.#budget;
    if (budget !== undefined) {
      const over = (n: number) => Math.max(0, n - FREE_READ_BYTES);
      const more = over(bytes) - over(this.#wantBytes);
      if (more > 0 && !budget.take(more)) return;
      if (more < 0) budget.give(-more);
    }
    this.#wantBytes = bytes;
  }

  #onRead(nread: number, buffer: Uint8Array): boolean {
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, nread);
    if (nread === buffer.length) {
      if (buffer.length === this.#wantBytes) this.#resize(Math.min(buffer.length * 2, this.#maxBytes));
      this.#smallReads = 0;
    } else if (nread >= buffer.length / 4) {
      this.#smallReads = 0;
    } else if (++this.#smallReads >= SMALL_READS_TO_SHRINK) {
      this.#resize(Math.max(Math.floor(buffer.length / 2), Math.min(FIRST_READ_BYTES, this.#maxBytes)));
      this.#smallReads = 0;
    }
    const consumer = this.#consumer;
    if (consumer === undefined) {
      // Nobody to give it to yet: keep a copy and stop reading (returning false stops the handle).
      this.#early = Buffer.from(view);
      return false;
    }
    // Not the consumer's answer: false would stop the socket reading.
    this.#wasKept = consumer(view);
    return true;
  }

  #next(): Buffer {
    if (this.#wasKept) {
      this.#wasKept = false;
      // A second buffer in flight is left to the write that references it; the first stays held.
      if (this.#held === undefined) this.#held = this.#current;
      this.#current = this.#take();
    } else if (this.#current.length !== this.#wantBytes) {
      this.#current = this.#take();
    }
    return this.#current;
  }

  /** The spare if it has the size wanted, else a new buffer (and the spare is let go). */
  #take(): Buffer {
    const spare = this.#spare;
    this.#spare = undefined;
    return spare?.length === this.#wantBytes ? spare : Buffer.allocUnsafe(this.#wantBytes);
  }
}

/** Node's private Socket fields this relies on, checked before use. */
interface SocketInternals {
  _handle: { reading?: boolean; useUserBuffer?: unknown; readStop?: unknown } | null;
  _server: net.Server | null;
  server: net.Server | null;
}

/**
 * An accepted socket, taken over by a new `net.Socket` that reads with `onread` (Node 20's
 * `net.Server` has no `onread` option), or undefined when Node's internals are not as expected;
 * the caller then keeps `socket` and its `'data'` reads. The server must be created with
 * `pauseOnConnect: true` so the handle has not started reading: the new socket takes the same
 * handle (its constructor points the handle's reads at itself and its buffer), the old socket lets
 * go of the handle without closing it and is destroyed, and the server's connection count moves to
 * the new socket, so `server.close()`, `getConnections()` and `maxConnections` still count it once.
 * Call it first, before listening to the old socket: nothing moves over but the connection.
 * @example
 * const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
 *   const reads = new ReusedReads();
 *   const socket = adoptWithReusedBuffer(accepted, reads.onread) ?? accepted;
 * });
 */
export function adoptWithReusedBuffer(socket: net.Socket, onread: OnRead): net.Socket | undefined {
  const old = socket as unknown as SocketInternals;
  const handle = old._handle;
  const setter = Object.getOwnPropertyDescriptor(net.Socket.prototype, "_handle")?.set;
  // What the takeover relies on (Node 20's net.js): a handle that has not started reading and can
  // read into a user buffer, `_handle` as an accessor, and nothing buffered on either side yet.
  if (
    handle === null ||
    typeof handle !== "object" ||
    typeof handle.useUserBuffer !== "function" ||
    handle.reading !== false ||
    setter === undefined ||
    socket.destroyed ||
    socket.connecting ||
    socket.readableLength !== 0 ||
    socket.writableLength !== 0
  ) {
    return undefined;
  }
  const server = old._server;
  const adopted = new net.Socket({
    handle,
    onread,
    allowHalfOpen: socket.allowHalfOpen,
    // Keep the handle stopped, as pauseOnConnect left it: the caller resumes when ready.
    pauseOnCreate: true,
    readableHighWaterMark: socket.readableHighWaterMark,
    writableHighWaterMark: socket.writableHighWaterMark,
  } as net.SocketConstructorOpts);
  const taken = adopted as unknown as SocketInternals;
  // Without its handle, destroying the old socket closes nothing, and without its server it does
  // not count the connection as gone: the new socket does both when it is destroyed.
  old._handle = null;
  old._server = null;
  old.server = null;
  socket.destroy();
  taken._server = server;
  taken.server = server;
  return adopted;
}
