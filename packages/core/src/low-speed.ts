import { OptionError } from "./errors.js";
/**
 * curl's low-speed limit (`--speed-limit`/`--speed-time`), for any client that waits on a peer:
 * a peer that trickles a byte a second moves bytes, so a stall clock ("no byte for N s") never
 * fires. This clock fails the wait instead when fewer than `minBytesPerSecond × lowSpeedTimeMs`
 * bytes moved in a window of `lowSpeedTimeMs`. Only time spent waiting on the peer counts: time
 * spent on our own disk, hashing, a slow reader of our output or our own rate limit (`--limit-rate`)
 * never makes the peer look slow.
 */

/** Defaults of {@link LowSpeedOptions}, shared by `lab transfer` and `lab get`. */
export const LOW_SPEED_DEFAULTS = {
  /**
   * 1 KiB/s. curl's limit is off by default; ours bounds a trickling peer. A real slow link (a
   * congested mobile or satellite link, a 56k modem at 7 KB/s) averages more than this over a
   * minute; a peer that trickles is under it by orders of magnitude.
   */
  minBytesPerSecond: 1024,
  /** 60 s: a minute's average rides out a retransmission backoff or a burst of loss. */
  lowSpeedTimeMs: 60_000,
} as const;

/** The limit of a {@link LowSpeedClock}; `minBytesPerSecond` 0 turns it off. */
export interface LowSpeedOptions {
  /** Fewest bytes per second, on average over `lowSpeedTimeMs` of waiting; 0 for no limit. Default 1024. */
  minBytesPerSecond?: number;
  /** The window the average is taken over, in ms of waiting on the peer. Default 60 000. */
  lowSpeedTimeMs?: number;
}

/**
 * Measures the bytes a connection moves while someone waits on the peer, window after window of
 * `lowSpeedTimeMs` of waiting; when a window ends under `minBytesPerSecond` on average, `onSlow`
 * runs once (with the bytes moved and the window in ms). One timer per clock, armed only while a
 * wait is on; nothing is done per chunk but an addition.
 * @example
 * const clock = new LowSpeedClock({ minBytesPerSecond: 1024 }, (bytes, ms) => socket.destroy());
 * clock.begin(); socket.once("data", (d) => { clock.add(d.length); clock.end(); });
 */
export class LowSpeedClock {
  readonly minBytesPerSecond: number;
  readonly lowSpeedTimeMs: number;
  readonly #onSlow: (bytes: number, ms: number) => void;
  /** Waits now on; the clock runs while this is above 0. */
  #waiting = 0;
  /** performance.now() when the current run of waiting began. */
  #since = 0;
  /** Waiting time in this window before the current run, in ms. */
  #waitedMs = 0;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #isDone = false;

  constructor(options: LowSpeedOptions, onSlow: (bytes: number, ms: number) => void) {
    this.minBytesPerSecond = options.minBytesPerSecond ?? LOW_SPEED_DEFAULTS.minBytesPerSecond;
    this.lowSpeedTimeMs = options.lowSpeedTimeMs ?? LOW_SPEED_DEFAULTS.lowSpeedTimeMs;
    this.#onSlow = onSlow;
    if (!(this.minBytesPerSecond >= 0)) {
      throw new OptionError(
        "INVALID_OPTION",
        `minBytesPerSecond must be 0 (no limit) or more, got ${String(this.minBytesPerSecond)}`,
      );
    }
    if (!(this.lowSpeedTimeMs > 0)) {
      throw new OptionError(
        "INVALID_OPTION",
        `lowSpeedTimeMs must be above 0 (Infinity for no limit), got ${String(this.lowSpeedTimeMs)}`,
      );
    }
    // Off: never a timer (a window of Infinity, or no rate to fall under).
    this.#isDone = this.minBytesPerSecond === 0 || !Number.isFinite(this.lowSpeedTimeMs);
  }

  /** Bytes moved (received, or taken by the kernel), whether or not a wait is on. */
  add(bytes: number): void {
    this.#bytes += bytes;
  }

  /** A wait on the peer begins. */
  begin(): void {
    this.#waiting++;
    if (this.#waiting !== 1 || this.#isDone) return;
    this.#since = performance.now();
    this.#arm(this.lowSpeedTimeMs - this.#waitedMs);
  }

  /** A wait on the peer ended. */
  end(): void {
    this.#waiting--;
    if (this.#waiting !== 0 || this.#isDone) return;
    this.#waitedMs += performance.now() - this.#since;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The connection is over: no timer may keep the process alive. */
  stop(): void {
    this.#isDone = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#check(), Math.max(1, Math.ceil(ms)));
  }

  #check(): void {
    this.#timer = undefined;
    if (this.#waiting === 0 || this.#isDone) return;
    const now = performance.now();
    const waited = this.#waitedMs + (now - this.#since);
    if (waited < this.lowSpeedTimeMs) {
      this.#arm(this.lowSpeedTimeMs - waited);
      return;
    }
    if (this.#bytes < (this.minBytesPerSecond * waited) / 1000) {
      this.#isDone = true;
      this.#onSlow(this.#bytes, waited);
      return;
    }
    // Fast enough: a new window starts now.
    this.#bytes = 0;
    this.#waitedMs = 0;
    this.#since = now;
    this.#arm(this.lowSpeedTimeMs);
  }
}
