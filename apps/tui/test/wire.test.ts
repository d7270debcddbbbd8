import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { WireChunk } from "../src/model.js";
import { chunkShapes, WIRE_MARKS, wireRows, wireTotals } from "../src/wire.js";

const enc = new TextEncoder();
const chunk = (direction: "in" | "out", text: string): WireChunk => ({
  direction,
  bytes: enc.encode(text),
  at: 0,
});
const text = (rows: ReturnType<typeof wireRows>) => rows.map((r) => r.map((s) => s.text).join(""));

describe("chunkShapes", () => {
  it("counts two messages in one read as coalesced", () => {
    expect(chunkShapes([chunk("in", "a\nb\n")])).toEqual([
      { messagesEnded: 2, startsMidMessage: false, endsMidMessage: false },
    ]);
  });

  it("follows a message split across reads, per direction", () => {
    const shapes = chunkShapes([chunk("in", "hel"), chunk("out", "x\n"), chunk("in", "lo\n")]);
    expect(shapes[0]).toEqual({ messagesEnded: 0, startsMidMessage: false, endsMidMessage: true });
    expect(shapes[1]).toEqual({ messagesEnded: 1, startsMidMessage: false, endsMidMessage: false });
    expect(shapes[2]).toEqual({ messagesEnded: 1, startsMidMessage: true, endsMidMessage: false });
  });
});

describe("wireRows", () => {
  it("labels each chunk with its direction and size and marks message and read ends", () => {
    const rows = text(wireRows([chunk("out", "hi\n"), chunk("in", "a\nb\n")], 60));
    expect(rows[0]).toBe(`→ 3 B     hi${WIRE_MARKS.messageEnd}${WIRE_MARKS.readEnd}`);
    expect(rows[1]).toBe(`← 4 B     a⏎b⏎┃ 2 messages in one read`);
  });

  it("names fragmentation: a read that ends mid-message, and the read that finishes it", () => {
    const rows = text(wireRows([chunk("in", '{"a":'), chunk("in", "1}\n")], 60));
    expect(rows[0]).toBe('← 5 B     {"a":┃ continues in next read');
    expect(rows[1]).toBe("← 3 B     1}⏎┃ end of a split message");
  });

  it("shows carriage returns and control bytes as visible marks", () => {
    const rows = text(wireRows([chunk("in", "x\r\n\u0007")], 60));
    expect(rows[0]).toBe("← 4 B     x␍⏎·┃ continues in next read");
  });

  it("wraps long chunks and cuts them after maxRowsPerChunk, keeping the read mark and note", () => {
    const long = `${"x".repeat(200)}\n${"y".repeat(10)}\n`;
    const rows = text(wireRows([chunk("in", long)], 40, { maxRowsPerChunk: 3 }));
    expect(rows).toHaveLength(3);
    for (const row of rows) expect([...row].length).toBeLessThanOrEqual(40);
    expect(rows[2]).toMatch(/…┃ 2 messages in one read$/);
  });

  it("never leaves the end-of-read mark alone on a row", () => {
    for (let n = 1; n <= 80; n++) {
      const rows = text(wireRows([chunk("in", `${"z".repeat(n)}\n`)], 40, { maxRowsPerChunk: 10 }));
      for (const row of rows) expect(row.trim()).not.toMatch(/^┃/);
    }
  });

  it("keeps every byte when chunks fit: marks match messages and reads for any chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom("a", "b", " ", "{", "}"), maxLength: 12 }), {
          maxLength: 8,
        }),
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 8 }),
        (messages, sizes) => {
          const stream = messages.map((m) => `${m}\n`).join("");
          const chunks: WireChunk[] = [];
          let at = 0;
          for (let i = 0; at < stream.length; i++) {
            const size = sizes[i % sizes.length]!;
            chunks.push(chunk("in", stream.slice(at, at + size)));
            at += size;
          }
          const all = text(wireRows(chunks, 200, { maxRowsPerChunk: 100 })).join("\n");
          expect(all.split(WIRE_MARKS.messageEnd).length - 1).toBe(messages.length);
          expect(all.split(WIRE_MARKS.readEnd).length - 1).toBe(chunks.length);
          const content = all
            .split("\n")
            .map((r) => r.slice(10).replace(/┃.*$/, ""))
            .join("")
            .replaceAll(WIRE_MARKS.messageEnd, "\n");
          expect(content).toBe(stream);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("wireTotals", () => {
  it("sums bytes and counts reads and writes", () => {
    expect(wireTotals([chunk("out", "ab"), chunk("in", "c"), chunk("in", "de")])).toEqual({
      outBytes: 2,
      outWrites: 1,
      inBytes: 3,
      inReads: 2,
    });
  });
});
