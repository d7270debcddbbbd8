import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ByteQueue, json, ProtocolError } from "../src/index.js";
import { byteByByte, feed, utf8 } from "./helpers.js";

const Hello = z.object({ type: z.literal("hello"), proto: z.literal(1), nick: z.string().min(1).max(32) });
type Hello = z.infer<typeof Hello>;

describe("json()", () => {
  it("decodes NDJSON objects that pass the schema", () => {
    const input = utf8(
      '{"type":"hello","proto":1,"nick":"alice"}\r\n{"type":"hello","proto":1,"nick":"bob"}\n',
    );
    expect(feed(json(Hello), [input])).toEqual([
      { frame: { type: "hello", proto: 1, nick: "alice" } },
      { frame: { type: "hello", proto: 1, nick: "bob" } },
    ]);
  });

  it("reports a message that fails validation with the field and reason, then goes on", () => {
    const decoder = json(Hello);
    const input = utf8('{"type":"hello","proto":1,"nick":""}\n{"type":"hello","proto":1,"nick":"ok"}\n');
    const queue = new ByteQueue();
    queue.append(input);
    let error: ProtocolError | undefined;
    try {
      decoder.decode(queue);
    } catch (err) {
      error = err as ProtocolError;
    }
    expect(error?.code).toBe("BAD_MESSAGE");
    expect(error?.recoverable).toBe(true);
    expect(error?.message).toMatch(/^bad message: nick: /);
    expect(decoder.decode(queue)).toEqual({ type: "hello", proto: 1, nick: "ok" });
  });

  it("reports text that is not JSON as BAD_MESSAGE", () => {
    expect(feed(json(Hello), [utf8("hello there\n")])).toEqual([{ error: "BAD_MESSAGE" }]);
  });

  it("keeps order across framing errors, bad messages and good ones, in any chunking", () => {
    const good = '{"type":"hello","proto":1,"nick":"a"}';
    const input = utf8(`${good}\n${"x".repeat(100)}\nnot json\n${good}\n{"type":"bye"}\n${good}\n`);
    const expected = [
      { frame: { type: "hello", proto: 1, nick: "a" } },
      { error: "FRAME_TOO_LARGE" },
      { error: "BAD_MESSAGE" },
      { frame: { type: "hello", proto: 1, nick: "a" } },
      { error: "BAD_MESSAGE" },
      { frame: { type: "hello", proto: 1, nick: "a" } },
    ];
    expect(feed(json(Hello, { maxLineBytes: 64 }), [input])).toEqual(expected);
    expect(feed(json(Hello, { maxLineBytes: 64 }), byteByByte(input))).toEqual(expected);
  });

  it("accepts a validating function instead of a schema", () => {
    const even = (v: unknown): number => {
      if (typeof v !== "number" || v % 2 !== 0) throw new Error("expected an even number");
      return v;
    };
    expect(feed(json(even), [utf8("2\n3\n4\n")])).toEqual([
      { frame: 2 },
      { error: "BAD_MESSAGE" },
      { frame: 4 },
    ]);
  });

  it.each([
    ["a number", 42, "42"],
    ["a string", "hello", '"hello"'],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["an object without safeParse", {}, "an object without safeParse"],
    ["an object whose safeParse is not a function", { safeParse: true }, "an object without safeParse"],
    ["an array", [Hello], "an array"],
  ])("refuses %s as a schema when the codec is made, with INVALID_OPTION", (_name, schema, shown) => {
    let error: unknown;
    try {
      json(schema as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe("INVALID_OPTION");
    expect((error as ProtocolError).message).toBe(
      `json() takes a schema (an object with safeParse, such as a zod schema) or a validating function, got ${shown}`,
    );
  });

  it("refuses an async validating function, whose every frame would be a Promise", () => {
    const check = async (v: unknown) => v;
    expect(() => json(check as never)).toThrow(
      expect.objectContaining({
        code: "INVALID_OPTION",
        message: expect.stringMatching(/got an async function$/),
      }),
    );
  });

  it("encodes one compact JSON line", () => {
    const hello: Hello = { type: "hello", proto: 1, nick: "alice" };
    expect(new TextDecoder().decode(json(Hello).encode(hello))).toBe(
      '{"type":"hello","proto":1,"nick":"alice"}\n',
    );
  });

  it("round-trips any JSON value through encode and decode, whatever the chunking", () => {
    const anyJson = (v: unknown) => v;
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 10 }), fc.nat(), (values, cut) => {
        const codec = json(anyJson);
        const bytes = new Uint8Array(values.flatMap((v) => [...codec.encode(v)]));
        const at = bytes.length ? cut % bytes.length : 0;
        const out = feed(json(anyJson), [bytes.subarray(0, at), bytes.subarray(at)]);
        expect(out).toEqual(values.map((v) => ({ frame: JSON.parse(JSON.stringify(v)) })));
      }),
    );
  });

  it("arbitrary bytes never throw anything but ProtocolError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          feed(json(Hello, { maxLineBytes: 32 }), byteByByte(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
        }
      }),
    );
  });
});
