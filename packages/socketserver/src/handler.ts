import type dgram from "node:dgram";
import type net from "node:net";
import { type Decoder, decodeChunk, lines, ProtocolError } from "@netlab/protocol";
import type { BaseServer } from "./base-server.js";
import { NetworkError } from "./errors.js";
import { kAbort, kClosing, kDestroy, kRun, kWants, RESOLVED, settleWithin } from "./internal.js";
import type { ConnectionInfo, Datagram, PeerAddress } from "./types.js";

let nextId = 1;

/**
 * One instance per request (a stream connection, or a datagram): the server calls `setup()`, then
 * `handle()`, then `finish()` — `finish()` runs even when `handle()` throws. Per-connection state
 * lives on `this`, state shared between connections on `this.server`.
 *
 * Override: `setup`, `handle`, `finish`. Read: `request`, `clientAddress`, `server`, `info`, `signal`.
 * Do not read subclass fields in a constructor (they are set after it); read them in `setup()`.
 * @example
 * class Hello extends StreamRequestHandler {
 *   override async handle() { await this.wfile.write(`hello ${this.clientAddress.address}\n`); }
 * }
 */
export abstract class BaseRequestHandler<S extends BaseServer = BaseServer> {
  readonly server: S;
  readonly request: net.Socket | Datagram;
  readonly clientAddress: PeerAddress;
  /** Live counters for this connection; the object every event for it carries. */
  readonly info: ConnectionInfo;
  readonly #controller = new AbortController();

  constructor(request: net.Socket | Datagram, clientAddress: PeerAddress, server: S) {
    this.request = request;
    this.clientAddress = clientAddress;
    this.server = server;
    this.info = {
      id: nextId++,
      peer: clientAddress,
      openedAt: Date.now(),
      bytesIn: 0,
      bytesOut: 0,
      framesIn: 0,
      framesOut: 0,
    };
  }

  /**
   * Aborted when the server shuts down, the connection idles out or the peer goes away; `reason`
   * is a NetworkError (ABORTED, TIMEOUT, CONNECTION_RESET). Pass it to anything long-running.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Runs before `handle()`. Default: nothing. */
  setup(): void | Promise<void> {}

  /** Serves the request. Default: nothing. */
  handle(): void | Promise<void> {}

  /** Runs after `handle()`, even when it threw. Default: nothing. */
  finish(): void | Promise<void> {}

  /** @internal setup → handle → finish, then close; rethrows what setup/handle/finish threw. */
  async [kRun](): Promise<void> {
    let failure: unknown;
    let failed = false;
    try {
      this.start();
      await this.setup();
      this.started();
      try {
        await this.handle();
      } finally {
        await this.finish();
      }
    } catch (err) {
      failure = err;
      failed = true;
    }
    await this.close();
    if (failed) throw failure;
  }

  /** @internal */
  [kAbort](reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** @internal */
  [kDestroy](): void {
    this.destroy();
  }

  /** Transport hook: before setup(). */
  protected start(): void {}
  /** Transport hook: after setup() returned (tunables such as `timeout` are read here). */
  protected started(): void {}
  /** Transport hook: after finish(); resolves when the transport is closed. */
  protected close(): Promise<void> {
    return RESOLVED;
  }
  /** Transport hook: close at once. */
  protected destroy(): void {}
}

/** Bytes held unread per connection before the socket is paused (backpressure on the peer). */
const READ_HIGH_WATER_BYTES = 64 * 1024;
/** How long a finished connection waits for the peer to close before it is destroyed. */
const LINGER_MS = 2_000;
const LF = 0x0a;

type Waiter = () => void;

/**
 * One instance per TCP or Unix stream connection. `rfile` reads frames (lines by default; override
 * `createDecoder()` for another framing) or raw bytes; `wfile.write()` waits for drain when the
 * socket's buffer is full, so a slow reader cannot grow the server's memory.
 *
 * Tunables (set as fields, read after `setup()`): `timeout` (idle ms, default the server's
 * `idleTimeoutMs`), `disableNagleAlgorithm` (default true), `maxReadBytes` (largest `readBytes(n)`).
 * Hooks: `onProtocolError(err)` for bad frames, `onIdleTimeout()` before an idle connection closes.
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
  /** Send small writes at once (TCP_NODELAY). Default true: latency matters more than packet count. */
  disableNagleAlgorithm = true;
  /** Largest `rfile.readBytes(n)`, in bytes. Default 16 MiB. */
  maxReadBytes = 16 * 1024 * 1024;

