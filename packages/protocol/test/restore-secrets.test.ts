import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AUTH_SECRET_FIELD, redactSecrets, restoreMaskedSecrets } from "../src/index.js";

const T = "s3cret-Token";
const VALUES = { [AUTH_SECRET_FIELD]: T, token: T };

/** `text` cut at `cuts`, restored, joined again; with what was found. */
function restore(text: string, cuts: number[] = [], values: Record<string, string> = VALUES) {
  const bytes = Buffer.from(text);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    chunks.push(bytes.subarray(from, cut));
    from = cut;
  }
  const r = restoreMaskedSecrets(chunks, values);
  return {
    ...r,
    text: Buffer.concat(r.chunks).toString(),
    pieces: r.chunks.map((c) => Buffer.from(c).toString()),
  };
}

describe("restoreMaskedSecrets", () => {
  it("counts the masked secrets of a redacted stream by field, and changes nothing without values", () => {
    const sent = `{"type":"hello","token":"${T}","reclaim":"abc"}\n/auth ${T}\r\n`;
    const masked = Buffer.from(redactSecrets(Buffer.from(sent))).toString();
    const r = restore(masked, [], {});
    expect(Object.fromEntries(r.masked)).toEqual({ token: 1, reclaim: 1, [AUTH_SECRET_FIELD]: 1 });
    expect(r.restored).toBe(0);
    expect(r.text).toBe(masked);
  });

  it("puts the token back in a JSON hello and a text-mode /auth line, keeping the \\r, never a reclaim", () => {
    const masked = '{"type":"hello","token":"***","reclaim":"*****"}\n/AUTH  ****\r\n';
    const r = restore(masked);
    expect(r.text).toBe(`{"type":"hello","token":"${T}","reclaim":"*****"}\n/AUTH  ${T}\r\n`);
    expect(r.restored).toBe(2);
    expect(r.masked.get("reclaim")).toBe(1);
  });

  it("JSON-escapes the value in a JSON string, and reads a masked value written with escapes", () => {
    const r = restore('{"tok\\u0065n" : "********"}\n', [], { token: 'a"b\\c' });
    expect(r.text).toBe('{"tok\\u0065n" : "a\\"b\\\\c"}\n');
    expect(JSON.parse(r.text).token).toBe('a"b\\c');
  });

  it("restores a secret split across chunks at every offset, writing it whole where it starts", () => {
    const masked = '{"type":"hello","token":"**********"}\n/auth ******\n';
    const whole = `{"type":"hello","token":"${T}"}\n/auth ${T}\n`;
    for (let cut = 0; cut <= masked.length; cut++) {
      const r = restore(masked, [cut]);
      expect(r.text, `cut at ${cut}`).toBe(whole);
      expect(r.restored).toBe(2);
    }
    const byByte = restore(
      masked,
      Array.from({ length: masked.length - 1 }, (_, i) => i + 1),
    );
    expect(byByte.text).toBe(whole);
    // The token goes where its first star was; the stars in the next chunk go.
    const split = restore('{"token":"****"}\n', [12]);
    expect(split.pieces).toEqual([`{"token":"${T}`, '"}\n']);
  });

  it("leaves alone stars that are not a masked secret, and secrets that are not all stars", () => {
    const untouched = [
      '{"type":"message","text":"****"}\n',
      '{"type":"message","text":"token: ****"}\n',
      "<alice> /auth ****\n",
      "**** /auth ****\n",
      "/authors ****\n",
      '{"token":"ab**"}\n',
      '{"token":""}\n',
      "/auth real-token\n",
      '{"tokens":"****"}\n',
    ];
    for (const line of untouched) {
      const r = restore(line);
      expect(r.text, line).toBe(line);
      expect(r.masked.size, line).toBe(0);
    }
  });

  it("restores a secret a recording ends in, and refuses an /auth value with a line break", () => {
    expect(restore("/auth ****").text).toBe(`/auth ${T}`);
    expect(() => restoreMaskedSecrets([], { [AUTH_SECRET_FIELD]: "a\nb" })).toThrow(/line break/);
  });

  it("gives back, for any stream and cuts, what restoring the redacted original in one piece gives", () => {
    const piece = fc.constantFrom('{"token":"', '"', "\\", "\n", "/auth ", "{", " ", "abc", "*", "\r");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(piece, fc.string()), { maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (parts, rawCuts) => {
          const text = Buffer.from(redactSecrets(Buffer.from(parts.join("")))).toString("latin1");
          const n = Buffer.from(text, "latin1").length;
          const cuts = [...new Set(rawCuts.map((c) => c % (n + 1)))].sort((a, b) => a - b);
          const bytes = Buffer.from(text, "latin1");
          const chunks: Uint8Array[] = [];
          let from = 0;
          for (const cut of [...cuts, n]) {
            chunks.push(bytes.subarray(from, cut));
            from = cut;
          }
          const whole = restoreMaskedSecrets([bytes], VALUES);
          const split = restoreMaskedSecrets(chunks, VALUES);
          expect(Buffer.concat(split.chunks).equals(Buffer.from(whole.chunks[0]!))).toBe(true);
          expect(split.restored).toBe(whole.restored);
        },
      ),
      { numRuns: 300 },
    );
  });
});
