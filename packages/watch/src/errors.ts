import { join } from "node:path";
import { NetlabError } from "@netlab/core";

/** Codes the watch package fails with. */
export type WatchErrorCode =
  /** The file is not a netlab session recording (no header line, or another kind of file). */
  | "NOT_A_SESSION"
  /** A session recorded by a newer netlab (a header `v` this version does not read). */
  | "UNKNOWN_VERSION"
  /** A line of a session that does not parse or validate (bad JSON, bad base64, bad fields). */
  | "BAD_RECORD"
  /** An option out of range (`--speed 0`, an unknown `--pace`). */
  | "INVALID_OPTION"
  /** A file that cannot be opened for writing (a missing folder) or read. */
  | "FILE_ERROR"
  /** A recording past a limit: larger than `maxBytes`, or opening more than `maxConnections`. */
  | "TOO_LARGE"
  /** Replay: the server's bytes differ from the recording's. */
  | "MISMATCH"
  /** Replay: the server sent less than the recording within the wait. */
  | "TIMEOUT";

/**
 * A watch failure said in one line, with a hint.
 * @example throw new WatchError("UNKNOWN_VERSION", "session.jsonl: record version 9 is not supported")
 */
export class WatchError extends NetlabError<WatchErrorCode> {}

/**
 * The one way a file of the watch (an --events, --hexdump or --record file, a pcap) fails to open
 * for writing: what is wrong with the path, in words, and what to do; `fileName`, if given, is the
 * example a folder given for the file is shown with.
 * @example cannotWrite("/tmp", eisdir).message // "cannot write /tmp: it is a folder"
 */
export function cannotWrite(path: string, err: unknown, fileName?: string): WatchError {
  const code = (err as NodeJS.ErrnoException).code;
  const [why, hint] =
    code === "ENOENT"
      ? ["its folder does not exist", "create the folder first, or give a path in an existing one"]
      : code === "EISDIR"
        ? [
            "it is a folder",
            fileName === undefined
              ? "give the path of a file, in that folder or another"
              : `give a file name, such as ${join(path, fileName)}`,
          ]
        : code === "EACCES" || code === "EPERM"
          ? ["permission denied", "choose a path you may write, such as one in /tmp"]
          : code === "ENOTDIR"
            ? ["a part of its path is a file, not a folder", "give a path whose folders exist"]
            : code === "ENOSPC" || code === "EDQUOT"
              ? ["the disk is full", "free some space, or give a path on another disk"]
              : code === "EPIPE"
                ? ["its reader has gone", "keep the reader of the pipe running while lab writes"]
                : [(err as Error).message, "check the path"];
  return new WatchError("FILE_ERROR", `cannot write ${path}: ${why}`, { hint, cause: err });
}
