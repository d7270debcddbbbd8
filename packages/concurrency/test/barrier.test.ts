import { describe, expect, it } from "vitest";
import { Barrier } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Barrier", () => {
  it("releases all parties together with distinct arrival indexes", async () => {
    const barrier = new Barrier(3);
    let passed = 0;
    const ps = [0, 1, 2].map(async () => {
      const i = await barrier.wait({ timeout: 5_000 });
      passed++;
      return i;
    });
    const indexes = await Promise.all(ps);
    expect(indexes).toEqual([0, 1, 2]);
    expect(passed).toBe(3);
  });

  it("holds the first parties until the last arrives", async () => {
    const barrier = new Barrier(2);
    let through = false;
    const first = barrier.wait().then(() => {
      through = true;
    });
    await settle();
    expect(through).toBe(false);
    expect(barrier.waiting).toBe(1);
    await barrier.wait();
    await first;
    expect(through).toBe(true);
  });

  it("is reusable round after round and runs the action once per round", async () => {
    let actions = 0;
    const barrier = new Barrier(2, { action: () => actions++ });
    for (let round = 0; round < 3; round++) await Promise.all([barrier.wait(), barrier.wait()]);
    expect(actions).toBe(3);
  });

  it("abort breaks it: waiters and later waits reject with BROKEN_BARRIER", async () => {
    const barrier = new Barrier(3);
    const w = barrier.wait();
    barrier.abort();
    await expect(w).rejects.toMatchObject({ code: "BROKEN_BARRIER" });
    await expect(barrier.wait()).rejects.toMatchObject({ code: "BROKEN_BARRIER" });
    expect(barrier.broken).toBe(true);
  });

  it("a timed-out party breaks the barrier for the others", async () => {
    const barrier = new Barrier(3);
    const patient = barrier.wait({ timeout: 5_000 });
    const impatient = barrier.wait({ timeout: 10 });
    await expect(impatient).rejects.toMatchObject({ code: "TIMEOUT" });
    await expect(patient).rejects.toMatchObject({ code: "BROKEN_BARRIER" });
  });

  it("a party arriving with an aborted signal breaks it instead of completing the round", async () => {
    const barrier = new Barrier(2);
    const first = barrier.wait();
    await expect(barrier.wait({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: "ABORTED" });
    await expect(first).rejects.toMatchObject({ code: "BROKEN_BARRIER" });
  });

  it("reset breaks the current round and makes it usable again", async () => {
    const barrier = new Barrier(2);
    const w = barrier.wait();
    barrier.reset();
    await expect(w).rejects.toMatchObject({ code: "BROKEN_BARRIER" });
    expect(barrier.broken).toBe(false);
    await Promise.all([barrier.wait(), barrier.wait()]);
  });

  it("rejects parties < 1 with INVALID_OPTION", () => {
    expect(() => new Barrier(0)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
  });
});
