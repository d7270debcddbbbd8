import { describe, expect, it } from "vitest";
import { Event } from "../src/index.js";

describe("Event", () => {
  it("wakes every waiter on set and lets later waiters straight through", async () => {
    const ev = new Event();
    const woke: number[] = [];
    const ws = [1, 2, 3].map((n) => ev.wait().then(() => woke.push(n)));
    expect(ev.waiting).toBe(3);
    ev.set();
    await Promise.all(ws);
    expect(woke).toEqual([1, 2, 3]);
    expect(ev.isSet()).toBe(true);
    await ev.wait({ timeout: 0 });
  });

  it("blocks again after clear", async () => {
    const ev = new Event();
    ev.set();
    ev.clear();
    expect(ev.isSet()).toBe(false);
    await expect(ev.wait({ timeout: 10 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(ev.waiting).toBe(0);
  });

  it("rejects with ABORTED when the signal fires and forgets the waiter", async () => {
    const ev = new Event();
    const ac = new AbortController();
    const w = ev.wait({ signal: ac.signal });
    ac.abort("stop");
    await expect(w).rejects.toMatchObject({ code: "ABORTED", cause: "stop" });
    expect(ev.waiting).toBe(0);
  });

  it("setting twice is harmless", async () => {
    const ev = new Event();
    ev.set();
    ev.set();
    await ev.wait();
    expect(ev.isSet()).toBe(true);
  });
});
