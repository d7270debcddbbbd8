import { describe, expect, it } from "vitest";
import { Mutex, Semaphore, withLocks } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("withLocks", () => {
  it("takes locks in one global order, so opposite orders cannot deadlock", async () => {
    const a = new Mutex({ name: "a" });
    const b = new Mutex({ name: "b" });
    let done = 0;
    const job = (locks: Mutex[]) =>
      withLocks(
        locks,
        async () => {
          await settle();
          done++;
        },
        { timeout: 5_000 },
      );
    await Promise.all(Array.from({ length: 20 }, (_, i) => job(i % 2 ? [a, b] : [b, a])));
    expect(done).toBe(20);
    expect(a.isLocked || b.isLocked).toBe(false);
  });

  it("releases every lock when fn throws", async () => {
    const a = new Mutex();
    const s = new Semaphore(1);
    await expect(
      withLocks([a, s], () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(a.isLocked).toBe(false);
    expect(s.value).toBe(1);
  });

  it("releases the locks already taken when a later one times out", async () => {
    const a = new Mutex();
    const b = new Mutex();
    await withLocks([a, b], () => undefined); // fixes the order: a before b
    const hold = await b.acquire();
    await expect(withLocks([a, b], () => undefined, { timeout: 10 })).rejects.toMatchObject({
      code: "TIMEOUT",
    });
    expect(a.isLocked).toBe(false);
    hold();
  });

  it("takes a lock listed twice once", async () => {
    const a = new Mutex();
    expect(await withLocks([a, a], () => a.isLocked, { timeout: 100 })).toBe(true);
  });
});
