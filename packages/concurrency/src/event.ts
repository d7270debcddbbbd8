import { mayProceed, WaitList, type WaitOptions } from "./wait-list.js";

/**
 * A flag tasks wait on: `set()` wakes every waiter and lets later ones through at once until
 * `clear()`. The traffic light of the tutorial: cars `wait()` for green.
 *
 * Methods: `set()`, `clear()`, `isSet()`, `wait({ signal, timeout })`.
 * @example
 * const ready = new Event();
 * setTimeout(() => ready.set(), 100);
 * await ready.wait({ timeout: 1000 });
 */
export class Event {
  #isSet = false;
  readonly #waiters = new WaitList();

  /** Whether the flag is set. */
  isSet(): boolean {
    return this.#isSet;
  }

  /** Sets the flag and wakes every waiter. Setting it twice is harmless. */
  set(): void {
    this.#isSet = true;
    this.#waiters.wakeAll();
  }

  /** Clears the flag: later `wait()` calls block again. */
  clear(): void {
    this.#isSet = false;
  }

  /** How many tasks are waiting. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Resolves once the flag is set (at once if it is). Rejects with `TIMEOUT` after `timeout` ms
   * or `ABORTED` when `signal` fires.
   */
  wait(opts: WaitOptions = {}): Promise<void> {
    if (this.#isSet && mayProceed(opts)) return Promise.resolve();
    return this.#waiters.wait("waiting for an event", opts, () => undefined);
  }
}
