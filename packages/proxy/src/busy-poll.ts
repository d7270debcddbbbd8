import { requireInt } from "./errors.js";

/** Longest busy-poll window, µs: past a millisecond the CPU it burns buys nothing a reply needs. */
export const MAX_BUSY_POLL_US = 1000;

/** The proxies' window, µs: longer than a loopback reply takes when its process is awake. */
export const DEFAULT_BUSY_POLL_US = 50;

/** Throws INVALID_OPTION unless `value` is a whole number of microseconds from 0 to 1000. */
export function requireBusyPollUs(value: number): void {
  requireInt("busyPollUs", value, { min: 0, max: MAX_BUSY_POLL_US });
}

/** A read this large is bulk: the loop has work anyway, and no one waits on a reply to it. */
const BULK_READ_BYTES = 64 * 1024;
/** Windows in a row that may run out with no read before polling stops paying for itself. */
const MISSES_ALLOWED = 4;
/** While polling does not pay, one read in this many still polls, to notice when it would again. */
const PROBE_EVERY = 16;

/**
 * Keeps the event loop polling its sockets, instead of sleeping in the kernel, for a short window
 * after each read: what Linux's `busy_poll` does for a NIC, and Go's scheduler does before it
 * parks, done in the event loop. A reply that comes within the window is read without the process
 * being woken, which on a virtual machine is most of what one more hop adds to a round trip.
 * Adaptive, as spinning locks are: a window that runs out with no read was CPU spent for nothing,
 * and after {@link MISSES_ALLOWED} of those in a row (sparse traffic, or cores so busy that replies
 * come late) only one read in {@link PROBE_EVERY} polls, until a read lands in a window again.
 * Reads of 64 KiB or more (bulk traffic) start no window: the loop has work anyway.
 * @example
 * const poll = new BusyPoll(50);
 * socket.on("data", (d) => { poll.touch(d.length); other.write(d); });
 */
export class BusyPoll {
  readonly #windowMs: number;
  /** Polling goes on until this time (performance.now). */
  #until = 0;
  #immediate: NodeJS.Immediate | undefined;
  /** Windows that may still run out with no read before polling backs off. */
  #credit = MISSES_ALLOWED;
  #skipped = 0;
  readonly #spin = () => {
    // Each pending immediate makes libuv poll with a zero timeout rather than block.
    if (performance.now() < this.#until) {
      this.#immediate = setImmediate(this.#spin);
      return;
    }
    this.#immediate = undefined;
    this.#credit = Math.max(0, this.#credit - 1);
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

  /** Whether reads start a window now: false while polling has not been paying off. */
  get isPaying(): boolean {
    return this.#credit > 0;
  }

  /** Says that a read of `bytes` just happened: poll for the window from now (if polling pays). */
  touch(bytes: number): void {
    if (this.#windowMs === 0 || bytes >= BULK_READ_BYTES) return;
    if (this.#immediate !== undefined) {
      // Read while polling: the window paid for itself.
      this.#credit = Math.min(MISSES_ALLOWED, this.#credit + 1);
    } else if (this.#credit <= 0 && ++this.#skipped % PROBE_EVERY !== 0) {
      return;
    }
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
