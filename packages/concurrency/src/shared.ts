import { abortedError, ConcurrencyError, checkInt, checkTimeout, timeoutError } from "./errors.js";
import { holding, holdingSync, oneShot, type Release } from "./release.js";
import type { WaitOptions } from "./wait-list.js";

// SharedMutex states (Drepper, "Futexes are tricky", mutex #2).
const UNLOCKED = 0;
const LOCKED = 1;
/** Locked, and someone may be sleeping on it: the unlocker must notify. */
const CONTENDED = 2;

/** Options for the synchronous waits of the shared primitives (they block the thread). */
export interface SyncWaitOptions {
  /** Milliseconds before throwing `TIMEOUT`. Default `Infinity`. */
  timeout?: number;
}

/**
 * A mutex for real threads: its state is one Int32 in a `SharedArrayBuffer`, so every
 * `worker_threads` worker given the same buffer shares the lock. Post `mutex.buffer` to a worker
 * and rebuild it there with `new SharedMutex(buffer)`.
 *
 * `acquireSync` blocks the thread with `Atomics.wait` (fine in a worker, a freeze on the main
 * thread); `acquire` waits with `Atomics.waitAsync` and keeps the event loop running. Not FIFO:
 * the OS decides who wakes first.
 * @example
 * const mutex = new SharedMutex();
 * new Worker(url, { workerData: mutex.buffer });
 * // in the worker:
 * const m = new SharedMutex(workerData); m.runExclusiveSync(() => { counter[0]++; });
 */
export class SharedMutex {
  /** The shared memory holding the lock: post it to workers. */
  readonly buffer: SharedArrayBuffer;
  readonly #state: Int32Array;

  /** A new unlocked mutex, or a view of an existing one (`buffer` from another thread). */
  constructor(buffer: SharedArrayBuffer = new SharedArrayBuffer(4), byteOffset = 0) {
    this.buffer = buffer;
    this.#state = new Int32Array(buffer, byteOffset, 1);
  }

