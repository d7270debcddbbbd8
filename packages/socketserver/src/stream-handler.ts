import type net from "node:net";
import { type Decoder, lines, type ProtocolError } from "@netlab/protocol";
import { BaseRequestHandler, peerText } from "./base-handler.js";
import type { BaseServer } from "./base-server.js";
import { NetworkError } from "./errors.js";
import { FramedReader, type StreamReader } from "./framed-reader.js";
import { kAbort, kClosing, kWants, RESOLVED, settleWithin } from "./internal.js";
import type { ConnectionInfo, PeerAddress } from "./types.js";

/** How long a finished connection waits for the peer to close before it is destroyed. */
const LINGER_MS = 2_000;

/** What `wfile` is: bytes out. `write()` resolves at once unless the socket's buffer is full, then when it drains. */
export interface StreamWriter {
  write(data: string | Uint8Array): Promise<void>;
  /** Half-closes after flushing (the peer sees EOF); resolves when flushed. */
  end(data?: string | Uint8Array): Promise<void>;
  /** Bytes queued in the socket, not yet handed to the kernel (this tick's corked writes included). */
  readonly bufferedBytes: number;
}

/** The handler's private operations that wfile calls; set in the handler's static block. */
let ops: {
  write(h: StreamRequestHandler<unknown>, data: string | Uint8Array): Promise<void>;
  end(h: StreamRequestHandler<unknown>, data?: string | Uint8Array): Promise<void>;
};

