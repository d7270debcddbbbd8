import { NetlabError, optionChecks } from "@netlab/core";

/** Codes a concurrency primitive can fail with. Callers branch on these, never on the message. */
export type ConcurrencyErrorCode =
  /** A wait ran past its `timeout`. */
  | "TIMEOUT"
  /** A wait was cancelled through its AbortSignal; `cause` is the signal's reason. */
  | "ABORTED"
  /** A Barrier was aborted or reset while parties were waiting at it. */
  | "BROKEN_BARRIER"
  /** `putNowait` on a full queue. */
  | "QUEUE_FULL"
  /** `getNowait` on an empty queue. */
  | "QUEUE_EMPTY"
  /** A release (or `taskDone`) with nothing to release: a bug in the caller. */
  | "RELEASED_TOO_OFTEN"
  /** In debug mode: a timed-out wait that is part of a cycle of lock holders and waiters. */
  | "DEADLOCK"
  /** A lock released, or a Condition used, by a task that does not own the lock. */
  | "NOT_OWNER"
  /** A bad option value (a negative timeout, a zero-sized buffer). */
  | "INVALID_OPTION"
  /** A pool worker threw or exited before finishing its task. */
  | "WORKER_FAILED";

/**
 * An error from `@netlab/concurrency`.
 * @example
 * try { await mutex.acquire({ timeout: 100 }); }
 * catch (err) { if (isNetlabError(err, "TIMEOUT")) console.log(err.hint); }
 */
export class ConcurrencyError extends NetlabError<ConcurrencyErrorCode> {}

/** The error a wait rejects with when `timeout` ms pass first. */
export function timeoutError(what: string, timeoutMs: number): ConcurrencyError {
  return new ConcurrencyError("TIMEOUT", `${what} timed out after ${timeoutMs} ms`, {
    hint: "raise the timeout, or find who holds it (debug mode names lock cycles)",
  });
}

/**
 * The error a wait rejects with when its AbortSignal fires. Every primitive rejects with this
 * (code ABORTED), never with the bare reason, so callers can tell cancellation from failure;
 * the signal's reason is kept as `cause`.
 */
export function abortedError(what: string, signal: AbortSignal): ConcurrencyError {
  return new ConcurrencyError("ABORTED", `${what} was aborted`, { cause: signal.reason as unknown });
}

const checks = optionChecks(ConcurrencyError);

/** Throws INVALID_OPTION unless `timeout` is a number of ms ≥ 0 (Infinity allowed). */
export function checkTimeout(timeout: number): void {
  checks.requireMs("timeout", timeout);
}

/** Throws INVALID_OPTION unless `value` is an integer ≥ `min` (or Infinity when allowed). */
export function checkInt(name: string, value: number, min: number, allowInfinity = false): void {
  checks.requireInt(name, value, { min, allowInfinity });
}
