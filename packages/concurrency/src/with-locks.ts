import type { Release } from "./release.js";
import type { WaitOptions } from "./wait-list.js";

/** Anything `withLocks` can take: Mutex, RLock, Semaphore, Condition. */
export interface Lockable {
  acquire(opts?: WaitOptions): Promise<Release>;
}

const order = new WeakMap<Lockable, number>();
let nextOrder = 0;

/** The lock's place in the one global order: fixed the first time withLocks sees it. */
function rank(lock: Lockable): number {
  let r = order.get(lock);
  if (r === undefined) {
    r = nextOrder++;
    order.set(lock, r);
  }
  return r;
}

/**
 * Runs `fn` holding every lock in `locks`, taken in one global order whatever order they are
 * listed in, so two tasks that need the same locks can never deadlock each other (the cure for
 * the classic "A takes x then y, B takes y then x"). Released in reverse order however `fn`
 * ends; if a wait fails, the locks already taken are released. `timeout` covers all the waits.
 * @example await withLocks([accountB, accountA], () => move(100, accountA, accountB));
 */
export async function withLocks<T>(
  locks: readonly Lockable[],
  fn: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<T> {
  const sorted = [...new Set(locks)].sort((a, b) => rank(a) - rank(b));
  const deadline = performance.now() + (opts.timeout ?? Number.POSITIVE_INFINITY);
  const held: Release[] = [];
  try {
    for (const lock of sorted) {
      const left = Math.max(0, deadline - performance.now());
      held.push(await lock.acquire({ signal: opts.signal, timeout: left }));
    }
    return await fn();
  } finally {
    for (const release of held.reverse()) release();
  }
}
