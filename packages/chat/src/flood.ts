/** What flood control decides about one message. */
export type FloodVerdict = "ok" | "warn" | "drop" | "disconnect";

/** Options for {@link FloodControl}. */
export interface FloodOptions {
  /** Messages allowed per window. `Infinity` turns flood control off. Default 30. */
  floodMessages: number;
  /** The sliding window, in ms. Default 5 000. */
  floodWindowMs: number;
}

/** Defaults for {@link FloodControl}. */
export const FLOOD_DEFAULTS: Readonly<FloodOptions> = { floodMessages: 30, floodWindowMs: 5_000 };

/**
 * Per-client message rate limit over a sliding window. Within the limit: `ok`. The first message
 * over it: `warn` (dropped, the client is told). Further ones: `drop`. Reaching twice the limit in
 * one window: `disconnect`. Memory is bounded by twice the limit.
 * @example const flood = new FloodControl({ floodMessages: 5, floodWindowMs: 1000 }); flood.check(Date.now())
 */
export class FloodControl {
  readonly #max: number;
  readonly #windowMs: number;
  /** Arrival times within the window, oldest first; at most 2 × max. */
  #times: number[] = [];
  #warned = false;

  constructor(opts: Partial<FloodOptions> = {}) {
    const o = { ...FLOOD_DEFAULTS, ...opts };
    this.#max = o.floodMessages;
    this.#windowMs = o.floodWindowMs;
  }

  check(now: number): FloodVerdict {
    if (this.#max === Number.POSITIVE_INFINITY) return "ok";
    const since = now - this.#windowMs;
    let drop = 0;
    while (drop < this.#times.length && this.#times[drop]! <= since) drop++;
    if (drop > 0) this.#times.splice(0, drop);
    this.#times.push(now);
    const n = this.#times.length;
    if (n <= this.#max) {
      this.#warned = false;
      return "ok";
    }
    if (n >= 2 * this.#max) return "disconnect";
    if (!this.#warned) {
      this.#warned = true;
      return "warn";
    }
    return "drop";
  }
}
