import { constants } from "node:fs";
import { lstat, mkdir, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { fsError, TransferError } from "./errors.js";

/** Suffix of a file being received: `NAME.part`, renamed to NAME once verified. */
export const PART_SUFFIX = ".part";

/** Longest path segment accepted, in bytes, leaving room for `.part` within the usual 255. */
export const MAX_SEGMENT_BYTES = 250;

// Names Windows reserves for devices, with or without an extension (`nul.txt` is still NUL).
const DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$|clock\$)(\..*)?$/i;
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(name: string, why: string): TransferError {
  return new TransferError("INVALID_NAME", `invalid name ${JSON.stringify(name)}: ${why}`, {
    hint: "use a relative path inside the served folder, with / between folders (e.g. in/a.bin)",
  });
}

/**
 * Checks that `name` is a plain relative path and returns its segments. Refused: empty names,
 * absolute paths (`/x`, `C:x`, `\\x`), backslashes, `.`/`..`/empty segments, NUL and other control
 * characters, Windows device names (CON, NUL, COM1, LPT1, ... with any extension), segments over
 * {@link MAX_SEGMENT_BYTES}, and the reserved `.part` suffix.
 * @example splitName("in/a.bin") // → ["in", "a.bin"]
 */
export function splitName(name: string): string[] {
  if (name.length === 0) throw invalid(name, "empty");
  if (name.includes("\0")) throw invalid(name, "contains a NUL byte");
  if (CONTROL.test(name)) throw invalid(name, "contains a control character");
  if (name.startsWith("/")) throw invalid(name, "absolute paths are not allowed");
  if (/^[a-zA-Z]:/.test(name)) throw invalid(name, "drive-letter paths are not allowed");
  if (name.includes("\\")) throw invalid(name, "backslashes are not allowed");
  const segments = name.split("/");
  for (const segment of segments) {
    if (segment === "..") throw invalid(name, "'..' is not allowed");
    if (segment === "." || segment === "") throw invalid(name, "empty or '.' path segments are not allowed");
    if (DEVICE.test(segment)) throw invalid(name, `'${segment}' is a reserved device name`);
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw invalid(name, `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes`);
    }
  }
  if (name.endsWith(PART_SUFFIX))
    throw invalid(name, `the '${PART_SUFFIX}' suffix is reserved for partial files`);
  return segments;
}

/** Whether `child` is `root` or inside it (both absolute, real paths). */
export function isWithin(root: string, child: string): boolean {
  const rel = path.relative(root, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

function outside(name: string): TransferError {
  return new TransferError("OUTSIDE_ROOT", `${JSON.stringify(name)} leads outside the served folder`, {
    hint: "a symlink inside the folder points elsewhere; only files inside the folder are served",
  });
}

/**
 * Resolves a name to download: the real path of a regular file inside `rootReal` (the served
 * folder's realpath). Symlinks are followed and must stay inside.
 */
export async function resolveForRead(rootReal: string, name: string): Promise<string> {
  const segments = splitName(name);
  let real: string;
  try {
    real = await realpath(path.join(rootReal, ...segments));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new TransferError("NOT_FOUND", `no file named ${JSON.stringify(name)} on the server`, {
        hint: "run 'lab transfer --list' to see what the server has",
      });
    }
    throw fsError(err, `resolving ${name}`);
  }
  if (!isWithin(rootReal, real)) throw outside(name);
  const info = await stat(real).catch((err) => {
    throw fsError(err, `reading ${name}`);
  });
  if (!info.isFile()) throw new TransferError("NOT_A_FILE", `${JSON.stringify(name)} is not a regular file`);
  return real;
}

/** Where an upload goes: the final path and its `.part` sibling, in a real directory inside the root. */
export interface WriteTarget {
  /** Real directory the file goes into (created if missing). */
  dir: string;
  /** `dir/base`: the name the file gets once verified. */
  finalPath: string;
  /** `dir/base.part`: where the bytes land first. */
  partPath: string;
}

/**
 * Resolves a name to upload: creates missing folders one at a time, checking at each step that a
 * symlinked folder does not lead outside `rootReal`. The final component is never followed: the
 * `.part` is opened with O_NOFOLLOW and the rename replaces a link rather than writing through it.
 */
export async function resolveForWrite(rootReal: string, name: string): Promise<WriteTarget> {
  const segments = splitName(name);
  const base = segments.pop()!;
  let dir = rootReal;
  for (const segment of segments) {
    const next = path.join(dir, segment);
    let info = await lstat(next).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw fsError(err, `checking ${name}`);
    });
    if (info === undefined) {
      await mkdir(next).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw fsError(err, `creating the folder for ${name}`);
      });
      info = await lstat(next).catch((err) => {
        throw fsError(err, `checking ${name}`);
      });
    }
    if (info.isSymbolicLink()) {
      const real = await realpath(next).catch((err) => {
        throw fsError(err, `resolving ${name}`);
      });
      if (!isWithin(rootReal, real)) throw outside(name);
      info = await stat(real);
      if (!info.isDirectory()) throw invalid(name, `'${segment}' is not a folder`);
      dir = real;
    } else if (info.isDirectory()) {
      dir = next;
    } else {
      throw invalid(name, `'${segment}' is a file, not a folder`);
    }
  }
  const finalPath = path.join(dir, base);
  const existing = await lstat(finalPath).catch(() => undefined);
  if (existing?.isDirectory())
    throw new TransferError("NOT_A_FILE", `${JSON.stringify(name)} is a folder on the server`);
  return { dir, finalPath, partPath: finalPath + PART_SUFFIX };
}

/** open(2) flags for a `.part`: create if missing, never follow a symlink planted in its place. */
export const PART_OPEN_FLAGS = constants.O_RDWR | constants.O_CREAT | (constants.O_NOFOLLOW ?? 0);
