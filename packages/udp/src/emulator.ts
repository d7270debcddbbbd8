import { requireRange } from "./errors.js";
import { type Random, randomSeed, seededRandom } from "./random.js";

/** How the emulated network treats datagrams. Rates are probabilities 0–1; times are ms. */
export interface EmulatorOptions {
  /** Chance a datagram is dropped. Default 0. */
  lossRate?: number;
  /** Fixed delay added to every datagram, ms. Default 0. */
  delayMs?: number;
  /** Each copy's delay varies uniformly within delayMs ± jitterMs (never below 0), ms. Default 0. */
  jitterMs?: number;
  /** Chance a datagram is sent twice. Default 0. */
  duplicateRate?: number;
  /** Chance a datagram is held back until the next one has gone out (so the two swap). Default 0. */
  reorderRate?: number;
  /** A held-back datagram goes out after this long even if no other comes, ms. Default 1000. */
  reorderHoldMs?: number;
  /**
   * Most bytes of datagrams waiting (delayed or held back) at once; a datagram whose copies do not
   * fit is dropped and counted in `queueDrops`. Default 16 MiB; `Infinity` for no limit.
   */
  maxQueuedBytes?: number;
  /** Seed for the default generator, so a run can be replayed. Default random (see `seed`). */
  seed?: number;
  /** The generator itself, for tests. Default `seededRandom(seed)`. */
  random?: Random;
}

/** Defaults for {@link EmulatorOptions}: a perfect network. */
export const EMULATOR_DEFAULTS = {
  lossRate: 0,
  delayMs: 0,
  jitterMs: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderHoldMs: 1000,
  maxQueuedBytes: 16 * 1024 * 1024,
} as const;

/** What the emulator decided for one datagram. */
export interface Fate {
  /** Dropped: `delaysMs` is empty. */
  dropped: boolean;
  /** One delay per copy sent: one entry normally, two when duplicated, none when dropped. */
  delaysMs: number[];
  /** Held back until the next datagram has gone out. */
  reordered: boolean;
  /** Set by `submit()` when the datagram was dropped because the queue had no room (maxQueuedBytes). */
  queueFull?: boolean;
}

/** Longest delay or hold accepted, ms (one hour: a lab, not a tarpit). */
export const MAX_EMULATED_DELAY_MS = 3_600_000;

/**
 * Decides each datagram's fate (drop, delay, duplicate, reorder) from a seeded generator, and
 * schedules the sends. Every datagram draws the same five numbers whatever happens to it, so one
 * seed gives one pattern: datagram n is lost in every run with that seed.
 *
 * Methods: `decide()` (pure given the generator), `submit(send, bytes)` (decide and schedule),
 * `configure(changes)` (new rates from now on), `close()` (cancel what is scheduled).
 * `isPerfect` is true when nothing is emulated. What waits is bounded in bytes
 * (`maxQueuedBytes`): read `queuedBytes`, `peakQueuedBytes` and `queueDrops`.
 * @example
 * const emulator = new NetworkEmulator({ lossRate: 0.3, delayMs: 20, seed: 1 });
 * emulator.submit(() => socket.send(packet, port, host), packet.length);
 */
export class NetworkEmulator {
  /** The settings in force; replaced (never mutated) by `configure()`. */
  options: Readonly<Required<Omit<EmulatorOptions, "random">>>;
  readonly #random: Random;
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Held-back sends, released when the next non-held copy goes out. */
  #held: Array<{ send: () => void; timer: NodeJS.Timeout }> = [];
  #isClosed = false;
  #queuedBytes = 0;
  #peakQueuedBytes = 0;
  #queueDrops = 0;

  constructor(options: EmulatorOptions = {}) {
    const o = { ...EMULATOR_DEFAULTS, seed: randomSeed(), ...defined(options) } as Required<EmulatorOptions>;
    const { random, ...rest } = o;
    check(rest);
    this.options = rest;
    this.#random = random ?? seededRandom(o.seed);
  }

  /**
   * Changes rates and times from now on, keeping the generator (so no server restart is needed to
   * turn the loss up). Datagrams already scheduled keep their fate. Throws INVALID_OPTION.
   * @example server.emulator.configure({ lossRate: 0.5 });
   */
  configure(changes: Partial<Omit<EmulatorOptions, "seed" | "random">>): void {
    const next = { ...this.options, ...defined(changes) };
    check(next);
    this.options = next;
  }

