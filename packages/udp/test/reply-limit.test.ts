import { describe, expect, it } from "vitest";
import { REPLY_HEADER_BYTES, REPLY_LIMIT_DEFAULTS, ReplyLimiter } from "../src/index.js";

/** A limiter on a clock the test moves. */
function limiter(options: ConstructorParameters<typeof ReplyLimiter>[0]) {
  const clock = { ms: 0 };
  return { clock, limiter: new ReplyLimiter(options, () => clock.ms) };
}

describe("ReplyLimiter", () => {
  it("lets one source have its burst, then refuses until the rate refills it", () => {
    // 10 datagrams of 72 payload bytes = 1 000 bytes with headers: exactly the burst.
    const { clock, limiter: l } = limiter({ maxReplyBytesPerSecond: 1_000, replyBurstBytes: 1_000 });
    const size = 100 - REPLY_HEADER_BYTES;
    for (let i = 0; i < 10; i++) expect(l.allow("203.0.113.7", size), `datagram ${i + 1}`).toBe(true);
    expect(l.allow("203.0.113.7", size)).toBe(false);
    clock.ms = 99;
    expect(l.allow("203.0.113.7", size)).toBe(false);
    clock.ms = 100;
    expect(l.allow("203.0.113.7", size)).toBe(true);
    expect(l.allow("203.0.113.7", size)).toBe(false);
  });

  it("charges the 28 header bytes, so a flood of empty datagrams is bounded too", () => {
    const { limiter: l } = limiter({ maxReplyBytesPerSecond: 1_000, replyBurstBytes: 280 });
    let sent = 0;
    for (let i = 0; i < 1_000; i++) if (l.allow("198.51.100.1", 0)) sent++;
    expect(sent).toBe(10);
  });

  it("keeps each source's budget apart, and counts an IPv6 /64 as one source", () => {
    const { limiter: l } = limiter({ maxReplyBytesPerSecond: 1_000, replyBurstBytes: 500 });
    expect(l.allow("203.0.113.7", 500 - REPLY_HEADER_BYTES)).toBe(true);
    expect(l.allow("203.0.113.7", 0)).toBe(false);
    expect(l.allow("203.0.113.8", 500 - REPLY_HEADER_BYTES)).toBe(true);
    expect(l.allow("2001:db8:1:2::1", 500 - REPLY_HEADER_BYTES)).toBe(true);
    expect(l.allow("2001:db8:1:2:ffff::9", 0)).toBe(false);
    expect(l.allow("2001:db8:1:3::1", 0)).toBe(true);
    // An IPv4 source seen on a dual-stack socket is the same source.
    expect(l.allow("::ffff:203.0.113.7", 0)).toBe(false);
  });

  it("exempts loopback sources unless limitLoopback", () => {
    const { limiter: free } = limiter({ maxReplyBytesPerSecond: 1, replyBurstBytes: 1 });
    for (const address of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
      expect(free.allow(address, 60_000), address).toBe(true);
    expect(free.size).toBe(0);
    // Look-alikes that are not loopback are limited: the first one refused uses up the burst.
    for (const address of ["12.7.0.1", "::10", "::1:2", "::ffff:10.127.0.1", "1270::1"])
      expect(free.allow(address, 60_000), address).toBe(false);
    const { limiter: strict } = limiter({
      maxReplyBytesPerSecond: 1,
      replyBurstBytes: 100,
      limitLoopback: true,
    });
    expect(strict.allow("127.0.0.1", 60_000)).toBe(false);
  });

  it("holds at most maxReplySources, forgetting the one heard from least recently", () => {
    const { limiter: l } = limiter({
      maxReplyBytesPerSecond: 1_000,
      replyBurstBytes: 100,
      maxReplySources: 3,
    });
    for (const a of ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
      expect(l.allow(a, 100 - REPLY_HEADER_BYTES)).toBe(true);
    expect(l.allow("192.0.2.1", 0)).toBe(false); // now the most recent; 192.0.2.2 the least
    expect(l.allow("192.0.2.4", 0)).toBe(true);
    expect(l.size).toBe(3);
    expect(l.allow("192.0.2.1", 0)).toBe(false); // still remembered, still empty
    expect(l.allow("192.0.2.2", 0)).toBe(true); // forgotten: a fresh burst
  });

  it("Infinity is no limit; defaults are 256 KiB/s with a 512 KiB burst", () => {
    const { limiter: l } = limiter({ maxReplyBytesPerSecond: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 100; i++) expect(l.allow("203.0.113.7", 65_507)).toBe(true);
    expect(new ReplyLimiter().options).toEqual({ ...REPLY_LIMIT_DEFAULTS });
    expect(REPLY_LIMIT_DEFAULTS).toMatchObject({ maxReplyBytesPerSecond: 262_144, replyBurstBytes: 524_288 });
  });

  it("refuses a rate, burst or table size that is not a positive integer with INVALID_OPTION", () => {
    for (const bad of [
      { maxReplyBytesPerSecond: 0 },
      { maxReplyBytesPerSecond: Number.NaN },
      { replyBurstBytes: -1 },
      { replyBurstBytes: Number.POSITIVE_INFINITY },
      { maxReplySources: 0 },
    ]) {
      expect(() => new ReplyLimiter(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({
          code: "INVALID_OPTION",
          message: expect.stringContaining(Object.keys(bad)[0]!),
        }),
      );
    }
  });
});
