import type { Socket } from "node:net";
import { describeBytes, formatRate, LowSpeedClock, sniffProtocol } from "@netlab/core";
import type { ByteQueue, Decoder } from "@netlab/protocol";
import { FramedReader, tapData, wireDataChannel } from "@netlab/socketserver";
import { TransferError } from "./errors.js";
import { encodeHeader, type Header, type HeaderInput, headerDecoder, headerError } from "./header.js";

/**
 * What a transfer session needs from a connection: headers, raw chunks, and writes that wait for
 * the socket to drain. One reader and one writer at a time.
 */
export interface Wire {
  /** The next header, or undefined at a clean end of stream (between headers). */
  readHeader(): Promise<Header | undefined>;
  /** The next raw bytes, at most `maxBytes`, as they arrived (no copy); undefined at end of stream. */
  readChunk(maxBytes: number): Promise<Uint8Array | undefined>;
  /** Queues `data`; resolves at once, or when the socket drained if it was full. */
  write(data: Uint8Array): Promise<void>;
  writeHeader(header: HeaderInput): Promise<void>;
  /** Half-closes after flushing. */
  end(): Promise<void>;
  /** Bytes queued in the socket, not yet handed to the kernel (0 = every written buffer is free again). */
  readonly bufferedBytes: number;
  /** Closes at once. */
  destroy(): void;
}

/** Options for {@link SocketWire}. */
export interface SocketWireOptions {
  /** Bytes buffered before the socket is paused (TCP backpressure then stops the peer). Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Describes the peer in CONNECTION_LOST messages, e.g. "the server". Default "the peer". */
  peer?: string;
  /**
   * Read a reset from the peer as the end of the stream, after every byte that arrived before it.
   * For raw mode only, where the end is wherever the peer stops: `nc -N -l` closes with our
   * greeting unread, and the kernel then sends a reset instead of a FIN. Default false.
   */
  isResetAnEnd?: boolean;
  /**
   * While a read or a write waits on the peer, give up (a STALLED error, and the socket is
   * destroyed) once nothing has moved in either direction for this many ms: no byte arrived and no
   * queued write was taken by the kernel. Time spent elsewhere (hashing, disk) does not count.
   * Default Infinity (no limit); the client uses 30 000.
   */
  stallTimeoutMs?: number;
  /**
   * Give up (a STALLED error, and the socket is destroyed) when a header has begun to arrive and is
   * still not whole after this many ms, counted from its first byte, however many bytes trickle in
   * meanwhile. Raw chunks (file data) are never cut by it. Default Infinity (no limit); the client
   * uses 30 000.
   */
  headerTimeoutMs?: number;
  /**
   * curl's --speed-limit: give up (a STALLED error, and the socket is destroyed) when file data
   * moves slower than this many bytes per second on average over `lowSpeedTimeMs` of waiting on the
   * peer (reading a chunk, or a write waiting for the socket to drain; header waits are the header
   * and stall clocks' work). A trickle of a byte a second keeps the stall clock from firing; this
   * does not. Default 0 (no limit); the client uses 1024.
   */
  minBytesPerSecond?: number;
  /** curl's --speed-time: the window `minBytesPerSecond` is averaged over, in ms. Default 60 000. */
  lowSpeedTimeMs?: number;
  /** Aborting it ends any wait at once (an ABORTED error) and destroys the socket. */
  signal?: AbortSignal;
}

/** Defaults of {@link SocketWireOptions}. */
export const WIRE_DEFAULTS = {
  maxBufferedBytes: 4 * 1024 * 1024,
  stallTimeoutMs: Number.POSITIVE_INFINITY,
  headerTimeoutMs: Number.POSITIVE_INFINITY,
  minBytesPerSecond: 0,
  lowSpeedTimeMs: 60_000,
} as const;

/**
 * A {@link Wire} over a connected net.Socket: headers and raw chunks come from one FramedReader
 * (the header decoder), which pauses the socket while `maxBufferedBytes` wait unread, so memory
 * stays bounded whatever the file size. This class adds the transfer's stall clock and abort.
 * @example const wire = new SocketWire(await connect({ port })); await wire.writeHeader({ op: "list", v: 1 });
 */
