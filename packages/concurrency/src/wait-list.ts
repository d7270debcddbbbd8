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

/**
 * Whether a call may take what it wants without waiting when it is free: not when the signal has
 * already fired (an aborted call never acquires), nor when the timeout is invalid (the wait then
 * rejects with INVALID_OPTION, the same whether the lock happened to be free or not).
 */
export function mayProceed(opts: WaitOptions): boolean {
  return !opts.signal?.aborted && (opts.timeout === undefined || opts.timeout >= 0);
}

/** One parked waiter: a node of the list, settled exactly once. */
class Entry<T = unknown> {
  prev: Entry | undefined;
  next: Entry | undefined;
  timer: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;

  constructor(
    readonly resolve: (value: T) => void,
    readonly reject: (err: unknown) => void,
    readonly onWake: () => T,
    readonly signal: AbortSignal | undefined,
  ) {}
}

/**
 * A FIFO list of parked waiters, the one mechanism behind every blocking primitive here.
 *
 * Invariant: an entry is in the list exactly while its promise is unsettled. Timeout and abort
 * remove it before rejecting, and `wakeOne` removes it before resolving, both synchronously, so a
 * permit handed out can never land on a waiter that has already given up: it goes to the next one.
 * A doubly linked list: O(1) append, removal from anywhere, and take from the front.
 */
export class WaitList {
  #head: Entry | undefined;
  #tail: Entry | undefined;
  #size = 0;

  /** How many waiters are parked. */
  get size(): number {
    return this.#size;
  }

  /**
   * Parks a waiter. `onWake` runs synchronously when it is woken (that is where a permit or an
   * item changes hands) and its result resolves the promise. `onTimeout` may supply a better
   * error than TIMEOUT (debug deadlock detection); it runs while the waiter is still listed.
   */
  wait<T>(what: string, opts: WaitOptions, onWake: () => T, onTimeout?: () => Error | undefined): Promise<T> {
    const { signal, timeout = Number.POSITIVE_INFINITY } = opts;
    if (timeout !== Number.POSITIVE_INFINITY) {
      try {
        checkTimeout(timeout);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (signal?.aborted) return Promise.reject(abortedError(what, signal));
    if (timeout === 0) return Promise.reject(onTimeout?.() ?? timeoutError(what, timeout));
    return new Promise<T>((resolve, reject) => {
      const entry = new Entry<T>(resolve, reject, onWake, signal) as Entry;
      this.#append(entry);
      if (signal) {
        entry.onAbort = () => this.#settle(entry, abortedError(what, signal));
        signal.addEventListener("abort", entry.onAbort, { once: true });
      }
      if (timeout !== Number.POSITIVE_INFINITY) {
        entry.timer = setTimeout(
          () => this.#settle(entry, onTimeout?.() ?? timeoutError(what, timeout)),
          timeout,
        );
      }
    });
  }

  /** Wakes the longest-waiting waiter; false when nobody waits. */
  wakeOne(): boolean {
    const first = this.#head;
    if (!first) return false;
    this.#settle(first);
    return true;
  }

  /** Wakes every waiter parked now, oldest first; returns how many. */
  wakeAll(): number {
    const n = this.#size;
    for (let i = 0; i < n && this.#head; i++) this.#settle(this.#head);
    return n;
  }

  /** Rejects every waiter parked now with `err` (a broken barrier). */
  failAll(err: Error): number {
    const n = this.#size;
    for (let i = 0; i < n && this.#head; i++) this.#settle(this.#head, err);
    return n;
  }

  /** Removes `entry` and settles it: resolved through `onWake`, or rejected with `err`. */
  #settle(entry: Entry, err?: Error): void {
    this.#remove(entry);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal!.removeEventListener("abort", entry.onAbort);
    if (err) entry.reject(err);
    else entry.resolve(entry.onWake());
  }

  #append(entry: Entry): void {
    entry.prev = this.#tail;
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    this.#size++;
  }

  #remove(entry: Entry): void {
    if (entry.prev) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#tail = entry.prev;
    entry.prev = entry.next = undefined;
    this.#size--;
  }
}
