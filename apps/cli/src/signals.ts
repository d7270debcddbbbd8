/**
 * Exit code of a command that Ctrl-C or SIGTERM stopped before its job was done, as a shell reports
 * an interrupted command. Servers, whose job is to run until stopped, exit 0 after shutting down.
 */
export const EXIT_INTERRUPTED = 130;

/** Options for {@link onInterrupt}. */
export interface InterruptOptions {
  /** Called before the process exits on a second signal, to say why it did not wait. */
  onAgain?: (signal: NodeJS.Signals) => void;
}

/**
 * Every command's Ctrl-C and SIGTERM: the first calls `first` (shut down, abort, say goodbye), a
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
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
}