  // Raw bytes received and not yet decoded or read: chunks[head] from offset on, then the rest.
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  #rawBytes = 0;
  // Decoded items (frames, or recoverable errors in their place) not yet returned.
  #items: Array<F | ProtocolError> = [];
  #itemHead = 0;
  #decoder: Decoder<F> | undefined;
  #decoderEnded = false;
  #isEof = false;
  #isPaused = false;
  #waiters: Waiter[] = [];
  #drainWaiter: Promise<void> | undefined;
  #writeError: Error | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #closed!: Promise<void>;
  #isClosed = false;
  /** After the handler is done, incoming bytes are dropped while the peer closes. */
  #isDiscarding = false;

  constructor(request: net.Socket, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.timeout = server.options.idleTimeoutMs;
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

  /** Called when the connection idled out, before it is closed: a last chance to say why. Default: nothing. */
  protected onIdleTimeout(): void | Promise<void> {}

  /** Frames in, and raw bytes for binary protocols. Reads end (undefined) at EOF, on shutdown, idle timeout or reset. */
  readonly rfile: AsyncIterable<F> & {
    /** The next frame; undefined at EOF. */
    readFrame(): Promise<F | undefined>;
    /** Exactly `n` raw bytes (after any already buffered); ProtocolError TRUNCATED at EOF. */
    readBytes(n: number): Promise<Uint8Array>;
    /** The next raw chunk as it arrived; undefined at EOF. */
    readChunk(): Promise<Uint8Array | undefined>;
  } = {
    readFrame: () => this.#readFrame(),
    readBytes: (n) => this.#readBytes(n),
    readChunk: () => this.#readChunk(),
    [Symbol.asyncIterator]: () => ({
      next: async (): Promise<IteratorResult<F>> => {
        const frame = await this.#readFrame();
        return frame === undefined ? { done: true, value: undefined } : { done: false, value: frame };
      },
    }),
  };

  /** Bytes out. `write()` resolves at once unless the socket's buffer is full, then when it drains. */
  readonly wfile: {
    write(data: string | Uint8Array): Promise<void>;
    /** Half-closes after flushing (the peer sees EOF); resolves when flushed. */
    end(data?: string | Uint8Array): Promise<void>;
    /** Bytes queued in the socket, not yet handed to the kernel. */
    readonly bufferedBytes: number;
  } = ((handler) => ({
    write: (data: string | Uint8Array) => handler.#write(data),
    end: (data?: string | Uint8Array) => handler.#end(data),
    get bufferedBytes(): number {
      return handler.request.writableLength;
    },
  }))(this);

  protected override start(): void {
    const socket = this.request;
    const wants = this.server[kWants];
    this.#closed = new Promise<void>((resolve) => {
      socket.once("close", () => {
        this.#isClosed = true;
        this.#isEof = true;
        clearTimeout(this.#idleTimer);
        this[kAbort](new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} closed`));
        this.#wake();
        resolve();
      });
    });
    socket.on("data", (chunk: Buffer) => {
      this.info.bytesIn += chunk.length;
      this.#idleTimer?.refresh();
      if (wants.bytesIn) this.server.emit("bytesIn", this.info, chunk.length);
      if (this.#isDiscarding) return;
      this.#chunks.push(chunk);
      this.#rawBytes += chunk.length;
      if (this.#rawBytes >= READ_HIGH_WATER_BYTES && !this.#isPaused) {
        this.#isPaused = true;
        socket.pause();
      }
      this.#wake();
    });
    socket.on("end", () => {
      this.#isEof = true;
      this.#wake();
    });
    socket.on("error", (err) => {
      this.#writeError ??= err;
      this.#isEof = true;
      this.#wake();
    });
    // Reads end when the signal aborts (shutdown, idle timeout), so a handler parked on a read finishes.
    this.signal.addEventListener("abort", () => this.#wake(), { once: true });
    socket.resume();
  }

  protected override started(): void {
    const socket = this.request;
    if (this.disableNagleAlgorithm) socket.setNoDelay(true);
    const ms = this.timeout;
    if (Number.isFinite(ms) && ms > 0 && !this.#isClosed) {
      this.#idleTimer = setTimeout(() => void this.#idledOut(ms), ms);
      this.#idleTimer.unref();
    }
  }

  protected override async close(): Promise<void> {
    const socket = this.request;
    clearTimeout(this.#idleTimer);
    if (this.#isClosed) return;
    this.#isDiscarding = true;
    this.#chunks = [];
    this.#rawBytes = 0;
    if (this.#isPaused) {
      this.#isPaused = false;
      socket.resume();
    }
    if (!socket.writableEnded) socket.end();
    // The peer normally closes its side once it sees EOF; one that does not is destroyed after a
    // moment, and at once during shutdown (after our bytes reached the kernel).
    const linger = this.server[kClosing] ? 0 : LINGER_MS;
    const flushed = new Promise<void>((resolve) => {
      if (socket.writableFinished) resolve();
      else socket.once("finish", resolve);
    });
    if (linger === 0) await settleWithin(flushed, this.server.options.drainTimeoutMs);
    if (!(await settleWithin(this.#closed, linger))) socket.destroy();
    await this.#closed;
  }

  protected override destroy(): void {
    this.request.destroy();
  }

  async #idledOut(ms: number): Promise<void> {
    this[kAbort](new NetworkError("TIMEOUT", `connection from ${peerText(this)} idle for ${ms} ms`));
    this.#wake();
    try {
      await this.onIdleTimeout();
    } catch {
      // The connection is closing anyway; a failed goodbye changes nothing.
    }
    if (!this.request.writableEnded) this.request.end();
    setTimeout(() => this.request.destroy(), LINGER_MS).unref();
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  #wait(): Promise<void> {
    if (this.#isPaused && this.#rawBytes < READ_HIGH_WATER_BYTES) {
      this.#isPaused = false;
      this.request.resume();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Whether reads are over: shutdown, idle timeout, or the peer gone without bytes left. */
  #isReadDone(): boolean {
    return this.signal.aborted;
  }

  async #readFrame(): Promise<F | undefined> {
    for (;;) {
      if (this.#itemHead < this.#items.length) {
        const item = this.#items[this.#itemHead++] as F | ProtocolError;
        if (this.#itemHead === this.#items.length) {
          this.#items = [];
          this.#itemHead = 0;
        }
        if (item instanceof ProtocolError) {
          await this.onProtocolError(item);
          if (!item.recoverable) this.#failDecoder();
          continue;
        }
        this.info.framesIn++;
        if (this.server[kWants].frameIn) this.server.emit("frameIn", this.info, item);
        return item;
      }
      if (this.#isReadDone() || this.#decoderEnded) return undefined;
      this.#decoder ??= this.createDecoder();
      const decoder = this.#decoder;
      if (this.#rawBytes > 0) {
        this.#decodeNextPiece(decoder);
        continue;
      }
      if (this.#isEof) {
        this.#decoderEnded = true;
        this.#endDecoder(decoder);
        continue;
      }
      await this.#wait();
    }
  }

  /**
   * Feeds the decoder up to and including the next newline, so the decoder never holds the bytes
   * after a line: a handler can switch from frames to raw reads (a header line, then file data).
   */
  #decodeNextPiece(decoder: Decoder<F>): void {
    const chunk = this.#chunks[this.#head]!;
    const nl = chunk.indexOf(LF, this.#offset);
    const end = nl === -1 ? chunk.length : nl + 1;
    const piece = this.#offset === 0 && end === chunk.length ? chunk : chunk.subarray(this.#offset, end);
    this.#consume(end - this.#offset, chunk);
    try {
      for (const item of decodeChunk(decoder, piece)) this.#items.push(item);
    } catch (err) {
      this.#items.push(asProtocolError(err));
    }
  }

  #endDecoder(decoder: Decoder<F>): void {
    try {
      for (const frame of decoder.end()) this.#items.push(frame);
    } catch (err) {
      const e = asProtocolError(err);
      for (const frame of e.frames as F[]) this.#items.push(frame);
      this.#items.push(e);
    }
  }

  #failDecoder(): void {
    this.#decoderEnded = true;
    this.#items = [];
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
        this.#chunks = [];
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

  async #readChunk(): Promise<Uint8Array | undefined> {
    this.#checkRawAllowed();
    for (;;) {
      if (this.#rawBytes > 0) {
        const chunk = this.#chunks[this.#head]!;
        const out = this.#offset === 0 ? chunk : chunk.subarray(this.#offset);
        this.#consume(out.length, chunk);
        return out;
      }
      if (this.#isEof || this.#isReadDone()) return undefined;
      await this.#wait();
    }
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
      if (this.#isEof || this.#isReadDone()) {
        throw new ProtocolError("TRUNCATED", `stream ended after ${this.#rawBytes} of ${n} bytes`);
      }
      // Reading past the high-water mark is allowed for a readBytes that asked for more.
      if (this.#isPaused) {
        this.#isPaused = false;
        this.request.resume();
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
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

  #write(data: string | Uint8Array): Promise<void> {
    const socket = this.request;
    if (this.#writeError) return Promise.reject(this.#gone(this.#writeError));
    if (socket.destroyed || socket.writableEnded) return Promise.reject(this.#gone());
    const n = typeof data === "string" ? Buffer.byteLength(data) : data.length;
    this.info.bytesOut += n;
    this.info.framesOut++;
    const wants = this.server[kWants];
    if (wants.frameOut) this.server.emit("frameOut", this.info, data);
    if (wants.bytesOut) this.server.emit("bytesOut", this.info, n);
    if (socket.write(data)) return RESOLVED;
    return this.#waitDrain();
  }

  #waitDrain(): Promise<void> {
    this.#drainWaiter ??= new Promise<void>((resolve, reject) => {
      const socket = this.request;
      const done = (err?: Error) => {
        socket.off("drain", onDrain);
        socket.off("close", onClose);
        this.#drainWaiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(this.#gone(this.#writeError));
      socket.on("drain", onDrain);
      socket.on("close", onClose);
    });
    return this.#drainWaiter;
  }

  async #end(data?: string | Uint8Array): Promise<void> {
    const socket = this.request;
    if (data !== undefined) await this.#write(data);
    if (socket.writableFinished) return;
    if (socket.destroyed) throw this.#gone(this.#writeError);
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(this.#gone(this.#writeError));
      socket.once("close", onClose);
      socket.end(() => {
        socket.off("close", onClose);
        resolve();
      });
    });
  }

  /** The error a write gets once the connection is over: why it is over, if known. */
  #gone(cause?: Error): NetworkError {
    const reason = this.signal.reason as unknown;
    if (reason instanceof NetworkError && reason.code !== "CONNECTION_RESET") return reason;
    return new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} is closed`, {
      cause,
      hint: "the peer went away; nothing more can be sent",
    });
  }
}

function peerText(h: BaseRequestHandler): string {
  const p = h.clientAddress;
  if (p.family === "unix") return p.address || "a unix socket";
  return p.family === "IPv6" ? `[${p.address}]:${p.port}` : `${p.address}:${p.port}`;
}

function asProtocolError(err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  return new ProtocolError("DECODER_FAILED", `decoder failed: ${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}

/**
 * One instance per datagram. `packet` is the bytes received, `reply()` sends bytes back to the
 * sender from the server's socket.
 * @example
 * class Echo extends DatagramRequestHandler {
 *   override async handle() { await this.reply(this.packet); }
 * }
 */
export class DatagramRequestHandler<S extends BaseServer = BaseServer> extends BaseRequestHandler<S> {
  declare readonly request: Datagram;

  constructor(request: Datagram, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.info.bytesIn = request.packet.length;
    this.info.framesIn = 1;
  }

  /** The datagram received. */
  get packet(): Buffer {
    return this.request.packet;
  }

  /** The server's socket. */
  get socket(): dgram.Socket {
    return this.request.socket;
  }

  protected override start(): void {
    const wants = this.server[kWants];
    if (wants.bytesIn) this.server.emit("bytesIn", this.info, this.packet.length);
    if (wants.frameIn) this.server.emit("frameIn", this.info, this.packet);
  }

  /** Sends `data` to the sender as one datagram; rejects with a NetworkError when it cannot be sent. */
  reply(data: string | Uint8Array): Promise<void> {
    const peer = this.clientAddress;
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    this.info.bytesOut += bytes.length;
    this.info.framesOut++;
    const wants = this.server[kWants];
    if (wants.frameOut) this.server.emit("frameOut", this.info, bytes);
    if (wants.bytesOut) this.server.emit("bytesOut", this.info, bytes.length);
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, peer.port, peer.address, (err) => {
        if (err)
          reject(
            new NetworkError("UNKNOWN", `cannot reply to ${peerText(this)}: ${err.message}`, { cause: err }),
          );
        else resolve();
      });
    });
  }
}