  /** Whether some thread holds it. */
  get isLocked(): boolean {
    return Atomics.load(this.#state, 0) !== UNLOCKED;
  }

  /** Takes the lock if it is free now; undefined otherwise. */
  tryAcquire(): Release | undefined {
    if (Atomics.compareExchange(this.#state, 0, UNLOCKED, LOCKED) !== UNLOCKED) return undefined;
    return this.#releaser();
  }

  /** Blocks the thread until the lock is taken; throws `TIMEOUT` after `timeout` ms. */
  acquireSync(opts: SyncWaitOptions = {}): Release {
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    checkTimeout(timeout);
    const deadline = performance.now() + timeout;
    let c = Atomics.compareExchange(this.#state, 0, UNLOCKED, LOCKED);
    while (c !== UNLOCKED) {
      if (c === CONTENDED || Atomics.compareExchange(this.#state, 0, LOCKED, CONTENDED) !== UNLOCKED) {
        const left = deadline - performance.now();
        if (left <= 0 || Atomics.wait(this.#state, 0, CONTENDED, left) === "timed-out") {
          // One last try: the lock may have been freed just as we timed out.
          if (Atomics.compareExchange(this.#state, 0, UNLOCKED, CONTENDED) === UNLOCKED) break;
          throw timeoutError("acquiring a SharedMutex", timeout);
        }
      }
      c = Atomics.compareExchange(this.#state, 0, UNLOCKED, CONTENDED);
    }
    return this.#releaser();
  }

  /**
   * Waits without blocking the thread (`Atomics.waitAsync`) and resolves with the release
   * function. Rejects with `TIMEOUT` or `ABORTED`.
   */
  async acquire(opts: WaitOptions = {}): Promise<Release> {
    const { signal } = opts;
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    checkTimeout(timeout);
    const deadline = performance.now() + timeout;
    const what = "acquiring a SharedMutex";
    if (signal?.aborted) throw abortedError(what, signal);
    let c = Atomics.compareExchange(this.#state, 0, UNLOCKED, LOCKED);
    while (c !== UNLOCKED) {
      if (c === CONTENDED || Atomics.compareExchange(this.#state, 0, LOCKED, CONTENDED) !== UNLOCKED) {
        await sleepOn(this.#state, 0, CONTENDED, deadline, signal, what, timeout);
      }
      c = Atomics.compareExchange(this.#state, 0, UNLOCKED, CONTENDED);
    }
    return this.#releaser();
  }

  /** Runs `fn` holding the lock (blocking while waiting) and releases it however `fn` ends. */
  runExclusiveSync<T>(fn: () => T, opts: SyncWaitOptions = {}): T {
    return holdingSync(() => this.acquireSync(opts), fn);
  }

  /** Runs `fn` holding the lock (waiting asynchronously) and releases it however `fn` ends. */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    return holding(() => this.acquire(opts), fn);
  }

  #releaser(): Release {
    return oneShot("SharedMutex", () => {
      if (Atomics.sub(this.#state, 0, 1) !== LOCKED) {
        Atomics.store(this.#state, 0, UNLOCKED);
        Atomics.notify(this.#state, 0, 1);
      }
    });
  }
}

/**
 * A counting semaphore for real threads, on Int32s in a `SharedArrayBuffer` (see
 * {@link SharedMutex} for how to share it). Unbounded like {@link Semaphore} unless given
 * `{ bound }`, like {@link BoundedSemaphore}: a release past it throws `RELEASED_TOO_OFTEN`.
 * @example
 * const slots = new SharedSemaphore(2); // at most 2 workers in the section
 * new Worker(url, { workerData: slots.buffer }); // worker: new SharedSemaphore(workerData)
 */
export class SharedSemaphore {
  readonly buffer: SharedArrayBuffer;
  readonly #count: Int32Array;
  readonly #bound: number;

  /**
   * `new SharedSemaphore(value, { bound })` creates one with `value` permits (default 1, bound
   * default `Infinity`); `new SharedSemaphore(buffer)` attaches to an existing one.
   */
  constructor(valueOrBuffer: number | SharedArrayBuffer = 1, opts: { bound?: number } = {}) {
    if (typeof valueOrBuffer === "number") {
      checkInt("semaphore value", valueOrBuffer, 0);
      // Int32 [count, bound]: the bound travels with the buffer.
      this.buffer = new SharedArrayBuffer(8);
      this.#count = new Int32Array(this.buffer, 0, 1);
      const bound = opts.bound ?? Number.POSITIVE_INFINITY;
      checkInt("bound", bound, Math.max(1, valueOrBuffer), true);
      const meta = new Int32Array(this.buffer, 4, 1);
      meta[0] = bound === Number.POSITIVE_INFINITY ? -1 : bound;
      this.#count[0] = valueOrBuffer;
    } else {
      this.buffer = valueOrBuffer;
      this.#count = new Int32Array(this.buffer, 0, 1);
    }
    const stored = new Int32Array(this.buffer, 4, 1)[0]!;
    this.#bound = stored < 0 ? Number.POSITIVE_INFINITY : stored;
  }

  /** Permits available now. */
  get value(): number {
    return Atomics.load(this.#count, 0);
  }

  /** Takes a permit if one is free now; undefined otherwise. */
  tryAcquire(): Release | undefined {
    for (;;) {
      const v = Atomics.load(this.#count, 0);
      if (v <= 0) return undefined;
      if (Atomics.compareExchange(this.#count, 0, v, v - 1) === v) return this.#releaser();
    }
  }

  /** Blocks the thread until a permit is free; throws `TIMEOUT` after `timeout` ms. */
  acquireSync(opts: SyncWaitOptions = {}): Release {
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    checkTimeout(timeout);
    const deadline = performance.now() + timeout;
    for (;;) {
      const r = this.tryAcquire();
      if (r) return r;
      const left = deadline - performance.now();
      if (left <= 0) throw timeoutError("acquiring a SharedSemaphore", timeout);
      Atomics.wait(this.#count, 0, 0, left);
    }
  }

  /** Waits without blocking the thread; resolves with the release function. */
  async acquire(opts: WaitOptions = {}): Promise<Release> {
    const timeout = opts.timeout ?? Number.POSITIVE_INFINITY;
    checkTimeout(timeout);
    const deadline = performance.now() + timeout;
    const what = "acquiring a SharedSemaphore";
    if (opts.signal?.aborted) throw abortedError(what, opts.signal);
    for (;;) {
      const r = this.tryAcquire();
      if (r) return r;
      await sleepOn(this.#count, 0, 0, deadline, opts.signal, what, timeout);
    }
  }

  /** Gives a permit back and wakes one waiting thread. */
  release(): void {
    for (;;) {
      const v = Atomics.load(this.#count, 0);
      if (v >= this.#bound) {
        throw new ConcurrencyError(
          "RELEASED_TOO_OFTEN",
          `SharedSemaphore released past its bound of ${this.#bound}`,
          {
            hint: "release only what you acquired",
          },
        );
      }
      if (Atomics.compareExchange(this.#count, 0, v, v + 1) === v) break;
    }
    Atomics.notify(this.#count, 0, 1);
  }

  /** Runs `fn` holding a permit (blocking while waiting). */
  runExclusiveSync<T>(fn: () => T, opts: SyncWaitOptions = {}): T {
    return holdingSync(() => this.acquireSync(opts), fn);
  }

  /** Runs `fn` holding a permit (waiting asynchronously). */
  runExclusive<T>(fn: () => T | Promise<T>, opts: WaitOptions = {}): Promise<T> {
    return holding(() => this.acquire(opts), fn);
  }

  #releaser(): Release {
    return oneShot("SharedSemaphore", () => this.release());
  }
}

/** `Atomics.waitAsync` (Node ≥ 16), typed here because our `lib` stops at ES2023. */
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      cell: Int32Array,
      index: number,
      value: number,
      timeout?: number,
    ):
      | { async: false; value: "not-equal" | "timed-out" }
      | { async: true; value: Promise<"ok" | "timed-out"> };
  }
).waitAsync;

/**
 * Sleeps on `cell` while it holds `expected`, without blocking the thread, until notified, the
 * deadline passes (`TIMEOUT`) or the signal fires (`ABORTED`). A wake-up given to a sleep we
 * abandoned on abort is passed on with another notify, so no other waiter loses it.
 */
async function sleepOn(
  cell: Int32Array,
  index: number,
  expected: number,
  deadline: number,
  signal: AbortSignal | undefined,
  what: string,
  timeout: number,
): Promise<void> {
  const left = deadline - performance.now();
  if (left <= 0) throw timeoutError(what, timeout);
  const result = waitAsync(cell, index, expected, left === Number.POSITIVE_INFINITY ? undefined : left);
  if (!result.async) return; // the value already changed: go round again
  // A pending waitAsync does not keep Node's event loop alive: without this timer a worker whose
  // only work is waiting for the lock would simply exit, and the wake-up would go nowhere.
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    await sleepUntilWoken(result.value, cell, index, signal, what);
  } finally {
    clearInterval(keepAlive);
  }
}

/** Awaits a waitAsync result, or the signal (passing on a wake-up the abandoned wait gets). */
async function sleepUntilWoken(
  woken: Promise<"ok" | "timed-out">,
  cell: Int32Array,
  index: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  if (!signal) {
    await woken;
  } else {
    let onAbort!: () => void;
    const aborted = new Promise<"aborted">((resolve) => {
      onAbort = () => resolve("aborted");
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const first = await Promise.race([woken, aborted]);
    signal.removeEventListener("abort", onAbort);
    if (first === "aborted") {
      void woken.then((r) => {
        if (r === "ok") Atomics.notify(cell, index, 1);
      });
      throw abortedError(what, signal);
    }
  }
  // Woken or timed out: either way the caller tries once more, then the deadline check decides.
}
