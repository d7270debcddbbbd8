import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Who is running: the identity locks record as their owner. Async code has no threads, so a
 * "task" is an async context started with {@link task} (or by `RLock.runExclusive`); code
 * outside any task runs as the task named "main".
 */
export interface TaskInfo {
  readonly id: number;
  readonly name: string;
}

const storage = new AsyncLocalStorage<TaskInfo>();
const MAIN: TaskInfo = Object.freeze({ id: 0, name: "main" });
let nextId = 1;

/** The task the caller runs in ("main" outside any). */
export function currentTask(): TaskInfo {
  return storage.getStore() ?? MAIN;
}

/**
 * Runs `fn` as a new task named `name`: reentrant locks treat it as its own owner, and debug
 * deadlock reports use the name. Everything `fn` awaits or starts stays in the task.
 * @example await Promise.all([task("alice", () => transfer(a, b)), task("bob", () => transfer(b, a))]);
 */
export function task<T>(name: string, fn: () => T): T {
  return storage.run(Object.freeze({ id: nextId++, name }), fn);
}
