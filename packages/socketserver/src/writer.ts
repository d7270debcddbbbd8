import type net from "node:net";
import type { BaseServer } from "./base-server.js";
import type { NetworkError } from "./errors.js";
import { kReadParked, kSlowConsumer, kWants, kWriteGone, RESOLVED, settleWithin } from "./internal.js";
import { tapData, wireDataChannel } from "./tap.js";
import type { ConnectionInfo } from "./types.js";

/**
 * What `wfile` is: bytes out, two ways.
 * - `write()` is for a handler answering its own peer: it resolves at once unless the socket's
 *   buffer is full, then when it drains, so a slow reader slows the handler, never grows memory.
 * - `send()` is for bytes from elsewhere (a broadcast): it never waits. The bytes join this turn's
 *   batch, which leaves in one write when the turn of the event loop ends; a peer whose queue would
 *   pass the handler's `maxQueuedBytes` is cut off instead (`onSlowConsumer()`).
 * Either way every frame counts in `info.framesOut` and the server's `frameOut`/`bytesOut` events.
 */
export interface StreamWriter {
  write(data: string | Uint8Array): Promise<void>;
  /** Half-closes after flushing (the peer sees EOF); resolves when flushed. */
  end(data?: string | Uint8Array): Promise<void>;
  /**
   * Queues `data` in this turn's batch; never waits. If the queue (`bufferedBytes`) would pass
   * `maxQueuedBytes`, the batch is handed to the kernel first (a peer that reads takes a burst
   * bigger than the cap); if `data` still does not fit, nothing is queued, the connection is cut
   * (`onSlowConsumer()`, then the signal aborts and the socket is destroyed) and `send` returns
   * false. On a connection already closed the bytes are dropped, as a socket drops them, and `send`
   * returns true: false means "cut for the cap", once.
   */
  send(data: Uint8Array): boolean;
  /** Hands this turn's batch to the kernel now rather than when the turn ends. */
  flush(): void;
  /**
   * Every byte queued for the peer that it has not taken: this turn's batch, and what the kernel
   * refused (this tick's corked writes included).
   */
  readonly bufferedBytes: number;
}

/** What the writer needs from its connection; StreamRequestHandler provides it. @internal */
export interface WriterOwner {
  readonly info: ConnectionInfo;
  readonly server: BaseServer;
  /** The handler's `maxQueuedBytes`, read on every send (a tunable may change after setup). */
  readonly maxQueuedBytes: number;
  /** A read is parked waiting for bytes: a write now comes from elsewhere, not the handler's turn. */
  readonly [kReadParked]: boolean;
  /** The error a write gets once the connection is over. */
  [kWriteGone](cause: Error | undefined): NetworkError;
  /** The queue passed `maxQueuedBytes`: say why, abort, destroy. */
  [kSlowConsumer](queuedBytes: number): void;
}

// The writer's state, one field. IDLE → (write) SENT → (write again, no read wait between) CORKED;
// a read that waits turns SENT back to IDLE; send() makes it BATCHED until the batch is flushed.
/** Nothing written since the handler last waited for bytes. */
const IDLE = 0;
/** One write went straight out; a second one before the handler waits corks the socket. */
const SENT = 1;
/** The socket is corked until this tick ends: the writes leave as one writev. */
const CORKED = 2;
/** send() holds a batch, flushed when this turn of the event loop ends (or early, at the cap). */
const BATCHED = 3;
type WriterState = typeof IDLE | typeof SENT | typeof CORKED | typeof BATCHED;

/**
 * A batch up to this size is joined into one buffer (one copy, one write); a larger one is written
 * buffer by buffer in one corked writev, so lines shared by many peers (a broadcast, the history
 * replayed to every joiner) are not copied once per peer. Joining pays for small batches: 10 lines
 * of ~70 B to each of 100 sockets, 2 000 turns, took 2.9–3.7 s joined vs 3.0–3.9 s as a writev.
 */
const JOIN_BATCH_BYTES = 16 * 1024;

/** Writers holding a batch this turn; one setImmediate flushes them all, not one per writer. */
let batched: SocketWriter[] = [];

function flushBatches(): void {
  const writers = batched;
  batched = [];
  for (let i = 0; i < writers.length; i++) writers[i]!.flush();
}

function uncorkAtTickEnd(w: SocketWriter): void {
  w.endTick();
}

/**
 * `wfile`: one per connection; the only code that writes to a stream connection's socket. Its
 * fields are all it keeps: at thousands of idle connections each one counts.
 * @internal constructed by StreamRequestHandler
 */
export class SocketWriter implements StreamWriter {
  readonly #socket: net.Socket;
  readonly #owner: WriterOwner;
  #state: WriterState = IDLE;
  /** This turn's batch: one buffer, or several. A line costs an array slot, not a stream entry. */
  #batch: Uint8Array | Uint8Array[] | undefined;
  #batchBytes = 0;
  /** The socket's error, once it had one: why later writes fail. */
  #error: Error | undefined;
  /** One drain wait shared by every write that found the buffer full. */
  #drainWaiter: Promise<void> | undefined;

  constructor(socket: net.Socket, owner: WriterOwner) {
    this.#socket = socket;
    this.#owner = owner;
  }

  get bufferedBytes(): number {
    return this.#batchBytes + this.#socket.writableLength;
  }

