import { describe, expect, it } from "vitest";
import { Event, RLock, setDebug, task } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("RLock", () => {
  it("lets the owning task acquire it again and frees it after the matching releases", async () => {
    const lock = new RLock();
    const r1 = await lock.acquire();
    const r2 = await lock.acquire({ timeout: 0 });
    expect(lock.depth).toBe(2);
    r2();
    expect(lock.isLocked).toBe(true);
    r1();
    expect(lock.isLocked).toBe(false);
  });

  it("nested runExclusive does not deadlock, while other tasks are kept out", async () => {
    const lock = new RLock();
    const log: string[] = [];
    const job = (name: string) =>
      lock.runExclusive(async () => {
        log.push(`${name} in`);
        await settle();
        await lock.runExclusive(async () => {
          log.push(`${name} nested`);
          await settle();
        });
        log.push(`${name} out`);
      });
    await Promise.all([job("a"), job("b")]);
    expect(log).toEqual(["a in", "a nested", "a out", "b in", "b nested", "b out"]);
  });

  it("tells tasks apart: another task waits, tryAcquire from it fails", async () => {
    const lock = new RLock();
    const release = await task("owner", () => lock.acquire());
    expect(task("other", () => lock.tryAcquire())).toBeUndefined();
    await expect(task("other", () => lock.acquire({ timeout: 10 }))).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    expect(lock.waiting).toBe(0);
    release();
    expect(task("other", () => lock.tryAcquire())).toBeTypeOf("function");
  });

  it("serves waiting tasks in arrival order", async () => {
    const lock = new RLock();
    const release = await lock.acquire();
    const order: string[] = [];
    const ws = ["x", "y", "z"].map((n) =>
      task(n, async () => {
        const r = await lock.acquire();
        order.push(n);
        r();
      }),
    );
    await settle();
    release();
    await Promise.all(ws);
    expect(order).toEqual(["x", "y", "z"]);
  });

  it("aborts with ABORTED", async () => {
    const lock = new RLock();
    const release = await task("a", () => lock.acquire());
    await expect(task("b", () => lock.acquire({ signal: AbortSignal.abort("no") }))).rejects.toMatchObject({
      code: "ABORTED",
    });
    release();
  });

  it("in debug mode names an RLock cycle between two tasks", async () => {
    setDebug(true);
    try {
      const x = new RLock({ name: "x" });
      const y = new RLock({ name: "y" });
      const bothHold = new Event();
      let held = 0;
      const worker = (name: string, first: RLock, second: RLock, timeout: number) =>
        task(name, async () => {
          const r1 = await first.acquire();
          if (++held === 2) bothHold.set();
          await bothHold.wait();
          try {
            (await second.acquire({ timeout }))();
          } finally {
            r1();
          }
        });
      const [r1, r2] = await Promise.allSettled([worker("t1", x, y, 20), worker("t2", y, x, 5_000)]);
      const err = (r1 as PromiseRejectedResult).reason as Error;
      expect(err).toMatchObject({ code: "DEADLOCK" });
      expect(err.message).toContain('task "t1" holds "x" and waits for "y"');
      expect(err.message).toContain('task "t2" holds "y" and waits for "x"');
      expect(r2.status).toBe("fulfilled");
    } finally {
      setDebug(false);
    }
  });
});
