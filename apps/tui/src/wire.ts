import { UNSAFE_TEXT } from "@netlab/core";
import type { WireChunk } from "./model.js";

/** What a piece of a wire row is, so the view can colour it (and mark it without colour). */
export type WireRole = "out" | "in" | "text" | "message-end" | "read-end" | "escape" | "note";

/** A run of text with one role. */
export interface WireSegment {
  role: WireRole;
  text: string;
}

/** One screen row of the wire view. */
export type WireRow = WireSegment[];

/** Marks used in the wire view; the legend names them. */
export const WIRE_MARKS = { messageEnd: "⏎", readEnd: "┃", carriageReturn: "␍", control: "·" } as const;

/** How one read or write relates to the messages in it. */
export interface ChunkShape {
  /** Newlines in the chunk: messages that end inside it. */
  messagesEnded: number;
  /** The chunk's first byte continues a message begun in an earlier chunk in the same direction. */
  startsMidMessage: boolean;
  /** The chunk's last message is cut off: the rest comes in a later chunk. */
  endsMidMessage: boolean;
}

/**
 * The shape of each chunk: how many messages it ends, whether it starts or ends in the middle of
 * one. "Two messages in one read" is coalescing; "a message across reads" is fragmentation.
 */
export function chunkShapes(chunks: readonly WireChunk[]): ChunkShape[] {
  const openIn = { in: false, out: false };
  return chunks.map((chunk) => {
    // Ciphertext has no messages to see: a 0x0a in it is noise.
    if (chunk.tls) return { messagesEnded: 0, startsMidMessage: false, endsMidMessage: false };
    let messagesEnded = 0;
    for (const b of chunk.bytes) if (b === 0x0a) messagesEnded++;
    const startsMidMessage = openIn[chunk.direction];
    const last = chunk.bytes[chunk.bytes.length - 1];
    const endsMidMessage = chunk.bytes.length > 0 && last !== 0x0a;
    if (chunk.bytes.length > 0) openIn[chunk.direction] = endsMidMessage;
    return { messagesEnded, startsMidMessage, endsMidMessage };
  });
}

const LABEL_WIDTH = 10;
const decoder = new TextDecoder("utf-8", { fatal: false });

/** Options for {@link wireRows}. */
export interface WireRowsOptions {
  /** Rows one chunk may take before its content is cut with `…`. Default 3. */
  maxRowsPerChunk?: number;
}

/**
 * Lays chunks out as rows `width` columns wide: a label (`→ 23 B` for a write, `← 58 B` for a read),
 * the bytes as text with `⏎` where a message ended and `┃` where the read or write ended, and a note
 * naming coalescing ("2 messages in one read") or fragmentation ("continues in next read").
 * @example wireRows(client.wire, 60).map((row) => row.map((s) => s.text).join(""))
 */
