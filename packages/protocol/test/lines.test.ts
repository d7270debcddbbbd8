import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ByteQueue, LINE_DEFAULTS, lines, ProtocolError } from "../src/index.js";
import { byteByByte, concat, decodeAll, feed, frames, splitAt, utf8 } from "./helpers.js";

describe("lines()", () => {
  it("decodes LF and CRLF lines from one chunk", () => {
    expect(feed(lines(), [utf8("a\r\nbc\n\ndef\n")])).toEqual(frames("a", "bc", "", "def"));
  });

  it("decodes the same lines byte by byte", () => {
    expect(feed(lines(), byteByByte(utf8("héllo\r\nwörld\n")))).toEqual(frames("héllo", "wörld"));
  });

  it("decodes the same lines at every split point", () => {
    const bytes = utf8("one\ntwo\r\nthree 🎉\n");
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(feed(lines(), splitAt(bytes, [cut]))).toEqual(frames("one", "two", "three 🎉"));
    }
  });

  it("returns an unterminated last line at end()", () => {
    expect(feed(lines(), [utf8("a\nlast")])).toEqual(frames("a", "last"));
  });

  it("keeps a lone CR inside a line and strips only the one before LF", () => {
    expect(feed(lines(), [utf8("a\rb\r\r\n")])).toEqual(frames("a\rb\r"));
  });

  it("accepts a line exactly at maxLineBytes, with LF or CRLF", () => {
    const max = 8;
    const line = "x".repeat(max);
    expect(feed(lines({ maxLineBytes: max }), [utf8(`${line}\n${line}\r\n`)])).toEqual(frames(line, line));
    expect(feed(lines({ maxLineBytes: max }), byteByByte(utf8(`${line}\r\n`)))).toEqual(frames(line));
  });

  it("rejects a line one byte over maxLineBytes and decodes the next one", () => {
    const max = 8;
    const input = utf8(`${"y".repeat(max + 1)}\nok\n`);
    const expected = [{ error: "FRAME_TOO_LARGE" }, { frame: "ok" }];
    expect(feed(lines({ maxLineBytes: max }), [input])).toEqual(expected);
    expect(feed(lines({ maxLineBytes: max }), byteByByte(input))).toEqual(expected);
  });

  it("keeps the frames before an error in the same chunk", () => {
    expect(feed(lines({ maxLineBytes: 3 }), [utf8("ab\nlong line\ncd\n")])).toEqual([
      { frame: "ab" },
      { error: "FRAME_TOO_LARGE" },
      { frame: "cd" },
    ]);
  });

  it("reports invalid UTF-8 and goes on with the next line", () => {
    const input = concat(utf8("ok\n"), new Uint8Array([0xff, 0xfe, 0x0a]), utf8("next\n"));
    expect(feed(lines(), [input])).toEqual([{ frame: "ok" }, { error: "INVALID_UTF8" }, { frame: "next" }]);
  });

  it("rejects an overlong UTF-8 encoding and a lone surrogate", () => {
    const overlong = new Uint8Array([0xc0, 0xaf, 0x0a]);
    const surrogate = new Uint8Array([0xed, 0xa0, 0x80, 0x0a]);
    expect(feed(lines(), [overlong, surrogate])).toEqual([
      { error: "INVALID_UTF8" },
      { error: "INVALID_UTF8" },
    ]);
  });

  it("fails as soon as the limit is passed, before any newline arrives", () => {
    const decoder = lines({ maxLineBytes: 4 });
    const queue = new ByteQueue();
    expect(decodeAll(decoder, queue, utf8("abcd"))).toEqual([]);
    queue.append(utf8("ef"));
    expect(() => decoder.decode(queue)).toThrow(ProtocolError);
    expect(queue.size).toBe(0);
    expect(decodeAll(decoder, queue, utf8("still the same line\nnext\n"))).toEqual(frames("next"));
  });

  it("encodes with LF, or CRLF when asked", () => {
    const dec = new TextDecoder();
    expect(dec.decode(lines().encode("hi"))).toBe("hi\n");
    expect(dec.decode(lines({ crlf: true }).encode("hi"))).toBe("hi\r\n");
  });

  it("refuses to encode a line with a newline or over the limit", () => {
    expect(() => lines().encode("a\nb")).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
    expect(() => lines({ maxLineBytes: 2 }).encode("abc")).toThrow(
      expect.objectContaining({ code: "FRAME_TOO_LARGE" }),
    );
  });

  it("rejects a non-positive maxLineBytes with INVALID_OPTION", () => {
    expect(() => lines({ maxLineBytes: 0 })).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    expect(() => lines({ maxLineBytes: 1.5 })).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
  });

  it("defaults to 64 KiB lines", () => {
    expect(LINE_DEFAULTS.maxLineBytes).toBe(65536);
  });

  describe("properties", () => {
    const line = fc
      .string({ unit: "grapheme", maxLength: 40 })
      .filter((s) => !s.includes("\n") && !s.includes("\r"));

    it("any chunking of a valid stream gives the same lines", () => {
      fc.assert(
        fc.property(
          fc.array(line, { maxLength: 20 }),
          fc.boolean(),
          fc.array(fc.nat(), { maxLength: 30 }),
          (ls, crlf, cuts) => {
            const bytes = utf8(ls.map((l) => `${l}${crlf ? "\r\n" : "\n"}`).join(""));
            const expected = frames(...ls);
            expect(
              feed(
                lines(),
                splitAt(
                  bytes,
                  cuts.map((c) => c % (bytes.length + 1)),
                ),
              ),
            ).toEqual(expected);
          },
        ),
      );
    });

    it("arbitrary bytes never throw anything but ProtocolError, and chunking does not change the outcome", () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 300 }),
          fc.array(fc.nat(), { maxLength: 20 }),
          (bytes, cuts) => {
            const run = (chunks: Uint8Array[]) => {
              try {
                return feed(lines({ maxLineBytes: 16 }), chunks);
              } catch (err) {
                expect(err).toBeInstanceOf(ProtocolError);
                return (err as ProtocolError).code;
              }
            };
            const whole = run([bytes]);
            expect(
              run(
                splitAt(
                  bytes,
                  cuts.map((c) => c % (bytes.length + 1)),
                ),
              ),
            ).toEqual(whole);
            expect(run(byteByByte(bytes))).toEqual(whole);
          },
        ),
      );
    });

    it("never holds more than about one limit of bytes, whatever the stream", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 64 }),
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 50 }), { minLength: 1, maxLength: 60 }),
          (max, chunks) => {
            const decoder = lines({ maxLineBytes: max });
            const queue = new ByteQueue();
            for (const chunk of chunks) {
              decodeAll(decoder, queue, chunk);
              // Held between chunks (so at most this plus one chunk while one is decoded): never
              // more than the limit, +1 for a CR.
              expect(queue.size).toBeLessThanOrEqual(max + 1);
            }
          },
        ),
      );
    });
  });

  it("holds at most one limit while 100 × limit bytes without a newline stream through", () => {
    const max = 1024;
    const decoder = lines({ maxLineBytes: max });
    const queue = new ByteQueue();
    const chunk = new Uint8Array(97).fill(0x61);
    let errors = 0;
    let peak = 0;
    for (let sent = 0; sent < 100 * max; sent += chunk.length) {
      for (const item of decodeAll(decoder, queue, chunk)) {
        expect(item).toEqual({ error: "FRAME_TOO_LARGE" });
        errors++;
      }
      peak = Math.max(peak, queue.size);
    }
    expect(errors).toBe(1);
    expect(peak).toBeLessThanOrEqual(max + 1);
    expect(decodeAll(decoder, queue, utf8("\nafter\n"))).toEqual(frames("after"));
  });
});
