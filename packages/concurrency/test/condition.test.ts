import { describe, expect, it } from "vitest";
import { Condition, Mutex } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Condition", () => {
  it("hands items from producer to consumer (waitFor + notify)", async () => {
    const cond = new Condition();
    const items: number[] = [];
    const got: number[] = [];
    const consumer = async () => {
      for (let i = 0; i < 5; i++) {
        await cond.runExclusive(async () => {
          await cond.waitFor(() => items.length > 0, { timeout: 5_000 });
          got.push(items.shift()!);
        });
      }
    };
    const producer = async () => {
      for (let i = 0; i < 5; i++) {
        await cond.runExclusive(() => {
          items.push(i);
          cond.notify();
        });
        await settle();
      }
    };
    await Promise.all([consumer(), producer()]);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it("releases the lock while waiting and holds it again after", async () => {
    const mutex = new Mutex();
    const cond = new Condition(mutex);
    const release = await cond.acquire();
    const waiting = cond.wait({ timeout: 5_000 });
    await settle();
    expect(mutex.isLocked).toBe(false);
    await cond.runExclusive(() => cond.notify());
    await waiting;
    expect(mutex.isLocked).toBe(true);
    release();
    expect(mutex.isLocked).toBe(false);
  });

  it("notify(n) wakes n waiters oldest first; notifyAll wakes the rest", async () => {
    const cond = new Condition();
    const woke: number[] = [];
    const ws = [0, 1, 2, 3].map((n) =>
      cond.runExclusive(async () => {
        await cond.wait({ timeout: 5_000 });
        woke.push(n);
      }),
    );
    await settle();
    expect(cond.waiting).toBe(4);
    await cond.runExclusive(() => cond.notify(2));
    await settle();
    expect(woke).toEqual([0, 1]);
    await cond.runExclusive(() => cond.notifyAll());
    await Promise.all(ws);
    expect(woke).toEqual([0, 1, 2, 3]);
  });

  it("a timed-out wait rejects with TIMEOUT holding the lock again", async () => {
    const cond = new Condition();
    const release = await cond.acquire();
    await expect(cond.wait({ timeout: 10 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(cond.lock.isLocked).toBe(true);
    expect(cond.waiting).toBe(0);
    release();
  });

  it("waitFor times out with TIMEOUT when the predicate stays false", async () => {
    const cond = new Condition();
    await expect(cond.runExclusive(() => cond.waitFor(() => false, { timeout: 15 }))).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    expect(cond.lock.isLocked).toBe(false);
  });

  it("an aborted wait rejects with ABORTED", async () => {
    const cond = new Condition();
    const ac = new AbortController();
    const p = cond.runExclusive(() => cond.wait({ signal: ac.signal }));
    await settle();
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: "ABORTED" });
    expect(cond.lock.isLocked).toBe(false);
  });

  it("wait and notify without the lock throw NOT_OWNER", async () => {
    const cond = new Condition();
    await expect(cond.wait()).rejects.toMatchObject({ code: "NOT_OWNER" });
    expect(() => cond.notify()).toThrow(expect.objectContaining({ code: "NOT_OWNER" }));
    expect(() => cond.notifyAll()).toThrow(expect.objectContaining({ code: "NOT_OWNER" }));
  });
});
