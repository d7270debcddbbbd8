export { Barrier, type BarrierOptions } from "./barrier.js";
export { Condition } from "./condition.js";
export { isDebug, setDebug } from "./debug.js";
export { ConcurrencyError, type ConcurrencyErrorCode } from "./errors.js";
export { Event } from "./event.js";
export { Mutex, type MutexOptions } from "./mutex.js";
export {
  type StartWorkerOptions,
  serveWorker,
  startWorker,
  type WorkerHandle,
  WorkerPool,
  type WorkerPoolOptions,
} from "./pool.js";
export {
  LifoQueue,
  PriorityQueue,
  type PriorityQueueOptions,
  Queue,
  type QueueOptions,
  type QueueStore,
} from "./queue.js";
export type { Release } from "./release.js";
export { RLock, type RLockOptions } from "./rlock.js";
export { BoundedSemaphore, Semaphore, type SemaphoreOptions } from "./semaphore.js";
export { SharedMutex, SharedSemaphore, type SyncWaitOptions } from "./shared.js";
export { currentTask, type TaskInfo, task } from "./task.js";
export type { WaitOptions } from "./wait-list.js";
export { type Lockable, withLocks } from "./with-locks.js";
