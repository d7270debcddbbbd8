import { describe, expect, it } from "vitest";
import { startWorker, WorkerPool } from "../src/index.js";

/** Workers run compiled JS: the built package (`pnpm test` runs `tsc -b` first). */
const DIST = new URL("../dist/index.js", import.meta.url).href;
/** vitest's `--conditions @netlab/source` would send workers to .ts sources. */
const workerOptions = { execArgv: [] };

/** An ES module worker script as a data: URL. */
const script = (body: string) =>
  new URL(
    `data:text/javascript,${encodeURIComponent(`import * as api from ${JSON.stringify(DIST)};\n${body}`)}`,
  );

const SQUARE = script(`api.serveWorker(async (n) => {
  if (n < 0) throw new Error("negative");
  if (n === 999) await new Promise(() => setInterval(() => {}, 1000)); // never ends
  return n * n;
});`);

describe("WorkerPool", () => {
  it("runs tasks on worker threads and returns their results", async () => {
    await using pool = new WorkerPool<number, number>(SQUARE, { size: 2, workerOptions });
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => pool.run(n, { timeout: 10_000 })));
    expect(results).toEqual([1, 4, 9, 16, 25]);
  });

  it("rejects with WORKER_FAILED when the task throws, and keeps working", async () => {
    await using pool = new WorkerPool<number, number>(SQUARE, { size: 1, workerOptions });
    await expect(pool.run(-1)).rejects.toMatchObject({
      code: "WORKER_FAILED",
      message: "pool task failed: negative",
    });
    expect(await pool.run(3)).toBe(9);
  });

  it("a timed-out task stops its worker and a fresh one serves the next task", async () => {
    await using pool = new WorkerPool<number, number>(SQUARE, { size: 1, workerOptions });
    await expect(pool.run(999, { timeout: 50 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(await pool.run(4, { timeout: 10_000 })).toBe(16);
  });

  it("an aborted task rejects with ABORTED", async () => {
    await using pool = new WorkerPool<number, number>(SQUARE, { size: 1, workerOptions });
    const ac = new AbortController();
    const p = pool.run(999, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("refuses tasks past maxQueue with QUEUE_FULL", async () => {
    const pool = new WorkerPool<number, number>(SQUARE, { size: 1, maxQueue: 1, workerOptions });
    const running = pool.run(999);
    const queued = pool.run(2);
    await expect(pool.run(3)).rejects.toMatchObject({ code: "QUEUE_FULL" });
    const outcomes = Promise.allSettled([running, queued]);
    await pool.terminate();
    for (const o of await outcomes)
      expect(o).toMatchObject({ status: "rejected", reason: { code: "ABORTED" } });
  });

  it("close waits for queued tasks before ending the workers, however often it is called", async () => {
    const pool = new WorkerPool<number, number>(SQUARE, { size: 1, workerOptions });
    const ps = [2, 3].map((n) => pool.run(n));
    await Promise.all([pool.close({ timeout: 10_000 }), pool.close({ timeout: 10_000 })]);
    expect(await Promise.all(ps)).toEqual([4, 9]);
    await expect(pool.run(1)).rejects.toMatchObject({ code: "ABORTED" });
  });
});

describe("startWorker", () => {
  it("join resolves with the worker's exit code", async () => {
    const w = startWorker(script("process.exitCode = 3;"), workerOptions);
    expect(await w.join({ timeout: 10_000 })).toBe(3);
    expect(w.isAlive()).toBe(false);
  });

  it("join times out with TIMEOUT on a worker that keeps running; terminate stops it", async () => {
    const w = startWorker(script("setInterval(() => {}, 1000);"), { ...workerOptions, daemon: true });
    expect(w.daemon).toBe(true);
    await expect(w.join({ timeout: 50 })).rejects.toMatchObject({ code: "TIMEOUT" });
    await w.terminate();
    expect(w.isAlive()).toBe(false);
  });
});
