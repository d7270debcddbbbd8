import { describe, expect, it } from "vitest";
import { BoundedSemaphore, Semaphore } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Semaphore", () => {
  it("never lets more than `value` holders in at once", async () => {
    const sem = new Semaphore(3);
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        sem.runExclusive(async () => {
          inside++;
          most = Math.max(most, inside);
          await settle();
          inside--;
        }),
      ),
    );
    expect(most).toBe(3);
    expect(sem.value).toBe(3);
  });

  it("serves waiters in arrival order", async () => {
    const sem = new Semaphore(1);
    const first = await sem.acquire();
    const order: string[] = [];
    const ws = ["a", "b", "c"].map((n) =>
      sem.acquire().then((r) => {
        order.push(n);
        r();
      }),
    );
    await settle();
    first();
    await Promise.all(ws);
    expect(order).toEqual(["a", "b", "c"]);
  });

  it("tryAcquire takes a permit while one is free and never waits", () => {
    const sem = new Semaphore(2);
    const r1 = sem.tryAcquire();
    const r2 = sem.tryAcquire();
    expect(sem.tryAcquire()).toBeUndefined();
    expect(sem.value).toBe(0);
    r1!();
    r2!();
    expect(sem.value).toBe(2);
  });

  it("a plain release() beyond the start value adds a permit", () => {
    const sem = new Semaphore(0);
    sem.release();
    expect(sem.value).toBe(1);
  });

  it("passes a permit released during a timeout to the next waiter", async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const impatient = sem.acquire({ timeout: 5 });
    const patient = sem.acquire({ timeout: 5_000 });
    await expect(impatient).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(sem.waiting).toBe(1);
    held();
    (await patient)();
    expect(sem.value).toBe(1);
  });

  it("aborting a waiter removes it and keeps the count right", async () => {
    const sem = new Semaphore(0);
    const ac = new AbortController();
    const w = sem.acquire({ signal: ac.signal });
    ac.abort();
    await expect(w).rejects.toMatchObject({ code: "ABORTED" });
    expect(sem.waiting).toBe(0);
    sem.release();
    expect(sem.value).toBe(1);
  });

  it("rejects a negative or fractional value with INVALID_OPTION", () => {
    expect(() => new Semaphore(-1)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    expect(() => new Semaphore(1.5)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
  });
});

describe("BoundedSemaphore", () => {
  it("throws RELEASED_TOO_OFTEN on a release past its bound", async () => {
    const sem = new BoundedSemaphore(2, { name: "slots" });
    const r = await sem.acquire();
    r();
    expect(() => sem.release()).toThrow(
      expect.objectContaining({ code: "RELEASED_TOO_OFTEN", message: "slots released past its bound of 2" }),
    );
    expect(sem.value).toBe(2);
  });

  it("accepts every release that matches an acquire", async () => {
    const sem = new BoundedSemaphore(2);
    await sem.acquire();
    await sem.acquire();
    sem.release();
    sem.release();
    expect(sem.value).toBe(2);
  });
});
