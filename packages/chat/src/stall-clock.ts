/**
 * The stall clock: a one-shot timer that knows whether it is running. The client starts it when
 * the server owes an answer, and any byte read stops it.
 */
export class StallClock {
  #timer: NodeJS.Timeout | undefined;
  /** Made once: a start allocates nothing but the caller's `onStall`. */
  readonly #fire = (onStall: () => void): void => {
    this.#timer = undefined;
    onStall();
  };

  get isRunning(): boolean {
    return this.#timer !== undefined;
  }

  /** Calls `onStall` after `ms`, unless stopped first. */
  start(ms: number, onStall: () => void): void {
    this.#timer = setTimeout(this.#fire, ms, onStall);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