export class SocketWire implements Wire {
  readonly #socket: Socket;
  readonly #reader: FramedReader<Header>;
  readonly #peer: string;
  #error: Error | undefined;
  readonly #isResetAnEnd: boolean;
  readonly #stallTimeoutMs: number;
  /** Reads and writes now waiting on the peer; the stall clock runs only while this is above 0. */
  #waiting = 0;
  /** performance.now() when a byte last moved, or a wait began. */
  #movedAt = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  /** Counts file data only: readChunk and write waits (a header write seldom waits at all). */
  readonly #lowSpeed: LowSpeedClock;

  constructor(socket: Socket, options: SocketWireOptions = {}) {
    this.#socket = socket;
    this.#peer = options.peer ?? "the peer";
    this.#isResetAnEnd = options.isResetAnEnd ?? false;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? WIRE_DEFAULTS.stallTimeoutMs;
    const headerTimeoutMs = options.headerTimeoutMs ?? WIRE_DEFAULTS.headerTimeoutMs;
    this.#lowSpeed = new LowSpeedClock(
      {
        minBytesPerSecond: options.minBytesPerSecond ?? WIRE_DEFAULTS.minBytesPerSecond,
        lowSpeedTimeMs: options.lowSpeedTimeMs ?? WIRE_DEFAULTS.lowSpeedTimeMs,
      },
      (bytes, ms) => this.#fail(this.#tooSlow(bytes, ms)),
    );
    this.#reader = new FramedReader(socket, refusalAware(headerDecoder()), {
      highWaterBytes: options.maxBufferedBytes ?? WIRE_DEFAULTS.maxBufferedBytes,
      onChunk: (chunk) => {
        this.#movedAt = performance.now();
        this.#lowSpeed.add(chunk.length);
      },
      // Only a header read can be partial: raw chunks (file data) never start this clock.
      frameTimeoutMs: headerTimeoutMs,
      onFrameTimeout: () =>
        this.#fail(
          new TransferError(
            "STALLED",
            `${this.#peer} sent part of a header and not the rest in ${formatSeconds(headerTimeoutMs)} s (header timeout)`,
            {
              hint: `${this.#peer} may be stuck, or not a 'lab files' server; raise --header-timeout if it is only slow`,
            },
          ),
        ),
    });
    const signal = options.signal;
    if (signal) {
      const onAbort = () =>
        this.#fail(new TransferError("ABORTED", `interrupted while talking to ${this.#peer}`));
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        socket.once("close", () => signal.removeEventListener("abort", onAbort));
      }
    }
    socket.on("error", (err) => {
      this.#error ??= err;
    });
    socket.on("close", () => {
      clearTimeout(this.#stallTimer);
      this.#lowSpeed.stop();
    });
  }

  get bufferedBytes(): number {
    return this.#socket.writableLength;
  }

  /** The socket underneath. */
  get socket(): Socket {
    return this.#socket;
  }

  async readHeader(): Promise<Header | undefined> {
    let header: Header | undefined;
    this.#beginWait();
    try {
      header = await this.#reader.readFrame();
    } catch (err) {
      throw this.#error instanceof TransferError ? this.#error : headerError(err);
    } finally {
      this.#endWait();
    }
    if (header === undefined) this.#checkEnd(this.#reader.bufferedBytes > 0);
    return header;
  }

  async readChunk(maxBytes: number): Promise<Uint8Array | undefined> {
    // Only a read that will wait starts the stall clock: nothing per chunk while data streams in.
    const willWait = this.#reader.bufferedBytes === 0;
    if (willWait) {
      this.#beginWait();
      this.#lowSpeed.begin();
    }
    let chunk: Uint8Array | undefined;
    try {
      chunk = await this.#reader.readChunk(maxBytes);
    } finally {
      if (willWait) {
        this.#endWait();
        this.#lowSpeed.end();
      }
    }
    if (chunk === undefined) this.#checkEnd(false);
    return chunk;
  }

  /** At the end of input: why, unless it was a clean end (or a reset that counts as one) between frames. */
  #checkEnd(isMidFrame: boolean): void {
    const err = this.#error;
    if (err && !(this.#isResetAnEnd && isReset(err))) throw this.#failure(err);
    if (isMidFrame) throw this.#lost();
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#error) throw this.#failure(this.#error);
    if (socket.destroyed || socket.writableEnded) throw this.#lost();
    if (wireDataChannel.hasSubscribers) tapData(socket, "out", data);
    // The callback runs once the kernel took these bytes: progress, for the stall clock.
    const size = data.length;
    const onWritten = (err?: Error | null) => this.#onWritten(err, size);
    if (socket.write(data, onWritten)) return;
    this.#beginWait();
    this.#lowSpeed.begin();
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          socket.off("drain", onDrain);
          socket.off("close", onClose);
          socket.off("error", onError);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = () => done();
        const onClose = () => done(this.#failure(this.#error));
        const onError = (err: Error) => done(this.#failure(this.#error ?? err));
        socket.on("drain", onDrain);
        socket.on("close", onClose);
        socket.on("error", onError);
      });
    } finally {
      this.#endWait();
      this.#lowSpeed.end();
    }
  }

  /** Whether the socket is gone or ended (nothing more can be sent). */
  get closed(): boolean {
    return this.#socket.destroyed || this.#socket.writableEnded || this.#error !== undefined;
  }

  writeHeader(header: HeaderInput): Promise<void> {
    return this.write(encodeHeader(header));
  }

  async end(): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    await new Promise<void>((resolve) => {
      socket.once("close", resolve);
      socket.end(resolve);
    });
  }

  destroy(): void {
    clearTimeout(this.#stallTimer);
    this.#lowSpeed.stop();
    this.#socket.destroy();
  }

  #onWritten(err: Error | null | undefined, bytes: number): void {
    if (err) return;
    this.#movedAt = performance.now();
    this.#lowSpeed.add(bytes);
  }

  /** The low-speed limit's error: how little moved, the limit, and the flags that set it. */
  #tooSlow(bytes: number, ms: number): TransferError {
    const limit = formatRate(this.#lowSpeed.minBytesPerSecond);
    return new TransferError(
      "STALLED",
      `${this.#peer} moved ${bytes} bytes in ${formatSeconds(ms)} s, under the speed limit of ${limit} over ${formatSeconds(this.#lowSpeed.lowSpeedTimeMs)} s`,
      {
        hint: `${this.#peer} may be trickling on purpose; on a link this slow lower --speed-limit or raise --speed-time (--speed-limit 0 turns it off)`,
      },
    );
  }

  /** Starts the stall clock for one more waiter (a wait beginning counts as movement). */
  #beginWait(): void {
    this.#movedAt = performance.now();
    this.#waiting++;
    if (this.#waiting === 1 && Number.isFinite(this.#stallTimeoutMs)) this.#armStall(this.#stallTimeoutMs);
  }

  #endWait(): void {
    this.#waiting--;
    if (this.#waiting === 0) {
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
    }
  }

  /** One timer per wire, re-armed for the time left rather than reset on every chunk. */
  #armStall(ms: number): void {
    clearTimeout(this.#stallTimer);
    this.#stallTimer = setTimeout(
      () => {
        this.#stallTimer = undefined;
        if (this.#waiting === 0) return;
        const idle = performance.now() - this.#movedAt;
        if (idle < this.#stallTimeoutMs) {
          this.#armStall(this.#stallTimeoutMs - idle);
          return;
        }
        const seconds = formatSeconds(this.#stallTimeoutMs);
        this.#fail(
          new TransferError("STALLED", `no byte to or from ${this.#peer} for ${seconds} s (stall timeout)`, {
            hint: `${this.#peer} may be stuck or unreachable; raise --stall-timeout if it is only slow`,
          }),
        );
      },
      Math.max(1, Math.ceil(ms)),
    );
  }

  /** Ends every wait with `err` (a stall or an abort) and closes the connection. */
  #fail(err: TransferError): void {
    this.#error ??= err;
    clearTimeout(this.#stallTimer);
    this.#socket.destroy();
  }

  /** What a wait throws: our own STALLED/ABORTED as is, a socket error as CONNECTION_LOST. */
  #failure(err: Error | undefined): TransferError {
    return err instanceof TransferError ? err : this.#lost(err);
  }

  #lost(cause?: Error): TransferError {
    return new TransferError("CONNECTION_LOST", `connection to ${this.#peer} lost`, { cause });
  }
}

