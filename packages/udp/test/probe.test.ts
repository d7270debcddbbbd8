import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeProbe,
  encodeProbe,
  MAX_UDP_PAYLOAD_BYTES,
  PROBE_HEADER_BYTES,
  UdpError,
} from "../src/index.js";

describe("probe format", () => {
  it("encodes to exactly the asked size and decodes back", () => {
    const probe = { sessionId: 0xdeadbeef, seq: 42, sentAt: 1_700_000_000_123.456 };
    for (const size of [PROBE_HEADER_BYTES, 21, 64, 1472, MAX_UDP_PAYLOAD_BYTES]) {
      const packet = encodeProbe(probe, size);
      expect(packet.length).toBe(size);
      expect(decodeProbe(packet)).toEqual(probe);
    }
  });

  it("refuses sizes below the header and above the largest UDP payload", () => {
    const probe = { sessionId: 1, seq: 0, sentAt: 0 };
    expect(() => encodeProbe(probe, PROBE_HEADER_BYTES - 1)).toThrow(UdpError);
    expect(() => encodeProbe(probe, MAX_UDP_PAYLOAD_BYTES + 1)).toThrow(/65507/);
    expect(() => encodeProbe(probe, 64.5)).toThrow(/integer/);
  });

  it("says why a datagram is not a probe: short, wrong magic, mangled padding", () => {
    const packet = encodeProbe({ sessionId: 1, seq: 2, sentAt: 3 }, 64);
    expect(decodeProbe(packet.subarray(0, PROBE_HEADER_BYTES - 1))).toBe("short");
    expect(decodeProbe(Buffer.from("hello world, this is not a probe"))).toBe("magic");
    const mangled = Buffer.from(packet);
    mangled[40] = mangled[40]! ^ 0xff;
    expect(decodeProbe(mangled)).toBe("padding");
  });

  it("decodes a probe inside a larger buffer (a subarray with an offset)", () => {
    const packet = encodeProbe({ sessionId: 9, seq: 8, sentAt: 7 }, 32);
    const big = Buffer.concat([Buffer.alloc(5), packet]);
    expect(decodeProbe(big.subarray(5))).toEqual({ sessionId: 9, seq: 8, sentAt: 7 });
  });

  it("round-trips any session, seq, time and size (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.integer({ min: 0, max: 0xffff_ffff }),
        fc.double({ min: 0, max: 4e12, noNaN: true }),
        fc.integer({ min: PROBE_HEADER_BYTES, max: 2048 }),
        (sessionId, seq, sentAt, size) => {
          expect(decodeProbe(encodeProbe({ sessionId, seq, sentAt }, size))).toEqual({
            sessionId,
            seq,
            sentAt,
          });
        },
      ),
    );
  });

  it("never throws on arbitrary bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decodeProbe(bytes);
        expect(typeof result === "string" || typeof result === "object").toBe(true);
      }),
    );
  });
});
