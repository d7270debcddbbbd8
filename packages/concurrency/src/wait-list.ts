import { abortedError, checkTimeout, timeoutError } from "./errors.js";

/**
 * How long a wait may last and how to cancel it. Every blocking call in this package takes these.
 * @example await mutex.acquire({ signal: AbortSignal.timeout(1000) })
 */
export interface WaitOptions {
  /** Cancels the wait: it rejects with a ConcurrencyError `ABORTED` whose `cause` is the reason. */
  signal?: AbortSignal | undefined;
  /** Milliseconds before the wait rejects with `TIMEOUT`. Default `Infinity`; `0` means "only if free now". */
  timeout?: number | undefined;
}

interface Entry {
  /** Removes the entry and settles its promise: resolved through `onWake`, or rejected with `err`. */
  wake(err?: Error): void;
}

/**
 * A FIFO list of parked waiters, the one mechanism behind every blocking primitive here.
 *
 * Invariant: an entry is in the list exactly while its promise is unsettled. Timeout and abort
 * remove it before rejecting, and `wakeOne` removes it before resolving, both synchronously, so a
 * permit handed out can never land on a waiter that has already given up: it goes to the next one.
 */
export class WaitList {
  readonly #entries = new Set<Entry>();

  /** How many waiters are parked. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Parks a waiter. `onWake` runs synchronously when it is woken (that is where a permit or an
   * item changes hands) and its result resolves the promise. `onTimeout` may supply a better
   * error than TIMEOUT (debug deadlock detection); it runs while the waiter is still listed.
   */
  wait<T>(what: string, opts: WaitOptions, onWake: () => T, onTimeout?: () => Error | undefined): Promise<T> {
    const { signal, timeout = Number.POSITIVE_INFINITY } = opts;
    checkTimeout(timeout);
    if (signal?.aborted) return Promise.reject(abortedError(what, signal));
    if (timeout === 0) return Promise.reject(onTimeout?.() ?? timeoutError(what, timeout));
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.#entries.delete(entry);
        clearTimeout(timer);
        reject(abortedError(what, signal!));
      };
      const entry: Entry = {
        wake: (err) => {
          this.#entries.delete(entry);
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          if (err) reject(err);
          else resolve(onWake());
        },
      };
      this.#entries.add(entry);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (timeout !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          const err = onTimeout?.() ?? timeoutError(what, timeout);
          this.#entries.delete(entry);
          signal?.removeEventListener("abort", onAbort);
          reject(err);
        }, timeout);
      }
    });
  }

  /** Wakes the longest-waiting waiter; false when nobody waits. */
  wakeOne(): boolean {
    const first = this.#entries.values().next();
    if (first.done) return false;
    first.value.wake();
    return true;
  }

  /** Wakes every waiter parked now, oldest first; returns how many. */
  wakeAll(): number {
    const all = [...this.#entries];
    for (const e of all) e.wake();
    return all.length;
  }

  /** Rejects every waiter parked now with `err` (a broken barrier). */
  failAll(err: Error): number {
    const all = [...this.#entries];
    for (const e of all) e.wake(err);
    return all.length;
  }
}
