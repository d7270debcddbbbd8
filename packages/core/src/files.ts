import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";

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

/**
 * Makes `dir` and any missing parents, as `mkdir -p`: each folder with one non-recursive mkdir, so
 * the work is bounded by the path's length. Node 20's `mkdir(dir, { recursive: true })` never
 * returns for a path under /proc or /sys (the kernel answers ENOENT, Node makes the parent, which
 * exists, and tries again); here that ENOENT is thrown. A file in the way is ENOTDIR.
 * @example await makeDirectory("/tmp/transcripts/run-1", 0o700)
 */
export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let at = target; ; at = dirname(at)) {
    const found = await stat(at).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (found) {
      if (!found.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), {
          code: "ENOTDIR",
          path: at,
        });
      break;
    }
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const at of missing.reverse()) {
    await mkdir(at, { mode }).catch((err: NodeJS.ErrnoException) => {
      // Made meanwhile by someone else: what we wanted. A file made meanwhile fails the next mkdir.
      if (err.code !== "EEXIST") throw err;
    });
  }
}
