import { NetlabError, type NetlabErrorOptions, optionChecks } from "@netlab/core";

/** Codes a decoder or encoder can fail with. */
export type ProtocolErrorCode =
  | "FRAME_TOO_LARGE"
  | "INVALID_UTF8"
  | "BAD_MESSAGE"
  | "TRUNCATED"
  /** A bad option value (a zero maxLineBytes; readChunk(maxBytes) with maxBytes < 1). */
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

/** The option validators, throwing INVALID_OPTION as a ProtocolError. */
export const { requireInt, requirePositiveInt } = optionChecks(ProtocolError);
