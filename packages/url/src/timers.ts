// The idle and total timeouts and the low-speed limit of one urlopen request, folded into one AbortSignal.
import { LowSpeedClock, type LowSpeedOptions } from "@netlab/core";

/** setTimeout's limit (about 24.8 days); a longer wait would fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * One AbortSignal for the request, fired when no progress is made for `idleMs`, when the whole
 * request has taken `totalMs`, or when the caller's signal fires. `expired` says which timer did.
 */
export class Timers {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  readonly #totalMs: number;
  #idle: NodeJS.Timeout | undefined;
  #total: NodeJS.Timeout | undefined;
  expired: "idle" | "total" | "slow" | undefined;
  readonly callerSignal: AbortSignal | undefined;
  /** Counts body bytes against the time spent waiting for them (curl's --speed-limit). */
  readonly lowSpeed: LowSpeedClock;
  /** What the low-speed limit saw when it fired: bytes in ms of waiting. */
  slow: { bytes: number; ms: number } | undefined;

  constructor(
    idleMs: number,
    totalMs: number,
    signal: AbortSignal | undefined,
    lowSpeed: LowSpeedOptions = { minBytesPerSecond: 0 },
  ) {
    this.lowSpeed = new LowSpeedClock(lowSpeed, (bytes, ms) => {
      this.slow = { bytes, ms };
      this.#expire("slow");
    });
    this.#idleMs = idleMs;
    this.#totalMs = totalMs;
    this.callerSignal = signal;
    if (signal) {
      if (signal.aborted) this.#controller.abort(signal.reason);
      else signal.addEventListener("abort", () => this.#controller.abort(signal.reason), { once: true });
    }
    if (totalMs !== Number.POSITIVE_INFINITY) {
      this.#total = setTimeout(() => this.#expire("total"), totalMs);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The limit that expired, in ms. */
  get expiredMs(): number {
    if (this.expired === "slow") return this.lowSpeed.lowSpeedTimeMs;
    return this.expired === "total" ? this.#totalMs : this.#idleMs;
  }

  /** Progress was made: the idle limit starts again (refresh() reuses the timer: once per chunk). */
  reset(): void {
    if (this.#idleMs === Number.POSITIVE_INFINITY || this.#controller.signal.aborted) return;
    if (this.#idle) this.#idle.refresh();
    else this.#idle = setTimeout(() => this.#expire("idle"), this.#idleMs);
  }

  /** The request is over: no timer may keep the process alive. */
  clear(): void {
    if (this.#idle) clearTimeout(this.#idle);
    if (this.#total) clearTimeout(this.#total);
    this.lowSpeed.stop();
    this.#idle = undefined;
    this.#total = undefined;
  }

  #expire(which: "idle" | "total" | "slow"): void {
    this.expired ??= which;
    this.clear();
    this.#controller.abort(new Error("timed out"));
  }
}
