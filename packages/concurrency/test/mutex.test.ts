import { isNetlabError } from "@netlab/core";
import { afterEach, describe, expect, it } from "vitest";
import { type ConcurrencyError, Event, Mutex, setDebug, task } from "../src/index.js";

/** Lets every queued promise callback run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Mutex", () => {
  afterEach(() => setDebug(false));

  it("lets one holder in at a time and serves waiters first come, first served", async () => {
    const mutex = new Mutex();
    const order: number[] = [];
    const release = await mutex.acquire();
    const waiters = [1, 2, 3].map((n) =>
      mutex.acquire().then((r) => {
        order.push(n);
        r();
      }),
    );
    await settle();
    expect(order).toEqual([]);
    expect(mutex.waiting).toBe(3);
    release();
    await Promise.all(waiters);
    expect(order).toEqual([1, 2, 3]);
    expect(mutex.isLocked).toBe(false);
  });

  it("tryAcquire takes a free lock and refuses a held one", () => {
    const mutex = new Mutex();
    const release = mutex.tryAcquire();
    expect(release).toBeTypeOf("function");
    expect(mutex.tryAcquire()).toBeUndefined();
    release!();
    expect(mutex.tryAcquire()).toBeTypeOf("function");
  });

  it("hands the lock to the oldest waiter so a late tryAcquire cannot barge in", async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    const waiter = mutex.acquire();
    release();
    expect(mutex.tryAcquire()).toBeUndefined();
    (await waiter)();
  });

  it("runExclusive serialises critical sections and releases on throw", async () => {
    const mutex = new Mutex();
    let counter = 0;
    const bump = () =>
      mutex.runExclusive(async () => {
        const seen = counter;
        await settle();
        counter = seen + 1;
      });
    await Promise.all(Array.from({ length: 20 }, bump));
    expect(counter).toBe(20);
    await expect(
      mutex.runExclusive(() => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(mutex.isLocked).toBe(false);
  });

  it("rejects a second call of the same release function with RELEASED_TOO_OFTEN", async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    release();
    expect(() => release()).toThrow(expect.objectContaining({ code: "RELEASED_TOO_OFTEN" }));
  });

  it("releases at the end of a using block", async () => {
    const mutex = new Mutex();
    {
      using _release = await mutex.acquire();
      expect(mutex.isLocked).toBe(true);
    }
    expect(mutex.isLocked).toBe(false);
  });

  it("times out with TIMEOUT and removes the waiter", async () => {
    const mutex = new Mutex({ name: "db" });
    const release = await mutex.acquire();
    const err = await mutex.acquire({ timeout: 20 }).catch((e: unknown) => e);
    expect((err as Error).name).toBe("ConcurrencyError");
    expect(isNetlabError(err, "TIMEOUT")).toBe(true);
    expect((err as Error).message).toBe("acquiring db timed out after 20 ms");
    expect(mutex.waiting).toBe(0);
    release();
    expect(mutex.isLocked).toBe(false);
  });

  it("timeout 0 acquires a free lock and fails at once on a held one", async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire({ timeout: 0 });
    await expect(mutex.acquire({ timeout: 0 })).rejects.toMatchObject({ code: "TIMEOUT" });
    release();
  });

  it("aborts with ABORTED carrying the signal's reason, and leaves no waiter behind", async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    const ac = new AbortController();
    const waiting = mutex.acquire({ signal: ac.signal });
    const reason = new Error("shutting down");
    ac.abort(reason);
    await expect(waiting).rejects.toMatchObject({ code: "ABORTED", cause: reason });
    expect(mutex.waiting).toBe(0);
    release();
    expect(mutex.isLocked).toBe(false);
  });

  it("never acquires with an already-aborted signal, even when free", async () => {
    const mutex = new Mutex();
    await expect(mutex.acquire({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORTED" });
    expect(mutex.isLocked).toBe(false);
  });

  it("gives a lock released to a timed-out waiter to the next one (no lost wake-up)", async () => {
    const mutex = new Mutex();
    const release = await mutex.acquire();
    const impatient = mutex.acquire({ timeout: 5 });
    const patient = mutex.acquire({ timeout: 5_000 });
    await expect(impatient).rejects.toMatchObject({ code: "TIMEOUT" });
    release();
    const r = await patient;
    expect(mutex.isLocked).toBe(true);
    r();
    expect(mutex.isLocked).toBe(false);
  });

  it("rejects (never throws) a negative or NaN timeout with INVALID_OPTION, free or held", async () => {
    const mutex = new Mutex();
    const free = mutex.acquire({ timeout: -1 });
    await expect(free).rejects.toMatchObject({ code: "INVALID_OPTION" });
    expect(mutex.isLocked).toBe(false);
    mutex.tryAcquire();
    await expect(mutex.acquire({ timeout: Number.NaN })).rejects.toMatchObject({ code: "INVALID_OPTION" });
    expect(mutex.waiting).toBe(0);
  });

  it("in debug mode names the cycle of a two-task deadlock", async () => {
    setDebug(true);
    const a = new Mutex({ name: "a" });
    const b = new Mutex({ name: "b" });
    const bothHold = new Event();
    let held = 0;
    const worker = (name: string, first: Mutex, second: Mutex, timeout: number) =>
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
    const [ra, rb] = await Promise.allSettled([worker("alice", a, b, 30), worker("bob", b, a, 5_000)]);
    expect(ra.status).toBe("rejected");
    const err = (ra as PromiseRejectedResult).reason as ConcurrencyError;
    expect(err.code).toBe("DEADLOCK");
    expect(err.message).toContain('task "alice" holds "a" and waits for "b"');
    expect(err.message).toContain('task "bob" holds "b" and waits for "a"');
    // Alice gave up and released "a", so Bob finished.
    expect(rb.status).toBe("fulfilled");
  });

  it("in debug mode reports re-acquiring a held mutex as a one-task deadlock", async () => {
    setDebug(true);
    const m = new Mutex({ name: "m" });
    await task("solo", async () => {
      const release = await m.acquire();
      await expect(m.acquire({ timeout: 10 })).rejects.toMatchObject({
        code: "DEADLOCK",
        message: expect.stringContaining('task "solo" holds "m" and waits for it again'),
      });
      release();
    });
  });

  it("without debug mode a deadlocked wait is a plain TIMEOUT", async () => {
    const m = new Mutex();
    const release = await m.acquire();
    await expect(m.acquire({ timeout: 10 })).rejects.toMatchObject({ code: "TIMEOUT" });
    release();
  });
});
