import { ConcurrencyError } from "./errors.js";
import type { TaskInfo } from "./task.js";

/** A lock as the deadlock detector sees it: a name and the tasks holding it. */
export interface TrackedLock {
  readonly name: string;
  /** Tasks holding the lock now (debug mode only; empty otherwise). */
  holders(): readonly TaskInfo[];
}

let debugMode = false;
/** Debug mode only: the lock each waiting task waits for. */
const waitingFor = new Map<TaskInfo, TrackedLock>();

/**
 * Turns debug mode on or off for every lock (default off; `NETLAB_DEBUG` in the environment does
 * not change it: the caller decides). In debug mode locks record their holders and waiters, and
 * a lock wait that times out while part of a cycle (A holds x and waits for y, B holds y and
 * waits for x) rejects with `DEADLOCK`, naming the cycle, instead of `TIMEOUT`.
 * @example setDebug(true); await mutex.acquire({ timeout: 1000 }); // DEADLOCK: task "a" holds ...
 */
export function setDebug(on: boolean): void {
  debugMode = on;
  if (!on) waitingFor.clear();
}

/** Whether debug mode is on. */
export function isDebug(): boolean {
  return debugMode;
}

/** Records that `who` waits for `lock` until `waiting` settles (debug mode). */
export function trackWait(who: TaskInfo, lock: TrackedLock, waiting: Promise<unknown>): void {
  waitingFor.set(who, lock);
  const clear = () => {
    if (waitingFor.get(who) === lock) waitingFor.delete(who);
  };
  void waiting.then(clear, clear);
}

/**
 * Searches the wait-for graph from `start` (which waits for `lock`) for a path back to `start`.
 * Returns the DEADLOCK error naming the cycle, or undefined when there is none.
 */
export function deadlockError(start: TaskInfo, lock: TrackedLock, timeoutMs: number): Error | undefined {
  // Each step: a task and the lock it waits for. Bounded: a task is visited at most once.
  const path: { who: TaskInfo; wants: TrackedLock }[] = [];
  const seen = new Set<TaskInfo>();
  const visit = (who: TaskInfo, wants: TrackedLock): boolean => {
    path.push({ who, wants });
    seen.add(who);
    for (const holder of wants.holders()) {
      if (holder.id === start.id) return true;
      const next = waitingFor.get(holder);
      if (next && !seen.has(holder) && visit(holder, next)) return true;
    }
    path.pop();
    return false;
  };
  if (!visit(start, lock)) return undefined;
  const steps = path.map(({ who, wants }, i) => {
    const held = path[(i + path.length - 1) % path.length]!.wants;
    return path.length === 1
      ? `task "${who.name}" holds "${held.name}" and waits for it again`
      : `task "${who.name}" holds "${held.name}" and waits for "${wants.name}"`;
  });
  return new ConcurrencyError("DEADLOCK", `deadlock after ${timeoutMs} ms: ${steps.join("; ")}`, {
    hint: "take locks in one global order (withLocks), or use an RLock for re-entry",
  });
}
