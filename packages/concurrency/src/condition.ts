import { ConcurrencyError, checkInt, timeoutError } from "./errors.js";
import { Mutex } from "./mutex.js";
import { holding, oneShot, type Release } from "./release.js";
import { WaitList, type WaitOptions } from "./wait-list.js";

/**
 * A condition variable bound to a {@link Mutex}: tasks holding the lock `wait()` until another
 * holder `notify()`s them, releasing the lock while they wait and holding it again when `wait`
 * returns (also when it rejects, so a `finally` release is always right).
 *
 * Take the lock through the condition (`acquire`, `runExclusive`), not through the mutex, so the
 * condition can release it for you: `wait` and `notify` without it throw `NOT_OWNER`.
 * Waiters are woken first come, first served.
 *
 * Methods: `acquire`, `runExclusive`, `wait`, `waitFor(predicate)`, `notify(n)`, `notifyAll()`.
 * @example
 * const cond = new Condition();
 * // consumer
 * await cond.runExclusive(async () => { await cond.waitFor(() => items.length > 0); use(items.shift()); });
 * // producer
 * await cond.runExclusive(() => { items.push(x); cond.notify(); });
 */
export class Condition {
  /** The lock it is bound to (a new Mutex unless one was given). */
  readonly lock: Mutex;
  readonly #waiters = new WaitList();
  /** The current holder's release, when the holder took the lock through this condition. */
  #release: Release | undefined;

  constructor(lock: Mutex = new Mutex()) {
    this.lock = lock;
  }

  /** How many tasks wait to be notified. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Takes the underlying lock; resolves with its release function. */
  async acquire(opts: WaitOptions = {}): Promise<Release> {
    this.#release = await this.lock.acquire(opts);
    return oneShot(this.lock.name, () => this.#takeRelease("release")());
  }

  /** Runs `fn` holding the lock and releases it however `fn` ends. */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    return holding(() => this.acquire(opts), fn);
  }

  /**
   * Releases the lock, waits for a `notify` (or `TIMEOUT` / `ABORTED`), then takes the lock back
   * before returning or rejecting. May wake without the awaited state being true (another task
   * may have run first): re-check it, or use `waitFor`.
   */
  async wait(opts: WaitOptions = {}): Promise<void> {
    this.#takeRelease("wait")();
    let failure: unknown;
    try {
      await this.#waiters.wait("waiting on a condition", opts, () => undefined);
    } catch (err) {
      failure = err;
    }
    // Taken back without a timeout, as the caller's `finally` will release it.
    this.#release = await this.lock.acquire();
    if (failure !== undefined) throw failure;
  }

  /**
   * Waits until `predicate()` is truthy, checking it under the lock before each wait; returns its
   * value. The timeout covers the whole wait and rejects with `TIMEOUT`.
   */
  async waitFor<T>(predicate: () => T, opts: WaitOptions = {}): Promise<T> {
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    const deadline = performance.now() + timeout;
    for (;;) {
      const value = predicate();
      if (value) return value;
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError("waiting for a condition", timeout);
      await this.wait({ signal: opts.signal, timeout: left === Number.POSITIVE_INFINITY ? undefined : left });
    }
  }

  /** Wakes up to `n` waiters (default 1), oldest first. The caller must hold the lock. */
  notify(n = 1): void {
    checkInt("n", n, 0);
    this.#checkHeld("notify");
    for (let i = 0; i < n && this.#waiters.wakeOne(); i++);
  }

  /** Wakes every waiter. The caller must hold the lock. */
  notifyAll(): void {
    this.#checkHeld("notifyAll");
    this.#waiters.wakeAll();
  }

  #checkHeld(what: string): void {
    if (this.#release === undefined) {
      throw new ConcurrencyError("NOT_OWNER", `Condition.${what}() without holding its lock`, {
        hint: "take the lock through the condition first: await cond.acquire() or cond.runExclusive(fn)",
      });
    }
  }

  #takeRelease(what: string): Release {
    this.#checkHeld(what);
    const release = this.#release!;
    this.#release = undefined;
    return release;
  }
}
