import { hasControls } from "@netlab/protocol";
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
        // Characters a terminal could act on are shown as <U+XXXX>, not kept (tested below).
        if (view.kind !== "text" || hasControls(text.replace(/[\t\n\r]/g, ""))) return;
        const unescaped = view.value.replace(
          /\\(.)/g,
          (_, c: string) => ({ n: "\n", r: "\r", t: "\t" })[c] ?? c,
        );
        expect(unescaped).toBe(text);
      }),
    );
  });
});

describe("a datagram's text never reaches the terminal as live controls (#13)", () => {
  it.each([
    ["C1 CSI", "a\u009b2Jb", "a<U+009B>2Jb"],
    ["a bidi override", "evil\u202etxt.exe", "evil<U+202E>txt.exe"],
    ["an isolate", "x\u2066y", "x<U+2066>y"],
    ["a line separator", "one\u2028two", "one<U+2028>two"],
    ["a paragraph separator", "one\u2029two", "one<U+2029>two"],
    ["a BOM", "\ufeffhello", "<U+FEFF>hello"],
  ])("#13: shows %s visibly", (_what, text, shown) => {
    expect(viewPayload(Buffer.from(text))).toEqual({ kind: "text", value: shown, isTruncated: false });
    expect(formatDatagram("127.0.0.1:1", Buffer.from(text))).toContain(shown);
  });

  it("#13: no line it prints holds a character escapeControls would rewrite (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (text) => {
        expect(hasControls(formatDatagram("127.0.0.1:1", Buffer.from(text)))).toBe(false);
      }),
    );
  });
});
