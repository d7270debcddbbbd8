import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { NetlabError, OptionError } from "./errors.js";
import { optionChecks } from "./options.js";

const { requireMs } = optionChecks(OptionError);

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

/** Limits of {@link lockFile}. */
export const FILE_LOCK_DEFAULTS = {
  /** How long to wait for another process's lock, in ms. */
  timeoutMs: 2_000,
  /** A lock older than this, in ms, was left by a process that died, and is taken over. */
  staleMs: 10_000,
} as const;

/**
 * Takes `FILE.lock`, created with O_EXCL, so read-modify-writes of `file` by several processes do
 * not lose each other's changes: waits for a live holder up to `timeoutMs` (then LOCK_TIMEOUT),
 * and takes over a lock older than `staleMs`. Resolves with the function that releases it.
 * @example const unlock = await lockFile(file); try { … } finally { await unlock(); }
 */
export async function lockFile(
  file: string,
  options: { timeoutMs?: number; staleMs?: number } = {},
): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  const { timeoutMs, staleMs } = { ...FILE_LOCK_DEFAULTS, ...options };
  requireMs("timeoutMs", timeoutMs);
  requireMs("staleMs", staleMs);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await (await open(lock, "wx", 0o600)).close();
      return () => rm(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const age = await stat(lock).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > staleMs) await rm(lock, { force: true });
    else if (Date.now() > deadline) {
      throw new NetlabError("LOCK_TIMEOUT", `${file} stayed locked for ${timeoutMs} ms`, {
        hint: `if no other lab process is running, remove ${lock}`,
      });
    } else await sleep(5 + Math.random() * 20);
  }
}