/** "ERR " at the start of a reply: a socketserver refusal line (server full), not a header. */
const ERR = [0x45, 0x52, 0x52, 0x20];
/** Longest refusal text kept: a "refusal" of megabytes is no refusal. */
const MAX_REFUSAL_CHARS = 200;

/**
 * The header decoder, except that a reply starting with "ERR " is a server's refusal line: it
 * fails as CONNECTION_LOST with the server's words (up to the newline, the end, or 200 bytes).
 */
function refusalAware(headers: Decoder<Header>): Decoder<Header> {
  /** The inner decoder holds no half-read length: the queue starts where a header would. */
  let isBetweenHeaders = true;
  const isRefusal = (buf: ByteQueue) =>
    isBetweenHeaders && buf.size >= ERR.length && ERR.every((b, i) => buf.byteAt(i) === b);
  const refusal = (buf: ByteQueue): TransferError => {
    const nl = buf.indexOf(0x0a);
    const text = Buffer.from(buf.take(nl === -1 ? Math.min(buf.size, MAX_REFUSAL_CHARS) : nl)).toString(
      "utf8",
    );
    buf.clear();
    return new TransferError(
      "CONNECTION_LOST",
      `the server refused the connection: ${text.slice(0, MAX_REFUSAL_CHARS).trim()}`,
      { hint: "try again later, or ask for a larger --max-clients" },
    );
  };
  // A header's length is at most 64 KiB, so its first byte is 0: anything else is another protocol
  // (a chat's welcome read as a length is "header of 706768485 bytes"), named once a line is in.
  const isForeign = (buf: ByteQueue) => isBetweenHeaders && buf.size > 0 && buf.byteAt(0) !== 0;
  return {
    decode(buf) {
      if (isForeign(buf) && !isRefusal(buf)) {
        if (buf.indexOf(0x0a) === -1 && buf.size < MAX_REFUSAL_CHARS) return undefined;
        throw wrongProtocol(buf);
      }
      if (isRefusal(buf)) {
        // Wait for the whole line (the server closes right after it), up to the cut.
        if (buf.indexOf(0x0a) === -1 && buf.size < MAX_REFUSAL_CHARS) return undefined;
        throw refusal(buf);
      }
      const before = buf.size;
      const header = headers.decode(buf);
      isBetweenHeaders = header !== undefined || before < 4;
      return header;
    },
    decodeEof(buf) {
      if (isRefusal(buf)) throw refusal(buf);
      if (isForeign(buf)) throw wrongProtocol(buf);
      return headers.decodeEof(buf);
    },
  };
}

