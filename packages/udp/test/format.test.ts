import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDatagram, viewPayload } from "../src/index.js";

describe("showing a datagram on one line", () => {
  it("shows printable UTF-8 as text, escaping newlines, tabs and backslashes", () => {
    expect(formatDatagram("127.0.0.1:40000", Buffer.from("hello\n"))).toBe(
      "127.0.0.1:40000  6 bytes  hello\\n",
    );
    expect(viewPayload(Buffer.from("a\tb\\c\r\n"))).toEqual({
      kind: "text",
      value: "a\\tb\\\\c\\r\\n",
      isTruncated: false,
    });
    expect(viewPayload(Buffer.from("héllo ✓"))).toMatchObject({ kind: "text", value: "héllo ✓" });
  });

  it("shows binary and invalid UTF-8 as hex, and an empty datagram as its size alone", () => {
    expect(formatDatagram("[::1]:9", Buffer.from([0, 1, 0xff]))).toBe("[::1]:9  3 bytes  hex 0001ff");
    expect(viewPayload(Buffer.from([0xc3, 0x28]))).toMatchObject({ kind: "hex", value: "c328" });
    expect(formatDatagram("127.0.0.1:1", Buffer.alloc(0))).toBe("127.0.0.1:1  0 bytes");
    expect(formatDatagram("127.0.0.1:1", Buffer.from("x"))).toBe("127.0.0.1:1  1 byte  x");
  });

  it("cuts long payloads at maxChars and says so", () => {
    const line = formatDatagram("127.0.0.1:1", Buffer.alloc(1000, 0x61), 10);
    expect(line).toBe("127.0.0.1:1  1000 bytes  aaaaaaaaaa …");
  });

  it("always fits on one line, whatever the bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const line = formatDatagram("127.0.0.1:1", bytes);
        expect(line.includes("\n") || line.includes("\r")).toBe(false);
      }),
    );
  });

  it("shows any printable string as itself once unescaped (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 50 }), (text) => {
        const view = viewPayload(Buffer.from(text));
        if (view.kind !== "text") return;
        const unescaped = view.value.replace(
          /\\(.)/g,
          (_, c: string) => ({ n: "\n", r: "\r", t: "\t" })[c] ?? c,
        );
        expect(unescaped).toBe(text);
      }),
    );
  });
});
