import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { LowSpeedClock } from "../src/low-speed.js";

/** Polls `check` every 10 ms until it holds, for at most `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await sleep(10);
  }
}

describe("LowSpeedClock", () => {
  it("fires once a window of waiting moved less than the limit, with the bytes and the window", async () => {
    const fired: [number, number][] = [];
    const clock = new LowSpeedClock({ minBytesPerSecond: 1000, lowSpeedTimeMs: 200 }, (b, ms) =>
      fired.push([b, ms]),
    );
    clock.begin();
    clock.add(10);
    await until(() => fired.length > 0, 5_000);
    clock.end();
    clock.stop();
    expect(fired).toHaveLength(1);
    expect(fired[0]![0]).toBe(10);
    expect(fired[0]![1]).toBeGreaterThanOrEqual(200);
  }, 10_000);

  it("does not fire while enough bytes move, nor for time spent not waiting", async () => {
    let fired = false;
    const clock = new LowSpeedClock({ minBytesPerSecond: 1000, lowSpeedTimeMs: 100 }, () => {
      fired = true;
    });
    clock.begin();
    for (let i = 0; i < 5; i++) {
      clock.add(1000);
      await sleep(50);
    }
    clock.end();
    // Not waiting: 300 ms with nothing moved is our own time, not the peer's.
    await sleep(300);
    clock.stop();
    expect(fired).toBe(false);
  }, 10_000);

  it("a limit of 0 is off", async () => {
    let fired = false;
    const clock = new LowSpeedClock({ minBytesPerSecond: 0, lowSpeedTimeMs: 20 }, () => {
      fired = true;
    });
    clock.begin();
    await sleep(100);
    clock.stop();
    expect(fired).toBe(false);
  }, 10_000);
});

describe("LowSpeedClock options", () => {
  it("refuses a negative or NaN rate and a window of 0 or less with INVALID_OPTION, naming the option", () => {
    const make = (o: { minBytesPerSecond?: number; lowSpeedTimeMs?: number }) => () =>
      new LowSpeedClock(o, () => {});
    for (const rate of [-1, Number.NaN]) {
      expect(make({ minBytesPerSecond: rate })).toThrow(
        expect.objectContaining({
          code: "INVALID_OPTION",
          message: expect.stringContaining("minBytesPerSecond"),
        }),
      );
    }
    for (const ms of [0, -5, Number.NaN]) {
      expect(make({ lowSpeedTimeMs: ms })).toThrow(
        expect.objectContaining({
          code: "INVALID_OPTION",
          message: expect.stringContaining("lowSpeedTimeMs"),
        }),
      );
    }
    expect(make({ minBytesPerSecond: 0, lowSpeedTimeMs: Number.POSITIVE_INFINITY })).not.toThrow();
  });
});
