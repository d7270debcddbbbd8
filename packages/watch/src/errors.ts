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
