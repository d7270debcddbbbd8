import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { SharedMutex, SharedSemaphore } from "../src/index.js";

/** Workers run compiled JS: the built package (`pnpm test` runs `tsc -b` first). */
const DIST = new URL("../dist/index.js", import.meta.url).href;

/** Runs `body` (CommonJS, with `api` = the built package and `workerData`) in a worker; resolves with what it posts. */
function runWorker<T>(body: string, workerData: unknown): Promise<T> {
  const code = `
    const { parentPort, workerData } = require("node:worker_threads");
    import(${JSON.stringify(DIST)}).then(async (api) => { ${body} }).then(
      (v) => parentPort.postMessage({ ok: true, v }),
      (e) => parentPort.postMessage({ ok: false, e: String(e && e.stack || e) }),
    );`;
  // No inherited flags: vitest's `--conditions @netlab/source` would send the worker to .ts sources.
  const worker = new Worker(code, { eval: true, workerData, execArgv: [] });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error("worker timed out"));
    }, 20_000);
    worker.once("message", (m: { ok: boolean; v: T; e: string }) => {
      clearTimeout(timer);
      void worker.terminate();
      if (m.ok) resolve(m.v);
      else reject(new Error(m.e));
    });
    worker.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe("SharedMutex across worker_threads", () => {
  it("N workers × M locked increments give exactly N×M", async () => {
    const mutex = new SharedMutex();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const workers = 4;
    const increments = 20_000;
    await Promise.all(
      Array.from({ length: workers }, () =>
        runWorker(
          `const m = new api.SharedMutex(workerData.lock);
           const c = new Int32Array(workerData.counter);
           for (let i = 0; i < ${increments}; i++) {
             const release = m.acquireSync();
             c[0] = c[0] + 1; // a plain read-modify-write: only the lock makes it safe
             release();
           }`,
          { lock: mutex.buffer, counter: counter.buffer },
        ),
      ),
    );
    expect(counter[0]).toBe(workers * increments);
    expect(mutex.isLocked).toBe(false);
  });

  it("async acquire from several workers also gives exactly N×M", async () => {
    const mutex = new SharedMutex();
    const counter = new Int32Array(new SharedArrayBuffer(4));
    await Promise.all(
      Array.from({ length: 3 }, () =>
        runWorker(
          `const m = new api.SharedMutex(workerData.lock);
           const c = new Int32Array(workerData.counter);
           for (let i = 0; i < 2000; i++) await m.runExclusive(() => { c[0] = c[0] + 1; });`,
          { lock: mutex.buffer, counter: counter.buffer },
        ),
      ),
    );
    expect(counter[0]).toBe(6000);
  });

  it("times out with TIMEOUT while another thread holds it, then acquires once it is freed", async () => {
    const mutex = new SharedMutex();
    const release = mutex.acquireSync();
    const outcome = await runWorker<string>(
      `const m = new api.SharedMutex(workerData);
       try { m.acquireSync({ timeout: 30 }); return "acquired"; } catch (e) { return e.code; }`,
      mutex.buffer,
    );
    expect(outcome).toBe("TIMEOUT");
    await expect(mutex.acquire({ timeout: 10 })).rejects.toMatchObject({ code: "TIMEOUT" });
    release();
    (await mutex.acquire({ timeout: 1_000 }))();
  });

  it("an aborted async acquire rejects with ABORTED and the lock still works", async () => {
    const mutex = new SharedMutex();
    const release = mutex.acquireSync();
    const ac = new AbortController();
    const p = mutex.acquire({ signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: "ABORTED" });
    const next = mutex.acquire({ timeout: 2_000 });
    release();
    (await next)();
    expect(mutex.isLocked).toBe(false);
  });

  it("tryAcquire fails while held", () => {
    const mutex = new SharedMutex();
    const release = mutex.tryAcquire()!;
    expect(mutex.tryAcquire()).toBeUndefined();
    release();
  });
});

describe("SharedSemaphore across worker_threads", () => {
  it("never lets more than `value` workers in at once", async () => {
    const slots = new SharedSemaphore(2, { bound: 2 });
    const stats = new Int32Array(new SharedArrayBuffer(8)); // [inside, most]
    await Promise.all(
      Array.from({ length: 4 }, () =>
        runWorker(
          `const s = new api.SharedSemaphore(workerData.sem);
           const st = new Int32Array(workerData.stats);
           for (let i = 0; i < 200; i++) {
             s.runExclusiveSync(() => {
               const now = Atomics.add(st, 0, 1) + 1;
               for (;;) { const m = Atomics.load(st, 1); if (now <= m || Atomics.compareExchange(st, 1, m, now) === m) break; }
               Atomics.sub(st, 0, 1);
             });
           }`,
          { sem: slots.buffer, stats: stats.buffer },
        ),
      ),
    );
    expect(stats[1]).toBeLessThanOrEqual(2);
    expect(stats[1]).toBeGreaterThanOrEqual(1);
    expect(slots.value).toBe(2);
  });

  it("release past the bound throws RELEASED_TOO_OFTEN", () => {
    const sem = new SharedSemaphore(1, { bound: 1 });
    expect(() => sem.release()).toThrow(expect.objectContaining({ code: "RELEASED_TOO_OFTEN" }));
    const attached = new SharedSemaphore(sem.buffer);
    expect(() => attached.release()).toThrow(expect.objectContaining({ code: "RELEASED_TOO_OFTEN" }));
  });

  it("acquireSync times out with TIMEOUT when no permit comes", () => {
    const sem = new SharedSemaphore(0, { bound: 1 });
    expect(() => sem.acquireSync({ timeout: 10 })).toThrow(expect.objectContaining({ code: "TIMEOUT" }));
  });

  it("an async acquire wakes when another thread releases", async () => {
    const sem = new SharedSemaphore(0, { bound: 1 });
    const waiting = sem.acquire({ timeout: 5_000 });
    await runWorker(`new api.SharedSemaphore(workerData).release();`, sem.buffer);
    (await waiting)();
    expect(sem.value).toBe(1);
  });
});
