import { ConcurrencyError, checkInt } from "./errors.js";
import { holding, oneShot, type Release } from "./release.js";
import { mayProceed, WaitList, type WaitOptions } from "./wait-list.js";

/** Options for a {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Shown in errors. Default `semaphore#N`. */
  name?: string;
}

let semaphoreCount = 0;

/**
 * A counter of permits: `acquire` takes one (waiting while there are none), `release` gives one
 * back. Waiters are served in arrival order; a released permit goes straight to the oldest
 * waiter, so a late `tryAcquire` cannot jump the line.
 *
 * Methods: `acquire({ signal, timeout })` → release function, `tryAcquire()`, `release()`,
 * `runExclusive(fn)`; `value` and `waiting` for inspection.
 * @example
 * const slots = new Semaphore(3); // at most 3 downloads at once
 * await Promise.all(urls.map((u) => slots.runExclusive(() => download(u))));
 */
export class Semaphore {
  readonly name: string;
  #value: number;
  readonly #waiters = new WaitList();

  /** @param value permits available at the start (integer ≥ 0, default 1). */
  constructor(value = 1, opts: SemaphoreOptions = {}) {
    checkInt("semaphore value", value, 0);
    this.#value = value;
    this.name = opts.name ?? `semaphore#${++semaphoreCount}`;
  }

  /** Permits available now. */
  get value(): number {
    return this.#value;
  }

  /** How many acquirers are waiting. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /**
   * Waits for a permit and resolves with the function that gives it back. Rejects with `TIMEOUT`
   * after `timeout` ms or `ABORTED` when `signal` fires; an already-aborted signal never acquires.
   */
  acquire(opts: WaitOptions = {}): Promise<Release> {
    if (this.#value > 0 && mayProceed(opts)) {
      this.#value--;
      return Promise.resolve(this.#releaser());
    }
    // The releaser hands its permit straight to us, so #value is not touched on wake.
    return this.#waiters.wait(`acquiring ${this.name}`, opts, () => this.#releaser());
  }

  /** Takes a permit if one is free now; undefined otherwise. Never waits. */
  tryAcquire(): Release | undefined {
    if (this.#value === 0) return undefined;
    this.#value--;
    return this.#releaser();
  }

  /** Adds a permit: wakes the oldest waiter, or raises `value`. */
  release(): void {
    if (this.#waiters.wakeOne()) return;
    this.checkRelease(this.#value);
    this.#value++;
  }

  /** Runs `fn` holding a permit and gives it back however `fn` ends. */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    return holding(() => this.acquire(opts), fn);
  }

  /** Hook for {@link BoundedSemaphore}: throws when a release would pass the bound. */
  protected checkRelease(_value: number): void {}

  #releaser(): Release {
    return oneShot(this.name, () => this.release());
  }
}

/**
 * A {@link Semaphore} that refuses to grow: releasing more than was acquired throws
 * `RELEASED_TOO_OFTEN` instead of silently adding a permit (the usual bug it catches is a
 * double release on an error path).
 * @example const pool = new BoundedSemaphore(2); pool.release(); // throws RELEASED_TOO_OFTEN
 */
export class BoundedSemaphore extends Semaphore {
  /** The initial and maximum value. */
  readonly bound: number;

  constructor(value = 1, opts: SemaphoreOptions = {}) {
    super(value, opts);
    this.bound = value;
  }

  protected override checkRelease(value: number): void {
    if (value >= this.bound) {
      throw new ConcurrencyError(
        "RELEASED_TOO_OFTEN",
        `${this.name} released past its bound of ${this.bound}`,
        {
          hint: "release only what you acquired",
        },
      );
    }
  }
}
