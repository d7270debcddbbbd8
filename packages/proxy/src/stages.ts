import type { Random } from "./random.js";
import type { Toxic } from "./toxics.js";

/** Bytes on their way through a pipeline, stamped with when they arrived at the proxy. */
export interface Chunk {
  data: Buffer;
  /** When the bytes were read from the source, ms on `performance.now()`'s clock. */
  arrivedAt: number;
  /** Names of the toxics that acted on these bytes (filled only when someone observes chunks). */
  touched?: string[];
}

/** Passes a chunk on to the next stage (or the destination socket); resolves when it was taken. */
export type Next = (chunk: Chunk) => Promise<void>;

/** What a stage may do to the whole connection. */
export interface StageHost {
  /** Resets both sides (RST), as `reset_peer` does. */
  reset(reason: string): void;
  /** Closes both sides (FIN), dropping what is still queued, as `limit_data` and `limit_time` do. */
  close(reason: string): void;
  /** Pooled state of `bandwidth` toxics with `shared: true`, by toxic name. */
  sharedBandwidth: Map<string, { nextFreeMs: number }>;
}

/** Longest partial line the line toxics hold while waiting for its newline; longer goes on as is. */
export const MAX_PENDING_LINE_BYTES = 64 * 1024;

const now = (): number => performance.now();

/** Resolves at `atMs` (performance.now clock), or at once when `signal` aborts. Never rejects. */
export function sleepUntil(atMs: number, signal: AbortSignal): Promise<void> {
  if (atMs - now() <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let isDone = false;
    const done = () => {
      isDone = true;
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    // setTimeout counts whole ms from the loop's cached clock, so it can fire up to 1 ms early:
    // a latency toxic promises at least its latency, so check and wait out the rest.
    const check = () => {
      if (isDone) return;
      const wait = atMs - now();
      if (wait <= 0) done();
      // The last fraction of a ms on the check queue: a second timer could be late by a whole
      // scheduling slice on a loaded machine.
      else if (wait < 1) setImmediate(check);
      else timer = setTimeout(check, Math.ceil(wait));
    };
    signal.addEventListener("abort", done, { once: true });
    check();
  });
}

/** One event-loop turn (delay 0) or `micros` µs, cut short when `signal` aborts. */
function pause(micros: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  if (micros <= 0) return new Promise((resolve) => setImmediate(resolve));
  return sleepUntil(now() + micros / 1000, signal);
}

function until(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}

/**
 * One toxic acting on one direction of one connection. `chunk` runs once per chunk, in order (the
 * pipeline waits for it), so a stage that waits holds back everything behind it: that wait is the
 * backpressure. Removing the toxic aborts `signal`: every wait ends and bytes pass untouched.
 */
export abstract class Stage {
  toxic: Toxic;
  readonly #removed = new AbortController();
  readonly #timers = new Set<NodeJS.Timeout>();
  protected readonly host: StageHost;
  protected readonly random: Random;
  /** When the toxic began acting on this connection, ms (performance.now). */
  protected readonly startedAt = now();

  constructor(toxic: Toxic, host: StageHost, random: Random) {
    this.toxic = toxic;
    this.host = host;
    this.random = random;
  }

  /** Aborted when the toxic is removed or the connection closes. */
  get signal(): AbortSignal {
    return this.#removed.signal;
  }

  /** Called once the stage is in place: timers that act on the connection start here. */
  start(): void {}

  /** Takes a chunk and passes on what it lets through, when it lets it through. */
  abstract chunk(chunk: Chunk, next: Next): Promise<void>;

  /** Called when the source sent FIN, before the FIN goes on; may flush or wait. */
  async end(_next: Next): Promise<void> {}

  /** New attributes from a toxic update: most stages read `this.toxic` as they go. */
  update(toxic: Toxic): void {
    this.toxic = toxic;
  }

