import type net from "node:net";
import type { Duplex } from "node:stream";
import { tapData, wireDataChannel } from "@netlab/socketserver";
import type { BusyPoll } from "./busy-poll.js";
import type { ReusedReads } from "./reads.js";
import type { Chunk, Stage } from "./stages.js";
import type { Stream } from "./toxics.js";

/** A chunk that left the proxy, for observers (`lab demo --scene proxy`, GET /connections). */
export interface ChunkEvent {
  connection: number;
  direction: Stream;
  bytes: number;
  /** When it was read from the source, ms (performance.now). */
  arrivedAt: number;
  /** When it was written to the destination, ms (performance.now). */
  leftAt: number;
  /** The toxics it went through. */
  toxics: string[];
}

/** Options of a {@link Pipeline}. */
export interface PipelineOptions {
  connection: number;
  direction: Stream;
  /**
   * Most bytes read from the source and not yet through the toxics; past it the source is paused
   * (backpressure reaches the sender). Default 1 MiB.
   */
  maxBufferedBytes: number;
  /** Called for each chunk written, when given. */
  onChunk?: ((event: ChunkEvent) => void) | undefined;
  /** Called once the FIN went on to the destination. */
  onEnd?: (() => void) | undefined;
  /**
   * Which end is the socket the tap watches (the client's), whose chunks go to `netlab:wire:data`
   * as read (`source`) or written (`dest`): what the client sent and what it received.
   */
  tapped?: "source" | "dest" | undefined;
  /**
   * How the source reads, when it was created with these reads' `onread` (the fast path: reused
   * buffers, copied only where something keeps a chunk); its `'data'` events otherwise.
   */
  reads?: ReusedReads | undefined;
  /** Told of every read, to keep the loop polling for the next one (off when left out). */
  busyPoll?: BusyPoll | undefined;
}

/** Defaults for the pipeline options a caller may set. */
export const PIPELINE_DEFAULTS = { maxBufferedBytes: 1024 * 1024 } as const;

type Item = Chunk | "end";

/**
 * One direction of a proxied connection: reads chunks from `source`, runs each through the toxic
 * stages in order, writes what comes out to `dest`, and passes the FIN on after the last byte.
 * With no stages (no toxics, or toxicity 0 for this connection) each chunk is written as it is read,
 * with no queue and no timer in between. Bounded: at most `maxBufferedBytes` waiting plus the one
 * chunk a stage holds; the source pauses past that, and while the destination is not draining.
 * With {@link PipelineOptions.reads} the source reads into reused buffers: a chunk is written as a
 * view of one and the buffer is held while the write is in flight; anything that keeps a chunk (the
 * toxics' queue, the tap) gets a copy.
 */
export class Pipeline {
  readonly #source: Duplex;
  readonly #dest: Duplex;
  readonly #o: PipelineOptions;
  #stages: Stage[] = [];
  #queue: Item[] = [];
  #queuedBytes = 0;
  #isPumping = false;
  #isStopped = false;
  #pausedForQueue = false;
  #pausedForDrain = false;
  /** Who waits for the destination's `drain` (the no-toxic path, the pump): at most two. */
  #drainWaiters: Array<() => void> = [];
  /** Bytes read from the source. */
  bytesIn = 0;
  /** Bytes written to the destination. */
  bytesOut = 0;

