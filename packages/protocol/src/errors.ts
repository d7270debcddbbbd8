/** Options every netlab error accepts: a hint for the user and the underlying cause. */
export interface NetlabErrorOptions {
  /** What the user can do about it, printed after the message by the CLI. */
  hint?: string;
  cause?: unknown;
}

/**
 * Base of every error netlab raises on purpose. Callers branch on `code`, never on `message`.
 * @example throw new NetlabError("PORT_IN_USE", "port 5001 is in use", { hint: "pick another --port" })
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
}

/** Codes a decoder or encoder can fail with. */
export type ProtocolErrorCode =
  | "FRAME_TOO_LARGE"
  | "INVALID_UTF8"
  | "BAD_MESSAGE"
  | "TRUNCATED"
  | "INVALID_OPTION"
  | "DECODER_FAILED";

/** Options for a ProtocolError: whether the stream can go on after it. */
export interface ProtocolErrorOptions extends NetlabErrorOptions {
  /**
   * True when the decoder dropped the bad frame's bytes and can keep decoding: call `decode` again
   * for the frames after it. False means the stream is unusable.
   */
  recoverable?: boolean;
}

/**
 * A framing or message error. Recoverable errors (an over-long line, a bad JSON message) cost one
 * frame; unrecoverable ones (a bad length prefix) end the stream.
 */
export class ProtocolError extends NetlabError<ProtocolErrorCode> {
  readonly recoverable: boolean;

  constructor(code: ProtocolErrorCode, message: string, options: ProtocolErrorOptions = {}) {
    super(code, message, options);
    this.recoverable = options.recoverable ?? false;
  }
}

/** Whether `err` is a netlab error, optionally with the given code. */
export function isNetlabError(err: unknown, code?: string): err is NetlabError {
  return err instanceof NetlabError && (code === undefined || err.code === code);
}

/** Throws INVALID_OPTION unless `value` is a positive integer (or `Infinity` where allowed). */
export function requirePositiveInt(name: string, value: number, { allowInfinity = false } = {}): void {
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new ProtocolError("INVALID_OPTION", `${name} must be a positive integer, got ${String(value)}`);
  }
}
