import { describe, expect, it } from "vitest";
import { NetworkEmulator, UdpError } from "../src/index.js";

/** Resolves when `cond()` holds, polling each 2 ms; fails after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("network emulator: decisions", () => {
  it("is perfect by default: every datagram once, at once", () => {
    const em = new NetworkEmulator({ seed: 1 });
    expect(em.isPerfect).toBe(true);
    for (let i = 0; i < 100; i++)
      expect(em.decide()).toEqual({ dropped: false, delaysMs: [0], reordered: false });
  });

  it("gives the same fates for the same seed", () => {
    const opts = { lossRate: 0.3, duplicateRate: 0.2, reorderRate: 0.1, delayMs: 10, jitterMs: 5, seed: 99 };
    const a = new NetworkEmulator(opts);
    const b = new NetworkEmulator(opts);
    const fa = Array.from({ length: 200 }, () => a.decide());
    expect(Array.from({ length: 200 }, () => b.decide())).toEqual(fa);
    expect(
      Array.from({ length: 200 }, () => new NetworkEmulator({ ...opts, seed: 100 }).decide()),
    ).not.toEqual(fa);
  });

  it("draws five numbers per datagram whatever its fate, so patterns stay aligned", () => {
    let draws = 0;
    const random = () => {
      draws++;
      return 0.5;
    };
    const em = new NetworkEmulator({ lossRate: 1, random });
    em.decide();
    expect(draws).toBe(5);
    new NetworkEmulator({ duplicateRate: 1, random }).decide();
    expect(draws).toBe(10);
  });

  it("drops, duplicates and reorders at the asked rates over 20,000 datagrams", () => {
    const em = new NetworkEmulator({ lossRate: 0.3, duplicateRate: 0.1, reorderRate: 0.05, seed: 7 });
    const n = 20_000;
    let dropped = 0;
    let duplicated = 0;
    let reordered = 0;
    for (let i = 0; i < n; i++) {
      const f = em.decide();
      if (f.dropped) dropped++;
      if (f.delaysMs.length === 2) duplicated++;
      if (f.reordered) reordered++;
    }
    // ± 4 standard deviations of a binomial count.
    const within = (count: number, p: number, of: number) =>
      Math.abs(count - p * of) <= 4 * Math.sqrt(of * p * (1 - p));
    expect(within(dropped, 0.3, n)).toBe(true);
    expect(within(duplicated, 0.1, n - dropped)).toBe(true);
    expect(within(reordered, 0.05, n - dropped)).toBe(true);
  });

  it("keeps each delay within delayMs ± jitterMs and never below zero", () => {
    const em = new NetworkEmulator({ delayMs: 20, jitterMs: 5, duplicateRate: 0.5, seed: 3 });
    const small = new NetworkEmulator({ delayMs: 2, jitterMs: 10, seed: 3 });
    let sawZero = false;
    for (let i = 0; i < 2000; i++) {
      for (const d of em.decide().delaysMs) expect(d >= 15 && d <= 25).toBe(true);
      for (const d of small.decide().delaysMs) {
        expect(d).toBeGreaterThanOrEqual(0);
        if (d === 0) sawZero = true;
      }
    }
    expect(sawZero).toBe(true);
  });

  it("changes rates at run time with configure(), keeping the generator's sequence", () => {
    const a = new NetworkEmulator({ seed: 5 });
    const b = new NetworkEmulator({ seed: 5, lossRate: 1 });
    expect(a.decide().dropped).toBe(false);
    b.decide();
    a.configure({ lossRate: 1 });
    expect(a.options.lossRate).toBe(1);
    expect(a.isPerfect).toBe(false);
    expect(a.decide()).toEqual(b.decide());
    expect(() => a.configure({ lossRate: 2 })).toThrow(UdpError);
    expect(a.options.lossRate).toBe(1);
  });

  it("rejects rates outside 0–1 and negative times with INVALID_OPTION", () => {
    for (const bad of [
      { lossRate: 1.5 },
      { duplicateRate: -0.1 },
      { reorderRate: Number.NaN },
      { delayMs: -1 },
      { jitterMs: -5 },
    ]) {
      expect(() => new NetworkEmulator(bad)).toThrow(UdpError);
    }
    expect(() => new NetworkEmulator({ lossRate: 2 })).toThrow(/lossRate must be between 0 and 1, got 2/);
  });
});

describe("network emulator: scheduling", () => {
  it("sends at once when there is nothing to emulate", () => {
    const em = new NetworkEmulator();
    let sent = 0;
    em.submit(() => sent++);
    expect(sent).toBe(1);
  });

  it("delays sends by delayMs", async () => {
    const em = new NetworkEmulator({ delayMs: 30 });
    const start = performance.now();
    let at = 0;
    em.submit(() => {
      at = performance.now();
    });
    expect(at).toBe(0);
    await until(() => at > 0);
    expect(at - start).toBeGreaterThanOrEqual(29);
    em.close();
  });

  it("sends a duplicated datagram twice", async () => {
    const em = new NetworkEmulator({ duplicateRate: 1 });
    let sent = 0;
    em.submit(() => sent++);
    expect(sent).toBe(2);
  });

  it("holds a reordered datagram until the next one has gone out", () => {
    let reorderNext = true;
    const em = new NetworkEmulator({ reorderRate: 0.5, random: () => (reorderNext ? 0.1 : 0.9) });
    const order: string[] = [];
    em.submit(() => order.push("first"));
    expect(order).toEqual([]);
    expect(em.heldCount).toBe(1);
    reorderNext = false;
    em.submit(() => order.push("second"));
    expect(order).toEqual(["second", "first"]);
    expect(em.heldCount).toBe(0);
  });

  it("lets a held datagram go after reorderHoldMs when no other comes", async () => {
    const em = new NetworkEmulator({ reorderRate: 1, reorderHoldMs: 20 });
    let sent = 0;
    em.submit(() => sent++);
    expect(sent).toBe(0);
    await until(() => sent === 1);
    expect(em.heldCount).toBe(0);
  });

  it("cancels scheduled and held sends on close", async () => {
    const em = new NetworkEmulator({ delayMs: 10 });
    const held = new NetworkEmulator({ reorderRate: 1, reorderHoldMs: 10 });
    let sent = 0;
    em.submit(() => sent++);
    held.submit(() => sent++);
    em.close();
    held.close();
    // Proving that nothing happens needs a bounded wait: well past both 10 ms deadlines.
    await new Promise((r) => setTimeout(r, 40));
    expect(sent).toBe(0);
  });
});

describe("network emulator: a queue bounded in bytes (#13)", () => {
  it("#13: drops and counts what does not fit in maxQueuedBytes while delayed copies wait", async () => {
    const em = new NetworkEmulator({ delayMs: 50, maxQueuedBytes: 3 * 1000, seed: 1 });
    let sent = 0;
    const fates = Array.from({ length: 10 }, () => em.submit(() => sent++, 1000));
    expect(fates.filter((f) => f.queueFull)).toHaveLength(7);
    expect(fates[3]).toEqual({ dropped: true, delaysMs: [], reordered: false, queueFull: true });
    expect(em.queuedBytes).toBe(3000);
    expect(em.peakQueuedBytes).toBe(3000);
    expect(em.queueDrops).toBe(7);
    await until(() => sent === 3);
    expect(em.queuedBytes).toBe(0);
    // Room again once the queue has drained.
    expect(em.submit(() => sent++, 1000).queueFull).toBeUndefined();
    em.close();
  });

  it("#13: counts both copies of a duplicate and held-back datagrams against the bound", () => {
    const dup = new NetworkEmulator({ delayMs: 1000, duplicateRate: 1, maxQueuedBytes: 1500, seed: 1 });
    expect(dup.submit(() => {}, 1000).queueFull).toBe(true);
    expect(dup.submit(() => {}, 700).queueFull).toBeUndefined();
    expect(dup.queuedBytes).toBe(1400);
    dup.close();
    expect(dup.queuedBytes).toBe(0);

    const held = new NetworkEmulator({ reorderRate: 1, maxQueuedBytes: 1000, seed: 1 });
    held.submit(() => {}, 600);
    expect(held.heldCount).toBe(1);
    expect(held.submit(() => {}, 600).queueFull).toBe(true);
    held.close();
  });

  it("never queues what goes out at once, whatever maxQueuedBytes", () => {
    const em = new NetworkEmulator({ lossRate: 0.5, maxQueuedBytes: 0, seed: 3 });
    let sent = 0;
    for (let i = 0; i < 100; i++) em.submit(() => sent++, 65_507);
    expect(em.queueDrops).toBe(0);
    expect(sent).toBeGreaterThan(0);
  });

  it("rejects a negative maxQueuedBytes with INVALID_OPTION", () => {
    expect(() => new NetworkEmulator({ maxQueuedBytes: -1 })).toThrow(UdpError);
  });
});