  constructor(source: Duplex, dest: Duplex, options: PipelineOptions) {
    this.#source = source;
    this.#dest = dest;
    this.#o = options;
    const reads = options.reads;
    if (reads) reads.attach(source as net.Socket, (view) => this.#onData(view, reads));
    else source.on("data", (data: Buffer) => this.#onData(data, undefined));
    source.on("end", () => this.#push("end"));
  }

  /** The stages in force from the next chunk on; the link sets them when the toxics change. */
  setStages(stages: Stage[]): void {
    this.#stages = stages;
  }

  /** Stops moving data: what is queued is dropped (the connection is closing or was reset). */
  stop(): void {
    this.#isStopped = true;
    this.#queue = [];
    this.#queuedBytes = 0;
  }

  /**
   * One read. `reads` is set when `data` is a view of a reused buffer, valid only during the call;
   * returns whether the destination still references it (its write is in flight).
   */
  #onData(data: Buffer, reads: ReusedReads | undefined): boolean {
    if (this.#isStopped) return false;
    this.#o.busyPoll?.touch(data.length);
    this.bytesIn += data.length;
    if (this.#o.tapped === "source" && wireDataChannel.hasSubscribers)
      tapData(this.#source as net.Socket, "in", reads ? Buffer.from(data) : data);
    if (!this.#isPumping && this.#stages.length === 0) {
      // The no-toxic path: straight through, the destination's backpressure pausing the source;
      // no chunk object, clock read, promise or closure per chunk unless someone observes chunks.
      const arrivedAt = this.#o.onChunk ? performance.now() : 0;
      const dest = this.#dest;
      let chunk = data;
      if (reads) {
        // An empty write queue means the kernel took every byte written before: the buffers lent
        // to those writes are free. Otherwise this write queues behind them: a copy, so that at
        // most one buffer is ever lent.
        if (dest.writableLength === 0) reads.release();
        else chunk = Buffer.from(data);
      }
      if (!this.#write(chunk, arrivedAt, undefined, chunk !== data || !reads)) this.#waitDrain(undefined);
      // Node writes synchronously when the kernel takes it all; anything left queued (or held by
      // libuv for later) still references the chunk.
      return chunk === data && dest.writableLength > 0;
    }
    this.#push({ data: reads ? Buffer.from(data) : data, arrivedAt: performance.now() });
    return false;
  }

  #push(item: Item): void {
    if (this.#isStopped) return;
    this.#queue.push(item);
    if (item !== "end") {
      this.#queuedBytes += item.data.length;
      if (this.#queuedBytes > this.#o.maxBufferedBytes && !this.#pausedForQueue) {
        this.#pausedForQueue = true;
        this.#source.pause();
      }
    }
    if (!this.#isPumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#isPumping = true;
    try {
      for (
        let item = this.#queue.shift();
        item !== undefined && !this.#isStopped;
        item = this.#queue.shift()
      ) {
        const stages = this.#stages;
        if (item === "end") {
          for (let i = 0; i < stages.length; i++)
            await stages[i]?.end((c) => this.#through(i + 1, c, stages));
          if (!this.#isStopped) {
            this.#dest.end();
            this.#o.onEnd?.();
          }
          return;
        }
        this.#queuedBytes -= item.data.length;
        if (this.#pausedForQueue && this.#queuedBytes <= this.#o.maxBufferedBytes / 2) {
          this.#pausedForQueue = false;
          this.#resume();
        }
        await this.#through(0, item, stages);
      }
    } finally {
      this.#isPumping = false;
    }
  }

  #through(i: number, chunk: Chunk, stages: Stage[]): Promise<void> {
    if (this.#isStopped) return Promise.resolve();
    const stage = stages[i];
    if (stage === undefined) {
      if (this.#write(chunk.data, chunk.arrivedAt, chunk.touched)) return Promise.resolve();
      return new Promise((resolve) => this.#waitDrain(resolve));
    }
    if (stage.signal.aborted) return this.#through(i + 1, chunk, stages);
    if (this.#o.onChunk) chunk.touched = [...(chunk.touched ?? []), stage.toxic.name];
    return stage.chunk(chunk, (c) => this.#through(i + 1, c, stages));
  }

  /**
   * Writes; false when the destination wants the writer to wait for `drain`. `isOwned` is false
   * when `data` is a view of a reused read buffer, which the tap must not keep.
   */
  #write(data: Buffer, arrivedAt: number, touched: string[] | undefined, isOwned = true): boolean {
    const dest = this.#dest;
    if (this.#isStopped || dest.destroyed || dest.writableEnded) return true;
    this.bytesOut += data.length;
    const ok = dest.write(data);
    if (this.#o.tapped === "dest" && wireDataChannel.hasSubscribers)
      tapData(dest as net.Socket, "out", isOwned ? data : Buffer.from(data));
    this.#o.onChunk?.({
      connection: this.#o.connection,
      direction: this.#o.direction,
      bytes: data.length,
      arrivedAt,
      leftAt: performance.now(),
      toxics: touched ?? [],
    });
    return ok;
  }

  /** Pauses the source until the destination drains (or closes), then calls `then`. */
  #waitDrain(then: (() => void) | undefined): void {
    if (then) this.#drainWaiters.push(then);
    if (this.#pausedForDrain) return;
    this.#pausedForDrain = true;
    this.#source.pause();
    this.#dest.on("drain", this.#onDrain);
    this.#dest.on("close", this.#onDrain);
  }

  /** One handler for the life of the pipeline, rather than a closure per wait. */
  readonly #onDrain = (): void => {
    this.#dest.off("drain", this.#onDrain);
    this.#dest.off("close", this.#onDrain);
    this.#pausedForDrain = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    this.#resume();
    for (const then of waiters) then();
  };

  #resume(): void {
    if (!this.#pausedForDrain && !this.#pausedForQueue && !this.#isStopped) this.#source.resume();
  }
}
