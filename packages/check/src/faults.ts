import type { Conn } from "./conn.js";

/** Writes `data` in slices of `sliceBytes`, each its own TCP segment, `gapMs` apart (0: one event-loop turn). */
export async function writeSliced(conn: Conn, data: Uint8Array, sliceBytes: number, gapMs = 0): Promise<void> {
  for (let i = 0; i < data.length; i += sliceBytes) {
    await conn.write(data.subarray(i, i + sliceBytes));
    if (i + sliceBytes < data.length) await new Promise((r) => (gapMs > 0 ? setTimeout(r, gapMs) : setImmediate(r)));
  }
}
