import { requireInt } from "./errors.js";

/** Longest busy-poll window, µs: past a millisecond the CPU it burns buys nothing a reply needs. */
export const MAX_BUSY_POLL_US = 1000;

/** Throws INVALID_OPTION unless `value` is a whole number of microseconds from 0 to 1000. */
export function requireBusyPollUs(value: number): void {
  requireInt("busyPollUs", value, { min: 0, max: MAX_BUSY_POLL_US });
}

/**
 * Keeps the event loop polling its sockets, instead of sleeping in the kernel, for a short window
 * after each read: what Linux's `busy_poll` does for a NIC, done in the event loop. A reply that
 * comes within the window is read without the process being woken, which on a virtual machine is
 * most of what one more hop adds to a round trip. It costs a core while the window lasts, so it is
 * off unless asked for. While the loop is busy anyway (bulk transfer) it costs nothing more.
 * @example
 * const poll = new BusyPoll(50);
 * socket.on("data", (d) => { poll.touch(); other.write(d); });
 */
export class BusyPoll {
  readonly #windowMs: number;
  /** Polling goes on until this time (performance.now). */
  #until = 0;
  #immediate: NodeJS.Immediate | undefined;
  readonly #spin = () => {
    // Each pending immediate makes libuv poll with a zero timeout rather than block.
    this.#immediate = performance.now() < this.#until ? setImmediate(this.#spin) : undefined;
  };

  /** @param windowUs How long to keep polling after the last read, µs; 0 turns it off. */
  constructor(readonly windowUs: number) {
    requireBusyPollUs(windowUs);
    this.#windowMs = windowUs / 1000;
  }

  /** Whether the loop is polling now. */
  get isPolling(): boolean {
    return this.#immediate !== undefined;
  }

  /** Says that a read just happened: poll for the window from now. */
  touch(): void {
    if (this.#windowMs === 0) return;
    this.#until = performance.now() + this.#windowMs;
    this.#immediate ??= setImmediate(this.#spin);
  }

  /** Stops polling now (the proxy is closing). */
  stop(): void {
    this.#until = 0;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
  }
}