  /** True when every datagram goes out at once, exactly once: the echo can skip scheduling. */
  get isPerfect(): boolean {
    const o = this.options;
    return (
      o.lossRate === 0 && o.delayMs === 0 && o.jitterMs === 0 && o.duplicateRate === 0 && o.reorderRate === 0
    );
  }

  /** Datagrams held back for reordering right now. */
  get heldCount(): number {
    return this.#held.length;
  }

  /** Bytes of datagrams delayed or held back right now (each copy counted). */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** The most `queuedBytes` has been since the emulator was made. */
  get peakQueuedBytes(): number {
    return this.#peakQueuedBytes;
  }

  /** Datagrams dropped because their copies did not fit in `maxQueuedBytes`. */
  get queueDrops(): number {
    return this.#queueDrops;
  }

  /** The fate of the next datagram. Draws exactly five numbers from the generator. */
  decide(): Fate {
    const o = this.options;
    const [lossDraw, duplicateDraw, reorderDraw, jitter1, jitter2] = [1, 2, 3, 4, 5].map(() =>
      this.#random(),
    ) as [number, number, number, number, number];
    const delay = (u: number) => Math.max(0, o.delayMs + (2 * u - 1) * o.jitterMs);
    if (lossDraw < o.lossRate) return { dropped: true, delaysMs: [], reordered: false };
    const delaysMs = duplicateDraw < o.duplicateRate ? [delay(jitter1), delay(jitter2)] : [delay(jitter1)];
    return { dropped: false, delaysMs, reordered: reorderDraw < o.reorderRate };
  }

  /**
   * Decides the next datagram's fate and schedules `send` once per copy; returns the fate. `bytes`
   * is the datagram's size: copies that wait count against maxQueuedBytes until they are sent, and
   * a datagram whose waiting copies do not fit is dropped (`queueFull` in the fate).
   */
  submit(send: () => void, bytes = 0): Fate {
    const fate = this.decide();
    if (this.#isClosed) return fate;
    const waiting = fate.delaysMs.filter((ms) => ms > 0 || fate.reordered).length;
    if (waiting > 0 && this.#queuedBytes + waiting * bytes > this.options.maxQueuedBytes) {
      this.#queueDrops++;
      return { dropped: true, delaysMs: [], reordered: false, queueFull: true };
    }
    for (const delayMs of fate.delaysMs) {
      let copy = send;
      if (delayMs > 0 || fate.reordered) {
        this.#queuedBytes += bytes;
        this.#peakQueuedBytes = Math.max(this.#peakQueuedBytes, this.#queuedBytes);
        copy = () => {
          this.#queuedBytes -= bytes;
          send();
        };
      }
      const go = fate.reordered ? () => this.#hold(copy) : () => this.#release(copy);
      if (delayMs === 0) go();
      else this.#later(delayMs, go);
    }
    return fate;
  }

  /** Cancels every scheduled and held send; later submits only decide. */
  close(): void {
    this.#isClosed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const h of this.#held) clearTimeout(h.timer);
    this.#held = [];
    this.#queuedBytes = 0;
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  #hold(send: () => void): void {
    const entry = {
      send,
      timer: setTimeout(() => {
        this.#held = this.#held.filter((h) => h !== entry);
        send();
      }, this.options.reorderHoldMs),
    };
    this.#held.push(entry);
  }

  /** Sends, then lets out everything that was held back behind it. */
  #release(send: () => void): void {
    send();
    const held = this.#held;
    this.#held = [];
    for (const h of held) {
      clearTimeout(h.timer);
      h.send();
    }
  }
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function check(o: Required<Omit<EmulatorOptions, "random">>): void {
  requireRange("lossRate", o.lossRate, 0, 1);
  requireRange("duplicateRate", o.duplicateRate, 0, 1);
  requireRange("reorderRate", o.reorderRate, 0, 1);
  requireRange("delayMs", o.delayMs, 0, MAX_EMULATED_DELAY_MS);
  requireRange("jitterMs", o.jitterMs, 0, MAX_EMULATED_DELAY_MS);
  requireRange("reorderHoldMs", o.reorderHoldMs, 0, MAX_EMULATED_DELAY_MS);
  requireRange("maxQueuedBytes", o.maxQueuedBytes, 0, Number.POSITIVE_INFINITY);
}
