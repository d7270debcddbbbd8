/**
 * Exit code of a command that Ctrl-C or SIGTERM stopped before its job was done, as a shell reports
 * an interrupted command. Servers, whose job is to run until stopped, exit 0 after shutting down.
 */
export const EXIT_INTERRUPTED = 130;

/** Options for {@link onInterrupt}. */
export interface InterruptOptions {
  /** Called before the process exits on a second signal, to say why it did not wait. */
  onAgain?: (signal: NodeJS.Signals) => void;
  /**
   * Also take SIGHUP (the terminal closed) as the first signal, for a command with something to
   * clean up that a hang-up would otherwise leave behind (lab get's `FILE.part`).
   */
  hangup?: boolean;
}

/**
 * Every command's Ctrl-C and SIGTERM (and SIGHUP with `hangup`): the first calls `first` (shut down, abort, say goodbye), a
 * second exits at once with {@link EXIT_INTERRUPTED}, so one impatient user is never stuck.
 * Install it before printing a ready line: a script may signal the moment it reads that line.
 * Returns a function that detaches both handlers.
 */
export function onInterrupt(
  first: (signal: NodeJS.Signals) => void,
  options: InterruptOptions = {},
): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (++count > 1) {
      options.onAgain?.(signal);
      process.exit(EXIT_INTERRUPTED);
    }
    first(signal);
  };
  const signals: NodeJS.Signals[] = options.hangup ? ["SIGINT", "SIGTERM", "SIGHUP"] : ["SIGINT", "SIGTERM"];
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
