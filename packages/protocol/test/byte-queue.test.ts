import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue } from "../src/index.js";

describe("ByteQueue", () => {
  it("takes across chunk boundaries in order", () => {
    const q = new ByteQueue();
    q.append(new Uint8Array([1, 2]));
    q.append(new Uint8Array([3]));
    q.append(new Uint8Array([4, 5, 6]));
    expect([...q.take(4)]).toEqual([1, 2, 3, 4]);
    expect(q.size).toBe(2);
    expect([...q.takeAll()]).toEqual([5, 6]);
  });

  it("reads a big-endian u32", () => {
    const q = new ByteQueue();
    q.append(new Uint8Array([0x12, 0x34]));
    q.append(new Uint8Array([0x56, 0x78]));
    expect(q.takeUint32BE()).toBe(0x12345678);
  });

  it("finds a byte and reads one across chunks, after a partial take, as one array would", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 8 }), { maxLength: 8 }),
        fc.nat(),
        fc.nat(),
        (chunks, skip, from) => {
          const q = new ByteQueue();
          for (const c of chunks) q.append(c);
          const all = Buffer.concat(chunks).subarray(Math.min(skip % 5, q.size));
          q.take(Math.min(skip % 5, q.size));
          for (const byte of [0, 1, 7]) expect(q.indexOf(byte, from % 40)).toBe(all.indexOf(byte, from % 40));
          for (let i = 0; i < all.length; i++) expect(q.byteAt(i)).toBe(all[i]);
        },
      ),
    );
  });

  it("refuses to take more than it holds", () => {
    expect(() => new ByteQueue().take(1)).toThrow(RangeError);
  });

  it("gives back exactly the bytes appended, for any chunking and any takes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 20 }),
        fc.array(fc.nat(25), { maxLength: 30 }),
        (chunks, takes) => {
          const q = new ByteQueue();
          for (const c of chunks) q.append(c);
          const all = chunks.flatMap((c) => [...c]);
          const got: number[] = [];
          for (const t of takes) {
            const n = Math.min(t, q.size);
            if (t % 3 === 0) {
              q.discard(n);
              got.push(...all.slice(got.length, got.length + n));
            } else got.push(...q.take(n));
          }
          got.push(...q.takeAll());
          expect(got).toEqual(all);
        },
      ),
    );
  });
});