export function wireRows(chunks: readonly WireChunk[], width: number, opts: WireRowsOptions = {}): WireRow[] {
  const maxRows = opts.maxRowsPerChunk ?? 3;
  const contentWidth = Math.max(8, width - LABEL_WIDTH);
  const shapes = chunkShapes(chunks);
  const rows: WireRow[] = [];
  chunks.forEach((chunk, i) => {
    const shape = shapes[i]!;
    const arrow = chunk.direction === "out" ? "→" : "←";
    const label = `${arrow} ${chunk.bytes.length} B`.padEnd(LABEL_WIDTH - 1).slice(0, LABEL_WIDTH - 1);
    const note = chunk.tls ? "TLS, encrypted" : noteFor(chunk.direction, shape);
    const tail: WireSegment[] = [{ role: "read-end", text: WIRE_MARKS.readEnd }];
    if (note) tail.push({ role: "note", text: ` ${note}` });
    const tailWidth = tail.reduce((n, seg) => n + [...seg.text].length, 0);
    const cells = chunk.tls ? hexCells(chunk.bytes) : toCells(chunk.bytes);
    // Content fills rows of contentWidth; the end-of-read mark and the note follow it. When it
    // would take more than maxRows rows, the content is cut with "…" so the mark and note still show.
    const fitsWhole = cells.length + tailWidth <= contentWidth * maxRows;
    const room = fitsWhole ? cells.length : Math.max(0, contentWidth * maxRows - tailWidth - 1);
    const shown: WireSegment[] = cells.slice(0, room);
    if (!fitsWhole) shown.push({ role: "note", text: "…" });
    const lines: WireSegment[][] = [[]];
    let used = 0;
    for (const cell of shown) {
      if (used + 1 > contentWidth) {
        lines.push([]);
        used = 0;
      }
      lines[lines.length - 1]!.push(cell);
      used += 1;
    }
    // The tail stays together: on the last row if it fits there, else on a new row that takes a few
    // of the last bytes with it, so the mark never stands alone.
    if (used + tailWidth > contentWidth && used > 0) {
      const last = lines[lines.length - 1]!;
      const carried = last.splice(
        Math.max(0, last.length - Math.min(8, Math.max(1, contentWidth - tailWidth))),
      );
      lines.push(carried);
    }
    lines[lines.length - 1]!.push(...tail);
    lines.forEach((line, row) => {
      const head: WireSegment =
        row === 0
          ? { role: chunk.direction, text: `${label} ` }
          : { role: "text", text: " ".repeat(LABEL_WIDTH) };
      rows.push(merge([head, ...line]));
    });
  });
  return rows;
}

/** Totals for the wire view's title: bytes and chunk counts each way. */
export function wireTotals(chunks: readonly WireChunk[]): {
  outBytes: number;
  outWrites: number;
  inBytes: number;
  inReads: number;
} {
  const t = { outBytes: 0, outWrites: 0, inBytes: 0, inReads: 0 };
  for (const c of chunks) {
    if (c.direction === "out") {
      t.outBytes += c.bytes.length;
      t.outWrites++;
    } else {
      t.inBytes += c.bytes.length;
      t.inReads++;
    }
  }
  return t;
}

function noteFor(direction: "in" | "out", shape: ChunkShape): string | undefined {
  const unit = direction === "in" ? "read" : "write";
  if (shape.endsMidMessage) return `continues in next ${unit}`;
  if (shape.messagesEnded > 1) return `${shape.messagesEnded} messages in one ${unit}`;
  if (shape.startsMidMessage) return `end of a split message`;
  return undefined;
}

/** TLS records as hex pairs (`17 03 03 00 2a …`: an application-data record and its length). */
function hexCells(bytes: Uint8Array): WireSegment[] {
  const out: WireSegment[] = [];
  for (const [i, b] of bytes.entries()) {
    if (i > 0) out.push({ role: "text", text: " " });
    const hex = b.toString(16).padStart(2, "0");
    out.push({ role: "text", text: hex[0]! }, { role: "text", text: hex[1]! });
  }
  return out;
}

function toCells(bytes: Uint8Array): WireSegment[] {
  const out: WireSegment[] = [];
  for (const ch of decoder.decode(bytes)) {
    if (ch === "\n") out.push({ role: "message-end", text: WIRE_MARKS.messageEnd });
    else if (ch === "\r") out.push({ role: "escape", text: WIRE_MARKS.carriageReturn });
    // Every other control, C1 and bidi character is a mark: the wire view shows bytes, never obeys them.
    else if (UNSAFE_TEXT.test(ch)) out.push({ role: "escape", text: WIRE_MARKS.control });
    else out.push({ role: "text", text: ch });
  }
  return out;
}

/** Joins neighbouring segments of the same role, so a row is a handful of Text nodes. */
function merge(row: WireRow): WireRow {
  const out: WireRow = [];
  for (const seg of row) {
    const prev = out[out.length - 1];
    if (prev && prev.role === seg.role) out[out.length - 1] = { role: seg.role, text: prev.text + seg.text };
    else out.push({ ...seg });
  }
  return out;
}
