import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue, LENGTH_PREFIXED_DEFAULTS, lengthPrefixed, ProtocolError } from "../src/index.js";
import { byteByByte, concat, decodeAll, feed, frames, splitAt, utf8 } from "./helpers.js";

const queueOf = (...bytes: number[]) => {
  const queue = new ByteQueue();
  queue.append(new Uint8Array(bytes));
  return queue;
};

const encodeAll = (payloads: Uint8Array[], max?: number) => {
  const codec = lengthPrefixed(max === undefined ? {} : { maxFrameBytes: max });
  return concat(...payloads.map((p) => codec.encode(p)));
};

describe("lengthPrefixed()", () => {
  it("writes a u32 big-endian length before the payload", () => {
    expect([...lengthPrefixed().encode(utf8("hi"))]).toEqual([0, 0, 0, 2, 0x68, 0x69]);
  });

  it("decodes two frames from one chunk, and an empty frame", () => {
    const a = utf8("hello");
    const bytes = encodeAll([a, new Uint8Array(0), utf8("x")]);
    expect(feed(lengthPrefixed(), [bytes])).toEqual(frames(a, new Uint8Array(0), utf8("x")));
  });

  it("decodes the same frames byte by byte and at every split point", () => {
    const payloads = [utf8("alpha"), utf8(""), new Uint8Array([0, 1, 2, 255])];
    const bytes = encodeAll(payloads);
    expect(feed(lengthPrefixed(), byteByByte(bytes))).toEqual(frames(...payloads));
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(feed(lengthPrefixed(), splitAt(bytes, [cut]))).toEqual(frames(...payloads));
    }
  });

  it("accepts a frame exactly at maxFrameBytes", () => {
    const p = new Uint8Array(16).fill(7);
    expect(feed(lengthPrefixed({ maxFrameBytes: 16 }), [encodeAll([p])])).toEqual(frames(p));
  });

  it("rejects a length one over maxFrameBytes before buffering the body, and stays failed", () => {
    const decoder = lengthPrefixed({ maxFrameBytes: 16 });
    const queue = queueOf(0, 0, 0, 17);
    let caught: unknown;
    try {
      decoder.decode(queue);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: "FRAME_TOO_LARGE", recoverable: false });
    expect(queue.size).toBe(0);
    queue.append(new Uint8Array(1));
    expect(() => decoder.decode(queue)).toThrow(expect.objectContaining({ code: "DECODER_FAILED" }));
  });

  it("rejects a hostile 4 GiB length after reading only its 4 bytes", () => {
    const decoder = lengthPrefixed();
    expect(() => decoder.decode(queueOf(0xff, 0xff, 0xff, 0xff, 1, 2, 3))).toThrow(
      expect.objectContaining({ code: "FRAME_TOO_LARGE" }),
    );
  });

  it("throws TRUNCATED when the stream ends mid-header or mid-body", () => {
    const mid = lengthPrefixed();
    const midQueue = queueOf(0, 0);
    expect(mid.decode(midQueue)).toBeUndefined();
    expect(() => mid.decodeEof(midQueue)).toThrow(expect.objectContaining({ code: "TRUNCATED" }));
    const body = lengthPrefixed();
    const bodyQueue = queueOf(0, 0, 0, 3, 1);
    expect(body.decode(bodyQueue)).toBeUndefined();
    expect(() => body.decodeEof(bodyQueue)).toThrow(expect.objectContaining({ code: "TRUNCATED" }));
  });

  it("refuses to encode a payload over the limit", () => {
    expect(() => lengthPrefixed({ maxFrameBytes: 2 }).encode(new Uint8Array(3))).toThrow(
      expect.objectContaining({ code: "FRAME_TOO_LARGE" }),
    );
  });

  it("validates maxFrameBytes", () => {
    expect(() => lengthPrefixed({ maxFrameBytes: -1 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTION" }),
    );
    expect(() => lengthPrefixed({ maxFrameBytes: 2 ** 32 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTION" }),
    );
    expect(LENGTH_PREFIXED_DEFAULTS.maxFrameBytes).toBe(16 * 1024 * 1024);
  });

  describe("properties", () => {
    it("any chunking of a valid stream gives the same frames", () => {
      fc.assert(
        fc.property(
          fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 15 }),
          fc.array(fc.nat(), { maxLength: 30 }),
          (payloads, cuts) => {
            const bytes = encodeAll(payloads);
            const chunks = splitAt(
              bytes,
              cuts.map((c) => c % (bytes.length + 1)),
            );
            expect(feed(lengthPrefixed(), chunks)).toEqual(frames(...payloads));
          },
        ),
      );
    });

    it("arbitrary bytes never throw anything but ProtocolError", () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 200 }),
          fc.array(fc.nat(), { maxLength: 10 }),
          (bytes, cuts) => {
            try {
              feed(
                lengthPrefixed({ maxFrameBytes: 32 }),
                splitAt(
                  bytes,
                  cuts.map((c) => c % (bytes.length + 1)),
                ),
              );
            } catch (err) {
              expect(err).toBeInstanceOf(ProtocolError);
            }
          },
        ),
      );
    });

    it("never holds more than one frame plus its header", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 64 }),
          fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }),
          fc.array(fc.nat(), { maxLength: 40 }),
          (max, payloads, cuts) => {
            const ok = payloads.filter((p) => p.length <= max);
            const bytes = encodeAll(ok, max);
            const decoder = lengthPrefixed({ maxFrameBytes: max });
            const queue = new ByteQueue();
            let peak = 0;
            for (const chunk of splitAt(
              bytes,
              cuts.map((c) => c % (bytes.length + 1)),
            )) {
              // What the reader holds between chunks: less than one frame and its header.
              decodeAll(decoder, queue, chunk);
              peak = Math.max(peak, queue.size);
            }
            expect(peak).toBeLessThanOrEqual(max + 4);
          },
        ),
      );
    });
  });

  it("streams 100 × limit bytes of frames while holding less than one frame", () => {
    const max = 1000;
    const codec = lengthPrefixed({ maxFrameBytes: max });
    const frame = codec.encode(new Uint8Array(max).fill(1));
    const decoder = lengthPrefixed({ maxFrameBytes: max });
    const queue = new ByteQueue();
    let count = 0;
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      for (let at = 0; at < frame.length; at += 333) {
        count += decodeAll(decoder, queue, frame.subarray(at, at + 333)).length;
        peak = Math.max(peak, queue.size);
      }
    }
    expect(count).toBe(100);
    expect(peak).toBeLessThan(max + 4);
  });
});
