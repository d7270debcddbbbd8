import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { redactSecrets, SecretRedactor } from "../src/index.js";

const redact = (text: string) => Buffer.from(redactSecrets(Buffer.from(text))).toString();

/** `bytes` pushed through one SecretRedactor in the pieces `cuts` (ascending offsets) makes, joined again. */
function pushedInPieces(bytes: Buffer, cuts: number[]): Buffer {
  const r = new SecretRedactor();
  const out: Uint8Array[] = [];
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(r.push(bytes.subarray(from, cut)));
    from = cut;
  }
  return Buffer.concat(out);
}

/** `text` pushed in the pieces `cuts` makes, joined again. */
const inPieces = (text: string, cuts: number[]) => pushedInPieces(Buffer.from(text), cuts).toString();

const TOKEN = "Zx8_kq-3VbT0aP1rYw9LmN2cHdE4fGsJ";

describe("SecretRedactor", () => {
  it("masks a welcome's and a nick event's reclaim token, keeping every other byte", () => {
    const welcome = `{"type":"welcome","proto":1,"server":"lab","nick":"alice","room":"#lobby","text":"hi","reclaim":"${TOKEN}"}\n`;
    expect(redact(welcome)).toBe(welcome.replace(TOKEN, "*".repeat(TOKEN.length)));
    const nick = `{"type":"nick","from":"alice","to":"bob","ts":1,"reclaim":"${TOKEN}"}\n`;
    expect(redact(nick)).toBe(nick.replace(TOKEN, "*".repeat(32)));
  });

  it("masks a hello's token and reclaim, with blanks around the colon and escapes in the value", () => {
    const hello = '{"type":"hello", "token" : "s3\\"cr\\u00e9t", "reclaim":\t"abc","nick":"al"}\n';
    const masked = `{"type":"hello", "token" : "${"*".repeat(13)}", "reclaim":\t"***","nick":"al"}\n`;
    expect(redact(hello)).toBe(masked);
  });

  it("masks a field named with escapes, as JSON.parse reads it", () => {
    expect(redact('{"tok\\u0065n":"abc"}\n')).toBe('{"tok\\u0065n":"***"}\n');
  });

  it("masks the token of a text-mode /auth line, in any case, and keeps the CR of CRLF", () => {
    expect(redact(`/auth ${TOKEN}\r\n`)).toBe(`/auth ${"*".repeat(32)}\r\n`);
    expect(redact("  /AUTH \t two words\nnext\n")).toBe("  /AUTH \t *********\nnext\n");
  });

  it("leaves alone what only looks like a secret", () => {
    const untouched = [
      '{"type":"message","text":"my reclaim token is here"}\n',
      '{"type":"message","text":"reclaim"}\n',
      '{"type":"message","text":"\\"token\\":\\"abc\\""}\n',
      '{"tokens":"abc","reclaimed":"x","token":3}\n',
      '["token","abc"]\n',
      "/authors are welcome\n",
      "/auth\n",
      "hello /auth abc\n",
      'say "token":"abc" in text mode\n',
      "<alice> /auth abc\n",
    ];
    for (const line of untouched) expect(redact(line)).toBe(line);
  });

  it("never writes to the chunk it is given, and returns it when nothing is masked", () => {
    const chunk = Buffer.from('{"token":"abc"}\n');
    const out = redactSecrets(chunk);
    expect(chunk.toString()).toBe('{"token":"abc"}\n');
    expect(Buffer.from(out).toString()).toBe('{"token":"***"}\n');
    const plain = Buffer.from("no secrets\n");
    expect(redactSecrets(plain)).toBe(plain);
  });

  it("masks the same bytes whatever the split: every offset of one line, and byte by byte", () => {
    const text = `{"type":"hello","proto":1,"nick":"al","token":"t0k\\\\en","reclaim":"${TOKEN}"}\n/auth ${TOKEN}\n`;
    const whole = redact(text);
    expect(whole).not.toContain(TOKEN);
    expect(whole).not.toContain("t0k");
    for (let cut = 0; cut <= Buffer.byteLength(text); cut++) expect(inPieces(text, [cut])).toBe(whole);
    const everyByte = Array.from({ length: Buffer.byteLength(text) }, (_, i) => i + 1);
    expect(inPieces(text, everyByte)).toBe(whole);
  });

  it("ends a value at the newline when its quote never comes, and starts the next line fresh", () => {
    expect(redact('{"token":"abc\n/auth x\nplain\n')).toBe('{"token":"***\n/auth *\nplain\n');
  });

  it("keeps the length of any input, split anywhere, and masks only with '*'", () => {
    const piece = fc.constantFrom(
      '{"token":"',
      '"reclaim"',
      ":",
      '"',
      "\\",
      "\n",
      "/auth ",
      "{",
      " ",
      "abc",
      "é",
      "\r",
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(piece, fc.string()), { maxLength: 40 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (parts, rawCuts) => {
          const bytes = Buffer.from(parts.join(""));
          const cuts = [...new Set(rawCuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const joined = pushedInPieces(bytes, cuts);
          expect(joined.length).toBe(bytes.length);
          expect(joined.equals(Buffer.from(redactSecrets(bytes)))).toBe(true);
          for (let i = 0; i < bytes.length; i++) {
            if (joined[i] !== bytes[i]) expect(joined[i]).toBe(0x2a);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