  write(data: string | Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#error) return Promise.reject(this.#owner[kWriteGone](this.#error));
    if (socket.destroyed || socket.writableEnded) return Promise.reject(this.#owner[kWriteGone](undefined));
    // Bytes sent before this write go before it.
    if (this.#state === BATCHED) this.flush();
    // A write goes straight out; a second one before the handler waits again corks the socket
    // until the tick ends, so a header and a body (replies to a pipelined client) leave as one
    // writev. A read that waits ends the handler's turn, so a read-reply loop schedules nothing.
    // It pays: 10 pipelining clients × 20 000 two-write replies took 0.42–0.55 s, 1.9–2.7 s uncorked.
    // Writes while a read is parked come from elsewhere (a broadcast to this connection): each is
    // a first write, since the heuristic knows the handler's own turns only.
    if (this.#state === IDLE || this.#owner[kReadParked]) {
      if (this.#state === IDLE) this.#state = SENT;
    } else if (this.#state === SENT) {
      this.#state = CORKED;
      socket.cork();
      process.nextTick(uncorkAtTickEnd, this);
    }
    this.#count(data);
    if (wireDataChannel.hasSubscribers) tapData(socket, "out", data);
    // One shared resolved promise: a write that did not fill the buffer allocates nothing.
    if (socket.write(data)) return RESOLVED;
    return this.#waitDrain();
  }

  async end(data?: string | Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (data !== undefined) await this.write(data);
    else this.flush();
    if (socket.writableFinished) return;
    if (socket.destroyed) throw this.#owner[kWriteGone](this.#error);
    await new Promise<void>((resolve, reject) => {
      const onClose = () => reject(this.#owner[kWriteGone](this.#error));
      socket.once("close", onClose);
      socket.end(() => {
        socket.off("close", onClose);
        resolve();
      });
    });
  }

  send(data: Uint8Array): boolean {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return true;
    const max = this.#owner.maxQueuedBytes;
    if (this.#batchBytes + socket.writableLength + data.length > max) {
      // Over the cap counting this turn's batch: the kernel may take the batch now (a burst to a
      // peer that reads), so only what it refuses counts against the cap.
      this.flush();
      if (socket.destroyed) return false;
      if (socket.writableLength + data.length > max) {
        this.#cut(socket.writableLength + data.length);
        return false;
      }
    }
    this.#count(data);
    if (wireDataChannel.hasSubscribers) tapData(socket, "out", data);
    const batch = this.#batch;
    if (batch === undefined) {
      this.#batch = data;
      // From SENT or CORKED too: the corked writes leave at the tick's end, before the batch.
      this.#state = BATCHED;
      batched.push(this);
      if (batched.length === 1) setImmediate(flushBatches);
    } else if (Array.isArray(batch)) {
      batch.push(data);
    } else {
      this.#batch = [batch, data];
    }
    this.#batchBytes += data.length;
    return true;
  }

  flush(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    const bytes = this.#batchBytes;
    this.#batch = undefined;
    this.#batchBytes = 0;
    this.#state = IDLE;
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    // Errors reach the socket's error listener (see fail()); nothing waits for drain here: the
    // cap below is the backpressure.
    if (!Array.isArray(batch)) {
      socket.write(batch);
    } else if (bytes <= JOIN_BATCH_BYTES) {
      socket.write(Buffer.concat(batch, bytes));
    } else {
      socket.cork();
      for (let i = 0; i < batch.length; i++) socket.write(batch[i]!);
      socket.uncork();
    }
    if (socket.writableLength > this.#owner.maxQueuedBytes) this.#cut(socket.writableLength);
  }

  /** The socket failed: later writes are rejected with why. @internal */
  fail(err: Error): void {
    this.#error ??= err;
  }

  /** The handler waits for bytes: its turn is over, so its next write is a first one. @internal */
  readWaits(): void {
    if (this.#state === SENT) this.#state = IDLE;
  }

  /** The tick that corked the socket is over: its writes leave as one writev. @internal */
  endTick(): void {
    if (this.#socket.writableCorked > 0) this.#socket.uncork();
    if (this.#state === CORKED) this.#state = IDLE;
  }

  /** Flushes the batch and half-closes, without waiting. @internal */
  endNow(): void {
    this.flush();
    if (!this.#socket.writableEnded) this.#socket.end();
  }

  /**
   * `endNow()`; with `drainMs`, then waits until the kernel took every byte or `closed` settles, at
   * most `drainMs` (the drain deadline at shutdown, `drainTimeoutMs`).
   * @internal
   */
  async close(drainMs: number, closed: Promise<void>): Promise<void> {
    const socket = this.#socket;
    this.endNow();
    if (drainMs <= 0 || socket.writableFinished) return;
    const flushed = new Promise<void>((resolve) => socket.once("finish", resolve));
    await settleWithin(Promise.race([flushed, closed]), drainMs);
  }

  /** Counts one frame going out, and tells the server's listeners if any. */
  #count(data: string | Uint8Array): void {
    const owner = this.#owner;
    owner.info.framesOut++;
    const wants = owner.server[kWants];
    if (wants.frameOut) owner.server.emit("frameOut", owner.info, data);
    if (wants.bytesOut) {
      owner.server.emit(
        "bytesOut",
        owner.info,
        typeof data === "string" ? Buffer.byteLength(data) : data.length,
      );
    }
  }

  #cut(queuedBytes: number): void {
    this.#batch = undefined;
    this.#batchBytes = 0;
    this.#state = IDLE;
    this.#owner[kSlowConsumer](queuedBytes);
  }

  #waitDrain(): Promise<void> {
    this.#drainWaiter ??= new Promise<void>((resolve, reject) => {
      const socket = this.#socket;
      const done = (err?: Error) => {
        socket.off("drain", onDrain);
        socket.off("close", onClose);
        this.#drainWaiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onDrain = () => done();
      const onClose = () => done(this.#owner[kWriteGone](this.#error));
      socket.on("drain", onDrain);
      socket.on("close", onClose);
    });
    return this.#drainWaiter;
  }
}
