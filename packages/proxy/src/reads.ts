import net from "node:net";

/** Defaults of {@link ReusedReads}. */
export const READS_DEFAULTS = { readBufferBytes: 64 * 1024 } as const;

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
 * Reads of one socket into two reused buffers (net's `onread` option) instead of the fresh 64 KiB
 * buffer and the Readable machinery Node's `'data'` event costs per read. Give {@link onread} to
 * `net.connect` or {@link adoptWithReusedBuffer}, then {@link attach} the one consumer. A buffer the
 * consumer keeps (a write still in flight) is never read into again until {@link release}; at most
 * one is tracked as held, and a consumer that keeps more gets fresh buffers, so no byte is ever
 * overwritten while referenced. `'end'`, `'error'`, `pause()` and `resume()` work as with `'data'`.
 * @example
 * const reads = new ReusedReads();
 * const upstream = net.connect({ host, port, onread: reads.onread });
 * reads.attach(upstream, (view) => { dest.write(view); return dest.writableLength > 0; });
 */
export class ReusedReads {
  /** Pass as `onread` when creating the socket. */
  readonly onread: OnRead;
  readonly #bytes: number;
  #current: Buffer;
  /** The buffer a consumer still references, until `release()`. */
  #held: Buffer | undefined;
  /** A free buffer, allocated the first time one was held. */
  #spare: Buffer | undefined;
  #wasKept = false;
  #consumer: ReadConsumer | undefined;
  /** A read that came before `attach` (a copy), and the socket paused for it. */
  #early: Buffer | undefined;

  /** @param readBufferBytes Most bytes one read returns (each of the two buffers' size). Default 64 KiB, as Node's. */
  constructor(readBufferBytes: number = READS_DEFAULTS.readBufferBytes) {
    this.#bytes = readBufferBytes;
    this.#current = Buffer.allocUnsafe(readBufferBytes);
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

  #onRead(nread: number, buffer: Uint8Array): boolean {
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, nread);
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
    if (!this.#wasKept) return this.#current;
    this.#wasKept = false;
    if (this.#held === undefined) {
      this.#held = this.#current;
      this.#current = this.#spare ?? Buffer.allocUnsafe(this.#bytes);
      this.#spare = undefined;
    } else {
      // Two in flight: the older stays held; this one is left to the write that references it.
      this.#current = Buffer.allocUnsafe(this.#bytes);
    }
    return this.#current;
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
