import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";

/**
 * Replaces `file` with `text` so that a reader sees the old file or the new, never half: writes a
 * temp file beside it (mode 0600, created exclusively), syncs it, and renames it over `file`. The
 * temp file is removed if anything fails, and the error is thrown as it came.
 * @example await replaceFileAtomically("/home/me/.config/netlab/known_hosts", text)
 */
export async function replaceFileAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
