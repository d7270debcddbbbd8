// The subpath, not the front door: this runs on every start, and loads one small module.
import { safeLine } from "@netlab/core/terminal";
import { EXIT } from "./program.js";

/** Longest `lab:` or `hint:` line printed, in characters; longer ones end in `…`. */
export const MAX_MESSAGE_CHARS = 500;

/** A mistake in how the command was called: printed with the usage hint, exit 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** Thrown by an action to end with a given exit code after printing its own message. */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Wraps a command action: any error becomes one line on stderr (message, then hint) and an exit
 * code (2 for usage errors, 1 for failures), never a stack trace.
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void> | void,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}

/** Prints `err` as `lab: message` plus its hint and returns the exit code it deserves. */
export function reportError(err: unknown): number {
  if (err instanceof ExitCode) return err.code;
  const e = err as { message?: string; hint?: string; code?: string };
  // Messages and hints may quote a peer (a server's error text, a file name): shown, never obeyed,
  // and cut so that a hostile peer cannot flood the terminal with one "line".
  const message = safeLine(e?.message ?? String(err), MAX_MESSAGE_CHARS);
  process.stderr.write(`lab: ${message}\n`);
  if (e?.hint) process.stderr.write(`hint: ${safeLine(e.hint, MAX_MESSAGE_CHARS)}\n`);
  if (err instanceof UsageError) return EXIT.usage;
  if (!(err instanceof Error) || !("code" in err)) {
    // An unexpected bug: keep the stack where a developer can find it.
    if (process.env.NETLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
  return EXIT.failure;
}
