import { link, lstat, open, rename, unlink } from "node:fs/promises";
import path from "node:path";
import { fsError, TransferError } from "./errors.js";

/**
 * Makes a verified, fsynced `.part` visible under its final name in one step. With `overwrite` it
 * is a rename (atomic replace); without, a hard link, which fails if the name exists — so two
 * writers can never both "win" and a reader never sees a torn file — and then the part is removed.
 * The directory is fsynced so the new name survives a crash.
 */
export async function commitPart(
  partPath: string,
  finalPath: string,
  overwrite: boolean,
  name: string,
  fsync = true,
): Promise<void> {
  if (overwrite) {
    await rename(partPath, finalPath).catch((err) => {
      throw fsError(err, `renaming ${name}.part into place`);
    });
  } else {
    try {
      await link(partPath, finalPath);
      await unlink(partPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") throw alreadyExists(name);
      if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") {
        throw fsError(err, `moving ${name}.part into place`);
      }
      // A file system without hard links: check, then rename (not atomic against a racing writer).
      if (await exists(finalPath)) throw alreadyExists(name);
      await rename(partPath, finalPath).catch((e) => {
        throw fsError(e, `renaming ${name}.part into place`);
      });
    }
  }
  if (fsync) await syncDir(path.dirname(finalPath));
}

/** Whether anything (a file, a link, a folder) has this path. */
export async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** The error for a name that is taken. */
export function alreadyExists(name: string, where = "on the server"): TransferError {
  return new TransferError("ALREADY_EXISTS", `${name} already exists ${where}`, {
    hint: "pass --overwrite to replace it",
  });
}

async function syncDir(dir: string): Promise<void> {
  // Best effort: some platforms cannot open or fsync a directory; the data itself is already synced.
  const fh = await open(dir, "r").catch(() => undefined);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // see above
  } finally {
    await fh.close();
  }
}
