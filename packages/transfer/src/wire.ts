import type { Socket } from "node:net";
import { TransferError } from "./errors.js";
import { encodeHeader, type Header, type HeaderInput, MAX_HEADER_BYTES, parseHeader } from "./header.js";

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
  /** Aborting it ends any wait at once (an ABORTED error) and destroys the socket. */
  signal?: AbortSignal;
}

/** Defaults of {@link SocketWireOptions}. */
export const WIRE_DEFAULTS = {
  maxBufferedBytes: 4 * 1024 * 1024,
  stallTimeoutMs: Number.POSITIVE_INFINITY,
} as const;

/**
 * A {@link Wire} over a connected net.Socket. Incoming chunks are queued as they arrive (never
 * joined, except across a header boundary) and the socket is paused while more than
 * `maxBufferedBytes` wait, so memory stays bounded whatever the file size.
 * @example const wire = new SocketWire(await connect({ port })); await wire.writeHeader({ op: "list", v: 1 });
 */
export class SocketWire implements Wire {
  readonly #socket: Socket;
  readonly #maxBuffered: number;
  readonly #peer: string;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #ended = false;
  #error: Error | undefined;
  readonly #isResetAnEnd: boolean;
  #wake: (() => void) | undefined;
  readonly #stallTimeoutMs: number;
  /** Reads and writes now waiting on the peer; the stall clock runs only while this is above 0. */
  #waiting = 0;
  /** performance.now() when a byte last moved, or a wait began. */
  #movedAt = 0;
  #stallTimer: NodeJS.Timeout | undefined;

  constructor(socket: Socket, options: SocketWireOptions = {}) {
    this.#socket = socket;
    this.#maxBuffered = options.maxBufferedBytes ?? WIRE_DEFAULTS.maxBufferedBytes;
    this.#peer = options.peer ?? "the peer";
    this.#isResetAnEnd = options.isResetAnEnd ?? false;
    this.#stallTimeoutMs = options.stallTimeoutMs ?? WIRE_DEFAULTS.stallTimeoutMs;
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
    socket.on("data", (chunk: Buffer) => {
      this.#movedAt = performance.now();
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      if (this.#size > this.#maxBuffered) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (err) => {
      this.#error ??= err;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      clearTimeout(this.#stallTimer);
      this.#notify();
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
    if (!(await this.#fill(4, true))) return undefined;
    const head = this.#take(4);
    if (head[0] === 0x45 && head[1] === 0x52 && head[2] === 0x52 && head[3] === 0x20) {
      // "ERR ": a socketserver refusal line (server full), not a header.
      // The peer's text, cut: a "refusal" of megabytes is no refusal.
      const rest = (Buffer.concat(this.#chunks.splice(0)).toString("utf8").split("\n")[0] ?? "").slice(
        0,
        200,
      );
      this.#size = 0;
      throw new TransferError("CONNECTION_LOST", `the server refused the connection: ERR ${rest.trim()}`, {
        hint: "try again later, or ask for a larger --max-clients",
      });
    }
    const length = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (length > MAX_HEADER_BYTES) {
      throw new TransferError(
        "BAD_REQUEST",
        `bad header: ${length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`,
        {
          hint: "both sides must speak the netlab transfer protocol (see docs/PROTOCOL.md)",
        },
      );
    }
    await this.#fill(length, false);
    return parseHeader(this.#take(length));
  }

  async readChunk(maxBytes: number): Promise<Uint8Array | undefined> {
    if (!(await this.#fill(1, true))) return undefined;
    const first = this.#chunks[0]!;
    if (first.length <= maxBytes) {
      this.#chunks.shift();
      this.#size -= first.length;
      this.#resumeIfLow();
      return first;
    }
    this.#chunks[0] = first.subarray(maxBytes);
    this.#size -= maxBytes;
    return first.subarray(0, maxBytes);
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#error) throw this.#failure(this.#error);
    if (socket.destroyed || socket.writableEnded) throw this.#lost();
    // The callback runs once the kernel took these bytes: progress, for the stall clock.
    if (socket.write(data, this.#onWritten)) return;
    this.#beginWait();
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
    }
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
    this.#socket.destroy();
  }

  /** Waits until `n` bytes are queued. At end of stream: false if nothing is queued and `cleanEndOk`, else CONNECTION_LOST. */
  async #fill(n: number, cleanEndOk: boolean): Promise<boolean> {
    while (this.#size < n) {
      if (this.#error && !(this.#isResetAnEnd && isReset(this.#error))) throw this.#failure(this.#error);
      if (this.#ended) {
        if (cleanEndOk && this.#size === 0) return false;
        throw this.#lost();
      }
      if (this.#socket.isPaused() && this.#size <= this.#maxBuffered) this.#socket.resume();
      this.#beginWait();
      try {
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
      } finally {
        this.#endWait();
      }
    }
    return true;
  }

  readonly #onWritten = (err?: Error | null): void => {
    if (!err) this.#movedAt = performance.now();
  };

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
    this.#notify();
    this.#socket.destroy();
  }

  /** What a wait throws: our own STALLED/ABORTED as is, a socket error as CONNECTION_LOST. */
  #failure(err: Error | undefined): TransferError {
    return err instanceof TransferError ? err : this.#lost(err);
  }

  /** Removes and returns `n` queued bytes (n ≤ size), joining chunks only when it must. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]!;
    let out: Uint8Array;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
    } else {
      out = new Uint8Array(n);
      let filled = 0;
      while (filled < n) {
        const chunk = this.#chunks[0]!;
        const want = Math.min(n - filled, chunk.length);
        out.set(chunk.subarray(0, want), filled);
        filled += want;
        if (want === chunk.length) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(want);
      }
    }
    this.#size -= n;
    this.#resumeIfLow();
    return out;
  }

  #resumeIfLow(): void {
    if (this.#size <= this.#maxBuffered / 2 && this.#socket.isPaused() && !this.#ended) this.#socket.resume();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #lost(cause?: Error): TransferError {
    return new TransferError("CONNECTION_LOST", `connection to ${this.#peer} lost`, { cause });
  }
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