/** The server's first bytes were not a header: say what it is, or what it said. */
function wrongProtocol(buf: ByteQueue): TransferError {
  const bytes = buf.take(Math.min(buf.size, MAX_REFUSAL_CHARS));
  buf.clear();
  const sniffed = sniffProtocol(bytes);
  const said = describeBytes(bytes);
  if (sniffed?.name === "netlab-chat") {
    return new TransferError(
      "WRONG_PROTOCOL",
      `reached a chat server, not a 'lab files' server (it said ${said})`,
      {
        hint: "join a chat with 'lab client'; lab files listens on 5002 unless told otherwise: check --port",
      },
    );
  }
  if (sniffed?.name === "netlab-tls-port") {
    return new TransferError("WRONG_PROTOCOL", `the server speaks TLS (it said ${said})`, {
      hint: "add --tls",
    });
  }
  return new TransferError(
    "WRONG_PROTOCOL",
    `${sniffed ? `reached ${sniffed.description}` : "the server does not speak the lab files protocol"}, not a 'lab files' server (it said ${said})`,
    { hint: "check --host and --port: lab files listens on 5002 unless told otherwise" },
  );
}

/** `30`, `0.5`: seconds for messages, without a trailing `.0`. */
function formatSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}

/** The peer reset the connection (or it was reset under a write). */
function isReset(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ECONNRESET" || code === "EPIPE";
}
