import { deadlockError, isDebug, type TrackedLock, trackWait } from "./debug.js";
import { holding, oneShot, type Release } from "./release.js";
import { currentTask, type TaskInfo, task } from "./task.js";
import { mayProceed, WaitList, type WaitOptions } from "./wait-list.js";

/** Options for an {@link RLock}. */
export interface RLockOptions {
  /** Shown in errors and deadlock reports. Default `rlock#N`. */
  name?: string;
}

let rlockCount = 0;

/**
 * A reentrant lock: the task that holds it may acquire it again (each acquire needs its own
 * release). The owner is the current task, known through `AsyncLocalStorage`: code run by
 * `runExclusive(fn)` is its own task, and so is code started with `task(name, fn)`.
 *
 * Beware: `acquire()` called from two concurrent flows that are not in separate tasks counts as
 * the same owner (both are "main"), just as two calls on one thread would. Use `runExclusive`,
 * which always gives `fn` its own task, unless you manage tasks yourself.
 * @example
 * const lock = new RLock();
 * await lock.runExclusive(async () => {
 *   await lock.runExclusive(async () => { ... }); // re-entry: no deadlock
 * });
 */
export class RLock implements TrackedLock {
  readonly name: string;
  #owner: TaskInfo | undefined;
  #depth = 0;
  readonly #waiters = new WaitList();

  constructor(opts: RLockOptions = {}) {
    this.name = opts.name ?? `rlock#${++rlockCount}`;
  }

  /** Whether some task holds the lock. */
  get isLocked(): boolean {
    return this.#owner !== undefined;
  }

  /** How many times the owner has acquired it without releasing (0 when free). */
  get depth(): number {
    return this.#depth;
  }

  /** How many tasks wait for it. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** Whether the current task holds the lock. */
  isOwned(): boolean {
    return this.#owner !== undefined && this.#owner.id === currentTask().id;
  }

  /** @internal The owner, for deadlock reports. */
  holders(): readonly TaskInfo[] {
    return this.#owner ? [this.#owner] : [];
  }

  /**
   * Acquires the lock for the current task (again, if it holds it already) and resolves with the
   * release function. Rejects with `TIMEOUT` (`DEADLOCK` in debug mode) or `ABORTED`.
   */
  acquire(opts: WaitOptions = {}): Promise<Release> {
    const me = currentTask();
    if ((this.#owner === undefined || this.#owner.id === me.id) && mayProceed(opts)) {
      return Promise.resolve(this.#take(me));
    }
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    const waiting = this.#waiters.wait(
      `acquiring ${this.name}`,
      opts,
      () => this.#take(me),
      () => (isDebug() ? deadlockError(me, this, timeout) : undefined),
    );
    if (isDebug()) trackWait(me, this, waiting);
    return waiting;
  }

  /** Acquires if free or already held by the current task; undefined otherwise. */
  tryAcquire(): Release | undefined {
    const me = currentTask();
    if (this.#owner !== undefined && this.#owner.id !== me.id) return undefined;
    return this.#take(me);
  }

  /**
   * Runs `fn` holding the lock. If the current task holds it, this is a re-entry; otherwise `fn`
   * runs as a new task (named after the current one) so concurrent callers are told apart.
   */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    const run = () => holding(() => this.acquire(opts), fn);
    return this.isOwned() ? run() : task(currentTask().name, run);
  }

  #take(owner: TaskInfo): Release {
    this.#owner = owner;
    this.#depth++;
    return oneShot(this.name, () => {
      if (--this.#depth > 0) return;
      this.#owner = undefined;
      this.#waiters.wakeOne();
    });
  }
}