/** `wfile`: one small object per connection, its methods on the prototype. */
class Writer implements StreamWriter {
  readonly #h: StreamRequestHandler<unknown>;
  constructor(h: StreamRequestHandler<unknown>) {
    this.#h = h;
  }
  write(data: string | Uint8Array): Promise<void> {
    return ops.write(this.#h, data);
  }
  end(data?: string | Uint8Array): Promise<void> {
    return ops.end(this.#h, data);
  }
  get bufferedBytes(): number {
    return this.#h.request.writableLength;
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
 * `frameTimeoutMs`), `disableNagleAlgorithm` (default true), `maxReadBytes` (largest `readBytes(n)`).
 * Hooks: `onProtocolError(err)` for bad frames, `onIdleTimeout()` before an idle connection closes,
 * `onFrameTimeout()` before a connection stuck on a partial frame closes.
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

  #drainWaiter: Promise<void> | undefined;
  /**
   * 0: no write since the last read that waited; 1: one write (sent at once); 2: more writes without
   * a wait between them (a header and a body, replies to a pipelined client): the socket is corked
   * and they leave as one writev when the tick ends. A read that waits for bytes ends the tick, so
   * the usual read-reply-read loop sends each reply at once and schedules nothing.
   */
  #writeTick: 0 | 1 | 2 = 0;
  #writeError: Error | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** Made when close() waits for the socket's close; resolved by #onClose. */
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #isClosed = false;

  constructor(request: net.Socket, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.timeout = server.options.idleTimeoutMs;
    this.frameTimeout = server.options.frameTimeoutMs;
    this.wfile = new Writer(this as StreamRequestHandler<unknown>);
  }

  static {
    ops = {
      write: (h, data) => h.#write(data),
      end: (h, data) => h.#end(data),
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

  /** Bytes out. `write()` resolves at once unless the socket's buffer is full, then when it drains. */
  readonly wfile: StreamWriter;

  protected override start(): void {
    const socket = this.request;
    socket.on("close", () => this.#onClose());
    socket.on("error", (err: Error) => {
      this.#writeError ??= err;
    });
    const h = this;
    const reader = new FramedReader<F>(socket, this.createDecoder(), {
      // Tunables read when they apply: a handler may change them in setup() or later.
      get maxReadBytes() {
        return h.maxReadBytes;
      },
      get frameTimeoutMs() {
        return h.frameTimeout;
      },
      onChunk: (chunk) => {
        this.#idleTimer?.refresh();
        if (this.server[kWants].bytesIn) this.server.emit("bytesIn", this.info, chunk.length);
      },
      onFrame: (frame) => {
        this.info.framesIn++;
        if (this.server[kWants].frameIn) this.server.emit("frameIn", this.info, frame);
      },
      onProtocolError: (err) => this.onProtocolError(err),
      onFrameTimeout: () => this.#onFrameTimeout(),
      // A read that waits ends the handler's turn: its next write is a first write again.
      onWait: () => {
        if (this.#writeTick === 1) this.#writeTick = 0;
      },
    });
    this.#reader = reader;
    this.rfile = reader;
    if (this.isAborted) reader.stop();
    socket.resume();
  }

  #onClose(): void {
    this.#isClosed = true;
    clearTimeout(this.#idleTimer);
    this[kAbort](new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} closed`));
    this.#resolveClosed?.();
  }

  /** Reads end when the signal aborts (shutdown, idle timeout), so a handler parked on a read finishes. */
  protected override aborted(): void {
    this.#reader?.stop();
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
    if (!socket.writableEnded) socket.end();
    // The peer normally closes its side once it sees EOF; one that does not is destroyed after a
    // moment, and at once during shutdown (after our bytes reached the kernel).
    const linger = this.server[kClosing] ? 0 : LINGER_MS;
    const flushed = new Promise<void>((resolve) => {
      if (socket.writableFinished) resolve();
      else socket.once("finish", resolve);
    });
    const closed = this.#whenClosed();
    if (linger === 0) await settleWithin(Promise.race([flushed, closed]), this.server.options.drainTimeoutMs);
    if (!(await settleWithin(closed, linger))) socket.destroy();
    await closed;
  }

  protected override destroy(): void {
    this.request.destroy();
  }

  static #onIdleTimer(h: StreamRequestHandler<unknown>, ms: number): void {
    const reason = new NetworkError("TIMEOUT", `connection from ${peerText(h)} idle for ${ms} ms`);
    void h.#timedOut(() => h.onIdleTimeout(), reason);
  }

  /** The reader saw a partial frame wait past `frameTimeout`: say why (the hook), then close. */
  #onFrameTimeout(): void {
    const ms = this.frameTimeout;
    const reason = new NetworkError(
      "TIMEOUT",
      `connection from ${peerText(this)}: a frame was still incomplete after ${ms} ms`,
      { hint: "send each line whole; raise frameTimeoutMs (lab server --line-timeout) for slow links" },
    );
    void this.#timedOut(() => this.onFrameTimeout(), reason);
  }

  async #timedOut(goodbye: () => void | Promise<void>, reason: NetworkError): Promise<void> {
    // The goodbye comes first, while the handler still holds the connection, so its words are
    // written before the handler's end; a goodbye that hangs gets LINGER_MS.
    await settleWithin((async () => goodbye())(), LINGER_MS);
    this[kAbort](reason);
    if (!this.request.writableEnded) this.request.end();
    setTimeout(() => this.request.destroy(), LINGER_MS).unref();
  }

  #write(data: string | Uint8Array): Promise<void> {
    const socket = this.request;
    if (this.#writeError) return Promise.reject(this.#gone(this.#writeError));
    if (socket.destroyed || socket.writableEnded) return Promise.reject(this.#gone());
    this.info.framesOut++;
    const wants = this.server[kWants];
    if (wants.frameOut) this.server.emit("frameOut", this.info, data);
    // A write goes straight out; a second one before the handler waits again corks the socket
    // until the tick ends (see #writeTick).
    // Writes while a read is parked come from elsewhere (a broadcast to this connection): each is
    // a first write, since the heuristic knows the handler's own turns only.
    if (this.#writeTick === 0 || this.#reader?.isWaiting) {
      if (this.#writeTick === 0) this.#writeTick = 1;
    } else if (this.#writeTick === 1) {
      this.#writeTick = 2;
      socket.cork();
      process.nextTick(StreamRequestHandler.#endWriteTick, this);
    }
    const isWritten = socket.write(data);
    if (wants.bytesOut) {
      this.server.emit(
        "bytesOut",
        this.info,
        typeof data === "string" ? Buffer.byteLength(data) : data.length,
      );
    }
    if (isWritten) return RESOLVED;
    return this.#waitDrain();
  }

  static #endWriteTick(h: StreamRequestHandler<unknown>): void {
    if (h.#writeTick === 2) h.request.uncork();
    h.#writeTick = 0;
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
    const reason = this.abortReason;
    if (reason instanceof NetworkError && reason.code !== "CONNECTION_RESET") return reason;
    return new NetworkError("CONNECTION_RESET", `connection from ${peerText(this)} is closed`, {
      cause,
      hint: "the peer went away; nothing more can be sent",
    });
  }
}
