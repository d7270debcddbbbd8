import { writeFile } from "node:fs/promises";
import path from "node:path";
import { makeDirectory } from "@netlab/core";
import type { Conn } from "./conn.js";
import { hexExcerpt } from "./hex.js";

/** Bytes of each direction written to a transcript file; the rest is counted. */
export const TRANSCRIPT_BYTES = 64 * 1024;

/**
 * Writes `DIR/ID.txt`: for each connection of the test, a hex dump of what was sent and what
 * came back (the first 64 KiB each way), and how it ended.
 */
export async function writeTranscript(dir: string, testId: string, conns: Conn[]): Promise<void> {
  await makeDirectory(dir);
  const parts = conns.map((c) => {
    const t = c.transcript();
    const dump = (bytes: Buffer) =>
      bytes.length === 0 ? "(nothing)" : hexExcerpt(bytes.subarray(0, TRANSCRIPT_BYTES), 0, TRANSCRIPT_BYTES);
    return [
      `== ${t.label}: sent ${t.sent.total} bytes, received ${t.received.total}, ended: ${t.end}`,
      "-- sent",
      dump(t.sent.bytes),
      "-- received",
      dump(t.received.bytes),
      "",
    ].join("\n");
  });
  await writeFile(path.join(dir, `${testId}.txt`), parts.join("\n"));
}
