import { formatPeer } from "@netlab/core";
import type { PeerAddress } from "@netlab/socketserver";

/** Bytes per hexdump line, as xxd and `ncat -x`. */
export const HEXDUMP_BYTES_PER_LINE = 16;

/**
 * `bytes` as xxd-style lines: offset, 16 bytes in hex (two groups of 8), then the printable ASCII
 * with every other byte as `.`, so nothing from the wire can drive the terminal.
 * @example hexLines(Buffer.from("hi\n")) // ["00000000  68 69 0a                                          hi."]
 */
export function hexLines(bytes: Uint8Array, startOffset = 0): string[] {
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += HEXDUMP_BYTES_PER_LINE) {
    const row = bytes.subarray(i, i + HEXDUMP_BYTES_PER_LINE);
    let hex = "";
    let ascii = "";
    for (let j = 0; j < HEXDUMP_BYTES_PER_LINE; j++) {
      if (j === 8) hex += " ";
      if (j < row.length) {
        const b = row[j]!;
        hex += `${b.toString(16).padStart(2, "0")} `;
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : ".";
      } else {
        hex += "   ";
      }
    }
    out.push(`${(startOffset + i).toString(16).padStart(8, "0")}  ${hex} ${ascii}`);
  }
  return out;
}

/** `127.0.0.1:5001`, `[::1]:5001`, `unix:/path`: core's one peer formatter (IPv4-mapped shown as IPv4). */
export function formatEndpoint(a: PeerAddress | undefined): string {
  return formatPeer(a);
}

/** `08:58:19.123` in UTC: hexdumps are read next to logs. */
export function clockTime(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}
