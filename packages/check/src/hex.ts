/** Bytes per row of a hex excerpt. */
const ROW = 16;

/**
 * A hex dump of `bytes` around `at` (`context` bytes either side, rounded out to whole rows):
 * `00000040  48 45 4c 0a …  |HEL.|`. Offsets are the stream's, so they match the transcript.
 * @example hexExcerpt(received, 70) // the rows from offset 0x10 to 0x70
 */
export function hexExcerpt(bytes: Uint8Array, at: number, context = 48, base = 0): string {
  if (bytes.length === 0) return "(no bytes)";
  const center = Math.max(0, Math.min(at, bytes.length - 1));
  const start = Math.max(0, Math.floor((center - context) / ROW) * ROW);
  const end = Math.min(bytes.length, Math.ceil((center + context + 1) / ROW) * ROW);
  const rows: string[] = [];
  for (let row = start; row < end; row += ROW) {
    const slice = bytes.subarray(row, Math.min(row + ROW, end));
    const hex = [...slice].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    const text = [...slice].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".")).join("");
    rows.push(`${(base + row).toString(16).padStart(8, "0")}  ${hex.padEnd(ROW * 3 - 1)}  |${text}|`);
  }
  return rows.join("\n");
}

/**
 * A one-line, terminal-safe picture of a few bytes, quoted so that it reads as data, not as the
 * report's own words (and an empty line shows): `HEL` + LF as `"HEL\n"`, others as `\xff`.
 */
export function showBytes(bytes: Uint8Array, max = 60): string {
  let out = "";
  for (const b of bytes.subarray(0, max)) {
    if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x5c) out += "\\\\";
    else if (b === 0x22) out += '\\"';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return bytes.length > max ? `"${out}"… (${bytes.length} bytes)` : `"${out}"`;
}
