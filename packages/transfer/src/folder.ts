import type { Dir, Dirent } from "node:fs";
import { opendir } from "node:fs/promises";
import path from "node:path";
import { requirePositiveInt, withDefaults } from "@netlab/core";
import { fsError, TransferError } from "./errors.js";

/** Limits of {@link walkFolder}. */
export interface FolderWalkOptions {
  /**
   * Most entries (files, folders, and the things skipped) one folder send may hold; more is
   * TOO_LARGE before anything is sent. Default 100 000.
   */
  maxFiles?: number;
  /**
   * Most folders nested below the one sent (`DIR/a/b/c.txt` is 2 deep); deeper is TOO_LARGE before
   * anything is sent. Default 32, under `lab files`' default --max-depth of 64 path segments.
   */
  maxDepth?: number;
}

/** Defaults of {@link FolderWalkOptions}. */
export const FOLDER_DEFAULTS = { maxFiles: 100_000, maxDepth: 32 } as const;

/** A regular file found by {@link walkFolder}. */
export interface FolderFile {
  /** Local path (the folder joined with `rel`). */
  path: string;
  /** Path relative to the folder, with `/` between segments. */
  rel: string;
}

/** Something in the folder that is not sent, and why (`symlink, not followed`, `empty folder`, ...). */
export interface FolderSkip {
  rel: string;
  reason: string;
}

/** What a folder send will send and what it leaves out. */
export interface FolderWalk {
  files: FolderFile[];
  skipped: FolderSkip[];
}

/**
 * Lists a local folder for a send, recursively, in name order. Regular files are sent; symlinks
 * are not followed (no loops, nothing from outside the folder), FIFOs, sockets and devices are
 * skipped, and empty folders are noted (the protocol creates folders only for the files in them).
 * Each skip carries its reason for the summary.
 * @example const { files, skipped } = await walkFolder("photos", { maxFiles: 1000 });
 */
export async function walkFolder(folder: string, options: FolderWalkOptions = {}): Promise<FolderWalk> {
  const o = withDefaults(FOLDER_DEFAULTS, options);
  requirePositiveInt("maxFiles", o.maxFiles, { allowInfinity: true });
  requirePositiveInt("maxDepth", o.maxDepth, { allowInfinity: true });
  const files: FolderFile[] = [];
  const skipped: FolderSkip[] = [];
  let entries = 0;
  const visit = async (rel: string, depth: number): Promise<void> => {
    const here = rel === "" ? folder : path.join(folder, ...rel.split("/"));
    let dir: Dir;
    try {
      dir = await opendir(here);
    } catch (err) {
      if (rel === "") throw fsError(err, `opening ${folder}`);
      skipped.push({ rel, reason: `folder cannot be read (${fsError(err, "reading it").message})` });
      return;
    }
    const children: Dirent[] = [];
    for await (const d of dir) {
      if (++entries > o.maxFiles) {
        throw new TransferError("TOO_LARGE", `${folder} holds more than ${o.maxFiles} entries`, {
          hint: "send a smaller folder, or raise --max-files",
        });
      }
      children.push(d);
    }
    children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    if (children.length === 0 && rel !== "") skipped.push({ rel, reason: "empty folder, not created" });
    for (const d of children) {
      const child = rel === "" ? d.name : `${rel}/${d.name}`;
      if (d.isFile()) files.push({ path: path.join(here, d.name), rel: child });
      else if (d.isDirectory()) {
        if (depth + 1 > o.maxDepth) {
          throw new TransferError(
            "TOO_LARGE",
            `${path.join(folder, child)} is nested more than ${o.maxDepth} folders deep`,
            { hint: "send a shallower folder, or raise --max-depth" },
          );
        }
        await visit(child, depth + 1);
      } else skipped.push({ rel: child, reason: `${kind(d)}, not sent` });
    }
  };
  await visit("", 0);
  return { files, skipped };
}

function kind(d: Dirent): string {
  if (d.isSymbolicLink()) return "symlink";
  if (d.isFIFO()) return "FIFO";
  if (d.isSocket()) return "socket";
  if (d.isBlockDevice() || d.isCharacterDevice()) return "device";
  return "special file";
}