  /** The toxic is gone: waits end, timers stop. */
  stop(): void {
    this.#removed.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  protected after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.signal.aborted) fn();
    }, ms);
    this.#timers.add(timer);
  }

  protected num(key: string): number {
    return this.toxic.attributes[key] as number;
  }

  /** latency ± jitter, uniform, never below 0 (toxiproxy's formula). */
  protected delayMs(): number {
    const jitter = this.num("jitter");
    return Math.max(0, this.num("latency") + (jitter > 0 ? (2 * this.random() - 1) * jitter : 0));
  }
}

class Latency extends Stage {
  override async chunk(c: Chunk, next: Next): Promise<void> {
    // From arrival, not from now: chunks queued behind a delayed one are not delayed twice.
    await sleepUntil(c.arrivedAt + this.delayMs(), this.signal);
    await next(c);
  }
}

class Bandwidth extends Stage {
  readonly #own = { nextFreeMs: now() };

  #clock(): { nextFreeMs: number } {
    if (this.toxic.attributes.shared !== true) return this.#own;
    let clock = this.host.sharedBandwidth.get(this.toxic.name);
    if (!clock) {
      clock = { nextFreeMs: now() };
      this.host.sharedBandwidth.set(this.toxic.name, clock);
    }
    return clock;
  }

  override async chunk(c: Chunk, next: Next): Promise<void> {
    let data = c.data;
    while (data.length > 0 && !this.signal.aborted) {
      const bytesPerMs = this.num("rate"); // KB/s with toxiproxy's 1 KB = 1000 bytes
      // 100 ms worth at a time, as toxiproxy does, so a slow link trickles instead of stalling.
      const piece = data.subarray(0, Math.max(1, Math.floor(bytesPerMs * 100)));
      data = data.subarray(piece.length);
      const clock = this.#clock();
      // Up to one piece (100 ms) of credit: a timer that fired late is made up for, not added up.
      clock.nextFreeMs = Math.max(now() - 100, clock.nextFreeMs) + piece.length / bytesPerMs;
      await sleepUntil(clock.nextFreeMs, this.signal);
      await next({ ...c, data: piece });
    }
    if (data.length > 0) await next({ ...c, data });
  }
}

class SlowClose extends Stage {
  override async chunk(c: Chunk, next: Next): Promise<void> {
    await next(c);
  }

  override async end(): Promise<void> {
    await sleepUntil(now() + this.num("delay"), this.signal);
  }
}

class Timeout extends Stage {
  override start(): void {
    const ms = this.num("timeout");
    if (ms > 0) this.after(ms, () => this.host.close(`${this.toxic.name}: timeout after ${ms} ms`));
  }

  override async chunk(c: Chunk, next: Next): Promise<void> {
    await until(this.signal);
    await next(c);
  }

  override async end(): Promise<void> {
    await until(this.signal);
  }
}

class ResetPeer extends Stage {
  override start(): void {
    const ms = this.num("timeout");
    this.after(ms, () => this.host.reset(`${this.toxic.name}: reset after ${ms} ms`));
  }

  override async chunk(c: Chunk, next: Next): Promise<void> {
    await next(c);
  }
}

class Slicer extends Stage {
  override async chunk(c: Chunk, next: Next): Promise<void> {
    let data = c.data;
    while (data.length > 0) {
      const average = this.num("average_size");
      const variation = this.num("size_variation");
      const size = Math.max(1, Math.round(average + (2 * this.random() - 1) * variation));
      const slice = data.subarray(0, size);
      data = data.subarray(slice.length);
      await next({ ...c, data: slice });
      // Node joins writes made in one turn into one writev: yield so each slice is its own segment.
      if (data.length > 0) await pause(this.num("delay"), this.signal);
    }
  }
}

class LimitData extends Stage {
  #passed = 0;

  override async chunk(c: Chunk, next: Next): Promise<void> {
    const limit = this.num("bytes");
    const room = limit - this.#passed;
    if (room > 0) {
      const data = c.data.length <= room ? c.data : c.data.subarray(0, room);
      this.#passed += data.length;
      await next({ ...c, data });
    }
    if (this.#passed >= limit) this.host.close(`${this.toxic.name}: ${limit} bytes passed`);
  }
}

class LimitTime extends Stage {
  override start(): void {
    const ms = this.num("time");
    this.after(ms, () => this.host.close(`${this.toxic.name}: open for ${ms} ms`));
  }

