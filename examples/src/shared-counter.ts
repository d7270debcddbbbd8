/**
 * A counter in shared memory, incremented by several worker_threads. `counter[0]++` is a read,
 * an add and a write: two threads can read the same value and both write value + 1, so one
 * update is lost. Without a lock the total comes out short; with SharedMutex it is exact.
 * Run: lab examples run shared-counter [workers] [increments]
 */
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { SharedMutex } from "@netlab/concurrency";

interface Job {
  counter: SharedArrayBuffer;
  lock: SharedArrayBuffer | undefined;
  increments: number;
  start: SharedArrayBuffer;
}

if (isMainThread) {
  const workers = Number(process.argv[2] ?? 4);
  const increments = Number(process.argv[3] ?? 200_000);
  if (
    !(
      Number.isSafeInteger(workers) &&
      workers >= 1 &&
      workers <= 64 &&
      Number.isSafeInteger(increments) &&
      increments >= 1
    )
  ) {
    console.error("usage: shared-counter [workers 1-64] [increments ≥ 1]");
    process.exit(2);
  }

  /** Starts the workers together and waits for all of them. Returns the final count. */
  const run = async (lock: SharedMutex | undefined): Promise<number> => {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const start = new Int32Array(new SharedArrayBuffer(4));
    const job: Job = { counter: counter.buffer, lock: lock?.buffer, increments, start: start.buffer };
    const threads = Array.from(
      { length: workers },
      () => new Worker(new URL(import.meta.url), { workerData: job }),
    );
    await Promise.all(threads.map((t) => new Promise((resolve) => t.once("message", resolve))));
    Atomics.store(start, 0, 1); // everyone ready: go at once, so the threads really overlap
    Atomics.notify(start, 0);
    await Promise.all(threads.map((t) => new Promise((resolve) => t.once("exit", resolve))));
    return counter[0]!;
  };

  const expected = workers * increments;
  console.log(`${workers} workers × ${increments} increments = ${expected} expected`);
  const unlocked = await run(undefined);
  console.log(`without a lock:      ${unlocked} (${expected - unlocked} updates lost)`);
  const locked = await run(new SharedMutex());
  console.log(`with a SharedMutex:  ${locked} (${locked === expected ? "exact" : "WRONG"})`);
  process.exitCode = locked === expected ? 0 : 1;
} else {
  const job = workerData as Job;
  const counter = new Int32Array(job.counter);
  const start = new Int32Array(job.start);
  const mutex = job.lock ? new SharedMutex(job.lock) : undefined;
  parentPort!.postMessage("ready");
  Atomics.wait(start, 0, 0);
  for (let i = 0; i < job.increments; i++) {
    if (mutex) {
      const release = mutex.acquireSync();
      counter[0]!++;
      release();
    } else {
      // The same non-atomic read-modify-write, unprotected: a classic lost update.
      counter[0]!++;
    }
  }
}
