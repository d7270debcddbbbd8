import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeHeader, MAX_HEADER_BYTES, parseHeader, TransferError } from "../src/index.js";

describe("headers", () => {
  it("encode as a u32 big-endian length then UTF-8 JSON", () => {
    const bytes = encodeHeader({ op: "list", v: 1 });
    const json = '{"op":"list","v":1}';
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0)).toBe(json.length);
    expect(Buffer.from(bytes.subarray(4)).toString()).toBe(json);
  });

  it("fill in defaults when parsing a put", () => {
    const h = parseHeader(Buffer.from('{"op":"put","v":1,"name":"a","size":3}'));
    expect(h).toEqual({ op: "put", v: 1, name: "a", size: 3, overwrite: false, resume: false, verify: true });
  });

  it("accept a file dated before 1970 (a negative mtimeMs) but not one a Date cannot hold", () => {
    const old = parseHeader(Buffer.from('{"op":"file","name":"a","size":1,"offset":0,"mtimeMs":-86400000}'));
    expect(old).toMatchObject({ op: "file", mtimeMs: -86_400_000 });
    expect(() =>
      parseHeader(Buffer.from('{"op":"file","name":"a","size":1,"offset":0,"mtimeMs":-9e15}')),
    ).toThrow("mtimeMs");
  });

  it.each([
    ['{"op":"put","v":1,"name":"a","size":-1}', "size"],
    ['{"op":"put","v":1,"name":"a","size":1.5}', "size"],
    ['{"op":"get","v":1,"name":""}', "name"],
    ['{"op":"end","sha256":"XYZ"}', "sha256"],
    ['{"op":"nope"}', "op"],
    ['{"op":"put","v":2,"name":"a","size":1}', "v"],
    ["not json", "not UTF-8 JSON"],
  ])("refuse %s with BAD_REQUEST naming the problem", (text, what) => {
    expect(() => parseHeader(Buffer.from(text))).toThrow(TransferError);
    expect(() => parseHeader(Buffer.from(text))).toThrow(what);
  });

  it("round-trip every valid header and never crash on junk (property)", () => {
    const sha = fc.stringMatching(/^[0-9a-f]{64}$/);
    const header = fc.oneof(
      fc.record({
        op: fc.constant("put" as const),
        v: fc.constant(1 as const),
        name: fc.string({ minLength: 1, maxLength: 50 }),
        size: fc.maxSafeNat(),
        overwrite: fc.boolean(),
        resume: fc.boolean(),
        verify: fc.boolean(),
      }),
      fc.record({ op: fc.constant("end" as const), sha256: sha }),
      fc.record({ op: fc.constant("accept" as const), offset: fc.maxSafeNat(), prefixSha256: sha }),
    );
    fc.assert(
      fc.property(header, (h) => {
        const bytes = encodeHeader(h);
        expect(bytes.length).toBeLessThanOrEqual(MAX_HEADER_BYTES + 4);
        expect(parseHeader(bytes.subarray(4))).toEqual(h);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
        try {
          parseHeader(junk);
        } catch (err) {
          expect(err).toBeInstanceOf(TransferError);
        }
      }),
    );
  });
});