  override async chunk(c: Chunk, next: Next): Promise<void> {
    await next(c);
  }
}

class Corrupt extends Stage {
  override async chunk(c: Chunk, next: Next): Promise<void> {
    const p = this.num("probability");
    if (p <= 0) return next(c);
    const data = Buffer.from(c.data);
    // Geometric gaps between corrupted bytes: one draw per corruption, not one per byte.
    const logKeep = Math.log(1 - p);
    for (let i = p >= 1 ? 0 : Math.floor(Math.log(1 - this.random()) / logKeep); i < data.length; ) {
      data[i] = (data[i] as number) ^ (1 << Math.floor(this.random() * 8));
      i += p >= 1 ? 1 : 1 + Math.floor(Math.log(1 - this.random()) / logKeep);
    }
    await next({ ...c, data });
  }
}

class Blackhole extends Stage {
  #passed = 0;

  override async chunk(c: Chunk, next: Next): Promise<void> {
    const timeUp = now() - this.startedAt >= this.num("time");
    const room = timeUp ? Math.max(0, this.num("bytes") - this.#passed) : c.data.length;
    this.#passed += c.data.length;
    if (room >= c.data.length) await next(c);
    else if (room > 0) await next({ ...c, data: c.data.subarray(0, room) });
  }
}

/** Holds a partial line until its newline; shared by the two line toxics. */
abstract class LineStage extends Stage {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  protected abstract line(line: Chunk, next: Next, isFirst: boolean): Promise<void>;

  override async chunk(c: Chunk, next: Next): Promise<void> {
    let data = c.data;
    let isFirst = true;
    for (let nl = data.indexOf(10); nl >= 0; nl = data.indexOf(10)) {
      const line = this.#take(data.subarray(0, nl + 1));
      data = data.subarray(nl + 1);
      await this.line({ ...c, data: line }, next, isFirst);
      isFirst = false;
    }
    if (data.length > 0) {
      this.#pending.push(data);
      this.#pendingBytes += data.length;
      // Not a line protocol after all (or a hostile one): let it through rather than buffer it all.
      if (this.#pendingBytes > MAX_PENDING_LINE_BYTES)
        await next({ ...c, data: this.#take(Buffer.alloc(0)) });
    }
  }

  override async end(next: Next): Promise<void> {
    if (this.#pendingBytes > 0) await next({ data: this.#take(Buffer.alloc(0)), arrivedAt: now() });
  }

  #take(tail: Buffer): Buffer {
    if (this.#pending.length === 0) return tail;
    const all = Buffer.concat([...this.#pending, tail]);
    this.#pending = [];
    this.#pendingBytes = 0;
    return all;
  }
}

class LineLatency extends LineStage {
  protected override async line(line: Chunk, next: Next): Promise<void> {
    await sleepUntil(line.arrivedAt + this.delayMs(), this.signal);
    await next(line);
  }
}

class LineSplit extends LineStage {
  protected override async line(line: Chunk, next: Next, isFirst: boolean): Promise<void> {
    if (!isFirst) await pause(this.num("delay"), this.signal);
    await next(line);
  }
}

type StageClass = new (toxic: Toxic, host: StageHost, random: Random) => Stage;

const STAGES: Record<Toxic["type"], StageClass> = {
  latency: Latency,
  bandwidth: Bandwidth,
  slow_close: SlowClose,
  timeout: Timeout,
  reset_peer: ResetPeer,
  slicer: Slicer,
  limit_data: LimitData,
  limit_time: LimitTime,
  corrupt: Corrupt,
  blackhole: Blackhole,
  line_latency: LineLatency,
  line_split: LineSplit,
};

/** The stage that carries out `toxic` on one direction of one connection. */
export function createStage(toxic: Toxic, host: StageHost, random: Random): Stage {
  return new STAGES[toxic.type](toxic, host, random);
}
