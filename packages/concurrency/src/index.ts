export { isDebug, setDebug } from "./debug.js";
export { ConcurrencyError, type ConcurrencyErrorCode } from "./errors.js";
export { Event } from "./event.js";
export { Mutex, type MutexOptions } from "./mutex.js";
export {
  LifoQueue,
  PriorityQueue,
  type PriorityQueueOptions,
  Queue,
  type QueueOptions,
  type QueueStore,
} from "./queue.js";
export type { Release } from "./release.js";
export { BoundedSemaphore, Semaphore, type SemaphoreOptions } from "./semaphore.js";
export { currentTask, type TaskInfo, task } from "./task.js";
export type { WaitOptions } from "./wait-list.js";
