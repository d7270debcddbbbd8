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
      process.exitCode = reportError(err, commandPath(args.at(-1)));
    }
  };
}

/** `lab server` for the Command commander passes an action last; `lab` when there is none. */
function commandPath(command: unknown): string {
  const names: string[] = [];
  for (
    let c = command as CommandLike | undefined;
    c && typeof c.name === "function";
    c = c.parent ?? undefined
  ) {
    names.unshift(c.name());
  }
  return names.length > 0 ? names.join(" ") : "lab";
}

interface CommandLike {
  name(): string;
  parent: CommandLike | null;
}

/** The hint a usage error without one of its own gets: the command's --help. */
function usageHint(commandPath: string): string {
  return `run '${commandPath} --help' for usage`;
}

/** The two lines every failure prints; both escaped and cut, as they may quote a peer or argv. */
function formatFailure(message: string, hint: string | undefined): string {
  // Messages and hints may quote a peer (a server's error text, a file name): shown, never obeyed,
  // and cut so that a hostile peer cannot flood the terminal with one "line".
  const head = `lab: ${safeLine(message, MAX_MESSAGE_CHARS)}\n`;
  return hint ? `${head}hint: ${safeLine(hint, MAX_MESSAGE_CHARS)}\n` : head;
}

/**
 * Rewrites one of commander's usage errors (`error: unknown option '--x'\n(Did you mean --y?)`)
 * in the format every failure uses: `lab: unknown option '--x'` + `hint: did you mean --y? run …`.
 * `ownHint` replaces the pointer to --help where the caller knows better.
 */
export function formatUsageError(text: string, commandPath: string, ownHint?: string): string {
  const [first = "", ...rest] = text.trim().split("\n");
  const suggestion = rest
    .join(" ")
    .replace(/^\((.*)\)$/, "$1")
    .trim();
  const hint = ownHint ?? usageHint(commandPath);
  return formatFailure(
    first.replace(/^error: /, ""),
    suggestion ? `${suggestion.charAt(0).toLowerCase()}${suggestion.slice(1)} ${hint}` : hint,
  );
}

/**
 * Prints `err` as `lab: message` plus its hint and returns the exit code it deserves. A usage
 * error without a hint of its own points at `commandPath --help`.
 */
export function reportError(err: unknown, commandPath = "lab"): number {
  if (err instanceof ExitCode) return err.code;
  const e = err as { message?: string; hint?: string; code?: string };
  const hint = e?.hint || (err instanceof UsageError ? usageHint(commandPath) : undefined);
  process.stderr.write(formatFailure(e?.message ?? String(err), hint));
  if (err instanceof UsageError) return EXIT.usage;
  // An error may name its own status (a TlsError: 35 for a failed handshake, 60 for an untrusted certificate, as curl).
  const own = (err as { exitCode?: unknown } | undefined)?.exitCode;
  if (typeof own === "number" && Number.isInteger(own) && own > 0 && own < 126) return own;
  if (!(err instanceof Error) || !("code" in err)) {
    // An unexpected bug: keep the stack where a developer can find it.
    if (process.env.NETLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
  return EXIT.failure;
}
