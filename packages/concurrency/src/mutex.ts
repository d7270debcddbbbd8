import { deadlockError, isDebug, type TrackedLock, trackWait } from "./debug.js";
import { holding, oneShot, type Release } from "./release.js";
import { currentTask, type TaskInfo } from "./task.js";
import { mayProceed, WaitList, type WaitOptions } from "./wait-list.js";

/** Options for a {@link Mutex}. */
export interface MutexOptions {
  /** Shown in errors and deadlock reports. Default `mutex#N`. */
  name?: string;
}

let mutexCount = 0;

/**
 * A lock for async code: one holder at a time, waiters served first come, first served.
 * Not reentrant: acquiring it again while holding it waits forever (use {@link RLock} for that,
 * or a timeout, which in debug mode names the cycle).
 *
 * Methods: `acquire({ signal, timeout })` → release function, `tryAcquire()`, `runExclusive(fn)`.
 * @example
 * const mutex = new Mutex();
 * await mutex.runExclusive(async () => { balance = (await read()) + 1; });
 * using release = await mutex.acquire({ timeout: 1000 }); // released at block end
 */
export class Mutex implements TrackedLock {
  readonly name: string;
  #isLocked = false;
  readonly #waiters = new WaitList();
  /** Debug mode only: who holds it. */
  #holder: TaskInfo | undefined;

  constructor(opts: MutexOptions = {}) {
    this.name = opts.name ?? `mutex#${++mutexCount}`;
  }

  /** Whether someone holds the lock. */
  get isLocked(): boolean {
    return this.#isLocked;
  }

  /** How many acquirers are waiting. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** @internal Tasks holding the lock (debug mode). */
  holders(): readonly TaskInfo[] {
    return this.#holder ? [this.#holder] : [];
  }

  /**
   * Waits for the lock and resolves with the function that releases it. Rejects with `TIMEOUT`
   * after `timeout` ms (`DEADLOCK` in debug mode when the wait is part of a cycle) or `ABORTED`
   * when `signal` fires; an already-aborted signal never acquires.
   */
  acquire(opts: WaitOptions = {}): Promise<Release> {
    if (!this.#isLocked && mayProceed(opts)) return Promise.resolve(this.#take(this.#whoIfDebug()));
    const who = this.#whoIfDebug();
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    const waiting = this.#waiters.wait(
      `acquiring ${this.name}`,
      opts,
      // The releaser hands the lock straight to us: it never becomes free in between.
      () => this.#take(who),
      who ? () => deadlockError(who, this, timeout) : undefined,
    );
    if (who) trackWait(who, this, waiting);
    return waiting;
  }

  /** Takes the lock if it is free now; undefined otherwise. Never waits. */
  tryAcquire(): Release | undefined {
    return this.#isLocked ? undefined : this.#take(this.#whoIfDebug());
  }

  /** Runs `fn` holding the lock, and releases it however `fn` ends. Returns what `fn` returns. */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    return holding(() => this.acquire(opts), fn);
  }

  #whoIfDebug(): TaskInfo | undefined {
    return isDebug() ? currentTask() : undefined;
  }

  #take(who: TaskInfo | undefined): Release {
    this.#isLocked = true;
    this.#holder = who;
    return oneShot(this.name, () => {
      this.#holder = undefined;
      if (!this.#waiters.wakeOne()) this.#isLocked = false;
    });
  }
}
