import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapeControls, fitColumns, hasControls, safeJson, safeLine, UNSAFE_TEXT } from "../src/index.js";

describe("escapeControls", () => {
  it("shows the attack from issue 13 visibly: no ESC, BEL or CR survives", () => {
    const attack = "hi \x1b]0;PWNED\x07\x1b[2J\r* server is shutting down";
    const shown = escapeControls(attack);
    expect(shown).toBe("hi ^[]0;PWNED^G^[[2J^M* server is shutting down");
    expect(hasControls(shown)).toBe(false);
  });

  it("shows C1 controls, bidi overrides, isolates, separators and the BOM as <U+XXXX>", () => {
    expect(escapeControls("a\u009bb")).toBe("a<U+009B>b");
    expect(escapeControls("\u202Egnp.exe")).toBe("<U+202E>gnp.exe");
    expect(escapeControls("\u2066x\u2069")).toBe("<U+2066>x<U+2069>");
    expect(escapeControls("a\u2028b\u2029c\ufeff")).toBe("a<U+2028>b<U+2029>c<U+FEFF>");
    expect(escapeControls("\x00\x08\x7f")).toBe("^@^H^?");
  });

  it("keeps ordinary text, emoji and non-Latin scripts byte for byte", () => {
    for (const text of ["hello", "héllo wörld", "日本語", "👋🏽", "a\u00a0b", "ѕerver"]) {
      expect(escapeControls(text)).toBe(text);
    }
  });

  it("keeps newlines and tabs only when asked", () => {
    expect(escapeControls("a\tb\nc")).toBe("a^Ib^Jc");
    expect(escapeControls("a\tb\nc\x1b", { keepLayout: true })).toBe("a\tb\nc^[");
  });

  it("never leaves an unsafe character, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        expect(UNSAFE_TEXT.test(escapeControls(text))).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("safeLine keeps one message on one line and cuts long ones", () => {
    expect(safeLine("a\nb")).toBe("a^Jb");
    expect(safeLine("abcdef", 4)).toBe("abc…");
  });
});

describe("fitColumns", () => {
  it("keeps text that fits, and cuts longer text to exactly the columns with …", () => {
    expect(fitColumns("abcdef", 6)).toBe("abcdef");
    expect(fitColumns("abcdefg", 6)).toBe("abcde…");
    expect(fitColumns("abc", 0)).toBe("");
  });

  it("counts wide characters (CJK, emoji) as two cells", () => {
    expect(fitColumns("漢字漢字", 8)).toBe("漢字漢字");
    expect(fitColumns("漢字漢字", 7)).toBe("漢字漢…");
    expect(fitColumns("a🎉b", 4)).toBe("a🎉b");
    expect(fitColumns("a🎉bc", 4)).toBe("a🎉…");
  });
});

describe("safeJson", () => {
  it("writes DEL, C1, bidi and separators as \\u escapes that parse back to the same value", () => {
    const value = { name: "a\u009b2J\u202e\u007f\u2028b", n: 1 };
    const json = safeJson(JSON.stringify(value));
    expect(json).toBe('{"name":"a\\u009b2J\\u202e\\u007f\\u2028b","n":1}');
    expect(hasControls(json)).toBe(false);
    expect(JSON.parse(json)).toEqual(value);
  });

  it("keeps pretty-printed JSON's layout valid", () => {
    const value = { a: ["x\u0085", { b: "\u009b" }] };
    const json = safeJson(JSON.stringify(value, null, 2));
    expect(json).toContain("\n  ");
    expect(JSON.parse(json)).toEqual(value);
  });

  it("property: any value round-trips and nothing unsafe but layout remains", () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: "binary" }), fc.boolean(), (value, pretty) => {
        const json = safeJson(JSON.stringify(value, null, pretty ? 2 : undefined));
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(hasControls(json.replace(/\n/g, ""))).toBe(false);
      }),
    );
  });
});
