import { NetlabError, type NetlabErrorOptions } from "@netlab/core";

/**
 * Codes a transfer can fail with; stable, listed in docs/PROTOCOL.md. Errors the server reports
 * travel to the client in an `error` header and are rethrown there with the same code.
 */
export type TransferErrorCode =
  /** The name is not a plain relative path: empty, absolute, `..`, dots and spaces only, control or bidi characters, a device name, a `.part` suffix in any case, a dotfile without `--dotfiles`. */
  | "INVALID_NAME"
  /** The name leads outside the served folder through a symlink. */
  | "OUTSIDE_ROOT"
  /** No such file on the server (download) or locally (upload). */
  | "NOT_FOUND"
  /** The name is a directory or a special file, not a regular file. */
  | "NOT_A_FILE"
  /** The target exists and the client did not ask to overwrite it. */
  | "ALREADY_EXISTS"
  /** Another upload of the same name is in progress. */
  | "BUSY"
  /** The server was started with --read-only, or the client's token is read-only (`TOKEN:ro`). */
  | "READ_ONLY"
  /** The server has a token file and the first request carried no token. */
  | "AUTH_REQUIRED"
  /** The server refused the token (or this address failed too often, too fast). */
  | "AUTH_FAILED"
  /** The file is larger than the server's maxSizeBytes; or a folder to send holds too many entries or nests too deep. */
  | "TOO_LARGE"
  /** The disk (or quota) is full: ENOSPC/EDQUOT. The partial file was removed. */
  | "NO_SPACE"
  /** The SHA-256 of what arrived differs from the sender's: the file was not kept. */
  | "CHECKSUM_MISMATCH"
  /** The peer closed the connection before the transfer finished. */
  | "CONNECTION_LOST"
  /** Nothing moved in either direction for the stall timeout while waiting on the peer (as chat's STALLED). */
  | "STALLED"
  /** Cancelled through the caller's AbortSignal (Ctrl-C); a download keeps its `.part`. */
  | "ABORTED"
  /** The local file changed size while it was being sent. */
  | "FILE_CHANGED"
  /** A header that is not valid JSON, fails its schema, or comes out of order. */
  | "BAD_REQUEST"
  /** The peer speaks another protocol (a chat server, HTTP, TLS …): its first bytes are not a header. */
  | "WRONG_PROTOCOL"
  /** Any other file-system failure (permissions, I/O error), with the OS reason in the message. */
  | "IO_ERROR";

/**
 * A transfer failure. `message` says what happened in one line, `hint` what to do.
 * @example throw new TransferError("ALREADY_EXISTS", "a.txt already exists on the server", { hint: "pass --overwrite to replace it" });
 */
export class TransferError extends NetlabError<TransferErrorCode> {}

/** A refusal the server sent (an `error` header), as opposed to one met on this side. */
export class RemoteTransferError extends TransferError {}

const CODES: ReadonlySet<string> = new Set<TransferErrorCode>([
  "INVALID_NAME",
  "OUTSIDE_ROOT",
  "NOT_FOUND",
  "NOT_A_FILE",
  "ALREADY_EXISTS",
  "BUSY",
  "READ_ONLY",
  "AUTH_REQUIRED",
  "AUTH_FAILED",
  "TOO_LARGE",
  "NO_SPACE",
  "CHECKSUM_MISMATCH",
  "CONNECTION_LOST",
  "STALLED",
  "ABORTED",
  "FILE_CHANGED",
  "BAD_REQUEST",
  "WRONG_PROTOCOL",
  "IO_ERROR",
]);

/** Whether `code` is a TransferErrorCode (used when an error arrives over the wire). */
export function isTransferErrorCode(code: string): code is TransferErrorCode {
  return CODES.has(code);
}

/**
 * Maps a Node file-system error to a TransferError that names the file the user knows, e.g.
 * `NO_SPACE: no space left on the device while writing big.iso`.
 */
export function fsError(err: unknown, what: string, options: NetlabErrorOptions = {}): TransferError {
  if (err instanceof TransferError) return err;
  const e = err as NodeJS.ErrnoException;
  const hint = options.hint;
  switch (e?.code) {
    case "ENOSPC":
    case "EDQUOT":
      return new TransferError("NO_SPACE", `no space left on the device while ${what}`, {
        hint: hint ?? "free some disk space and try again",
        cause: err,
      });
    case "ENOENT":
      return new TransferError("NOT_FOUND", `${what}: no such file or directory`, { hint, cause: err });
    case "ENOTDIR":
      return new TransferError("IO_ERROR", `${what}: a part of that path is a file, not a folder`, {
        hint,
        cause: err,
      });
    case "EISDIR":
      return new TransferError("NOT_A_FILE", `${what}: is a directory`, { hint, cause: err });
    case "ELOOP":
      return new TransferError("OUTSIDE_ROOT", `${what}: refusing to follow a symlink`, { hint, cause: err });
    case "ENAMETOOLONG":
      return new TransferError("INVALID_NAME", `${what}: name too long`, { hint, cause: err });
    case "EACCES":
    case "EPERM":
      return new TransferError("IO_ERROR", `${what}: permission denied`, { hint, cause: err });
    default:
      return new TransferError("IO_ERROR", `${what}: ${e?.message ?? String(err)}`, { hint, cause: err });
  }
}
