import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatPercent,
  formatRtt,
  formatSummary,
  lossPercent,
  type PingSummary,
  RttAccumulator,
} from "../src/index.js";

function summary(over: Partial<PingSummary> = {}): PingSummary {
  return {
    target: "127.0.0.1:5003",
    host: "127.0.0.1",
    port: 5003,
    sizeBytes: 64,
    transmitted: 10,
    received: 7,
    late: 0,
    duplicates: 0,
    reordered: 0,
    ignored: 0,
    errors: 0,
    lossPercent: 30,
    rtt: { minMs: 0.061, avgMs: 0.093, maxMs: 0.139, mdevMs: 0.024 },
    elapsedMs: 1803.4,
    ...over,
  };
}

describe("RTT statistics", () => {
  it("computes min/avg/max and mdev = sqrt(mean(rtt²) − mean(rtt)²) as iputils does", () => {
    const acc = new RttAccumulator();
    for (const rtt of [1, 2, 3, 4]) acc.add(rtt);
    const s = acc.stats()!;
    expect(s.minMs).toBe(1);
    expect(s.maxMs).toBe(4);
    expect(s.avgMs).toBe(2.5);
    expect(s.mdevMs).toBeCloseTo(Math.sqrt((1 + 4 + 9 + 16) / 4 - 2.5 ** 2), 12);
    expect(s.mdevMs).toBeCloseTo(1.118034, 6);
  });

  it("has no statistics before the first RTT, and mdev 0 for equal RTTs", () => {
    const acc = new RttAccumulator();
    expect(acc.stats()).toBeUndefined();
    for (let i = 0; i < 1000; i++) acc.add(0.1);
    expect(acc.stats()!.mdevMs).toBe(0);
  });

  it("matches a direct two-pass computation for any RTTs (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 5000, noNaN: true }), { minLength: 1, maxLength: 200 }),
        (rtts) => {
          const acc = new RttAccumulator();
          for (const r of rtts) acc.add(r);
          const s = acc.stats()!;
          const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
          const sd = Math.sqrt(rtts.reduce((a, b) => a + (b - avg) ** 2, 0) / rtts.length);
          expect(s.avgMs).toBeCloseTo(avg, 6);
          expect(s.minMs).toBe(Math.min(...rtts));
          expect(s.maxMs).toBe(Math.max(...rtts));
          expect(Math.abs(s.mdevMs - sd)).toBeLessThan(1e-4 * Math.max(1, avg));
        },
      ),
    );
  });
});

describe("summary arithmetic and format", () => {
  it("computes loss as 100 × (transmitted − received) / transmitted", () => {
    expect(lossPercent(10, 7)).toBe(30);
    expect(lossPercent(3, 2)).toBeCloseTo(33.3333, 4);
    expect(lossPercent(0, 0)).toBe(0);
    expect(lossPercent(5, 0)).toBe(100);
  });

  it("prints percentages as ping's %g does", () => {
    expect(formatPercent(30)).toBe("30");
    expect(formatPercent(100 / 3)).toBe("33.3333");
    expect(formatPercent(0)).toBe("0");
  });

  it("prints RTTs with iputils' precision", () => {
    expect(formatRtt(0.04512)).toBe("0.045");
    expect(formatRtt(1.234)).toBe("1.23");
    expect(formatRtt(12.34)).toBe("12.3");
    expect(formatRtt(123.4)).toBe("123");
  });

  it("prints the summary in the shape people know from ping", () => {
    expect(formatSummary(summary())).toEqual([
      "--- 127.0.0.1:5003 udp ping statistics ---",
      "10 packets transmitted, 7 received, 30% packet loss, time 1803ms",
      "rtt min/avg/max/mdev = 0.061/0.093/0.139/0.024 ms",
    ]);
  });

  it("adds duplicates, late, reordered, errors and ignored only when there are some", () => {
    const lines = formatSummary(
      summary({
        duplicates: 2,
        late: 1,
        reordered: 3,
        errors: 4,
        ignored: 5,
        received: 0,
        lossPercent: 100,
        rtt: undefined,
      }),
    );
    expect(lines).toEqual([
      "--- 127.0.0.1:5003 udp ping statistics ---",
      "10 packets transmitted, 0 received, +2 duplicates, +1 late, 3 out of order, +4 errors, 5 ignored, 100% packet loss, time 1803ms",
    ]);
  });
});
