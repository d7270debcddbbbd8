/** Options every netlab error accepts: a hint for the user and the underlying cause. */
export interface NetlabErrorOptions {
  /** What the user can do about it, printed after the message by the CLI. */
  hint?: string;
  cause?: unknown;
}

/**
 * Base of every error netlab raises on purpose. Callers branch on `code`, never on `message`.
 * Each package subclasses it with its own union of codes; a code means one thing across packages.
 * @example throw new NetlabError("ADDRESS_IN_USE", "port 5001 is in use", { hint: "pick another --port" })
 */
export class NetlabError<C extends string = string> extends Error {
  readonly code: C;
  readonly hint: string | undefined;

  constructor(code: C, message: string, options: NetlabErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }

  /**
   * What `JSON.stringify` (a JSON log line, an HTTP error body) writes: an Error's message and
   * name are not own enumerable properties, so without this only `code` and `hint` survived.
   */
  toJSON(): { name: string; code: C; message: string; hint?: string } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/** Whether `err` is a netlab error, optionally with the given code. */
export function isNetlabError(err: unknown, code?: string): err is NetlabError {
  return err instanceof NetlabError && (code === undefined || err.code === code);
}

/**
 * A bad option value (a zero-sized buffer, a negative timeout), thrown when an object is built,
 * not later when the option is used, by validators not bound to a package's own error class.
 */
export class OptionError extends NetlabError<"INVALID_OPTION"> {}
