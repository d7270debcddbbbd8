import { withDefaults } from "@netlab/core";
import type { Codec } from "./codec.js";
import { ProtocolError, requirePositiveInt } from "./errors.js";

/** Options for {@link lines}. */
export interface LineOptions {
  /** Longest line accepted, in bytes, not counting the line ending. Default 64 KiB. */
  maxLineBytes: number;
  /** Encode lines with CRLF instead of LF. Decoding always accepts both. Default false. */
  crlf: boolean;
}

/** Defaults for {@link lines}. */
export const LINE_DEFAULTS: Readonly<LineOptions> = { maxLineBytes: 64 * 1024, crlf: false };

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);
const NO_PARTS: Uint8Array[] = [];
// Shared by every codec: whole lines are decoded in one call (never `stream: true`), so neither
// holds state between calls, and a connection does not pay for its own.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/**
 * UTF-8 text lines ending in LF or CRLF. An over-long line fails with FRAME_TOO_LARGE as soon as the
 * limit is passed (never buffering more than `maxLineBytes + 1`) and is skipped through its newline;
 * a line that is not UTF-8 fails with INVALID_UTF8. Both are recoverable: the next line decodes.
 * @example const codec = lines({ maxLineBytes: 1024 }); codec.push(bytes) // → ["hello"]
 */
export function lines(opts: Partial<LineOptions> = {}): Codec<string> {
  const o = withDefaults(LINE_DEFAULTS, opts);
  requirePositiveInt("maxLineBytes", o.maxLineBytes, { allowInfinity: true });
  return new LineCodec(o);
}

class LineCodec implements Codec<string> {
  readonly #max: number;
  readonly #ending: string;
  /** A line's bytes so far, when it came in several chunks; most lines never need the array. */
  #parts: Uint8Array[] = NO_PARTS;
  #size = 0;
  /** Inside an over-long line that was already reported: drop bytes through the next LF. */
  #discarding = false;
  /** Bytes after a recoverable error, decoded on the next push. */
  #pending: Uint8Array = EMPTY;

  constructor(o: LineOptions) {
    this.#max = o.maxLineBytes;
    this.#ending = o.crlf ? "\r\n" : "\n";
  }

  get bufferedBytes(): number {
    return this.#size + this.#pending.length;
  }

  push(input: Uint8Array): string[] {
    const chunk = this.#takePending(input);
    const frames: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) {
        const rest = chunk.subarray(start);
        if (this.#discarding) return frames;
        // +1 leaves room for the CR of a CRLF line that is exactly at the limit.
        if (this.#size + rest.length > this.#max + 1) {
          const seen = this.#size + rest.length;
          this.#reset();
          this.#discarding = true;
          throw this.#tooLarge(seen, frames, "at least ");
        }
        if (this.#parts === NO_PARTS) this.#parts = [rest];
        else this.#parts.push(rest);
        this.#size += rest.length;
        return frames;
      }
      if (start === 0 && nl === chunk.length - 1) {
        const line = this.#wholeChunkLine(chunk);
        if (line !== undefined) {
          frames.push(line);
          return frames;
        }
      }
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      const line = this.#join(piece);
      if (line.length > this.#max) {
        this.#pending = chunk.subarray(start);
        throw this.#tooLarge(line.length, frames, "");
      }
      try {
        frames.push(UTF8.decode(line));
      } catch (cause) {
        this.#pending = chunk.subarray(start);
        throw new ProtocolError("INVALID_UTF8", "line is not valid UTF-8", {
          recoverable: true,
          frames,
          cause,
          hint: "send text encoded as UTF-8",
        });
      }
    }
    return frames;
  }

  end(): string[] {
    const rest = this.#pending;
    this.#pending = EMPTY;
    const frames = rest.length > 0 ? this.push(rest) : [];
    if (this.#discarding || this.#size === 0) {
      this.#reset();
      return frames;
    }
    const line = this.#join(EMPTY);
    try {
      frames.push(UTF8.decode(line));
    } catch (cause) {
      throw new ProtocolError("INVALID_UTF8", "last line is not valid UTF-8", { frames, cause });
    }
    return frames;
  }

  encode(line: string): Uint8Array {
    if (line.includes("\n")) {
      throw new ProtocolError("BAD_MESSAGE", "a line to send must not contain a newline", {
        hint: "send each line separately",
      });
    }
    const bytes = ENCODER.encode(line + this.#ending);
    const size = bytes.length - this.#ending.length;
    if (size > this.#max) {
      throw new ProtocolError("FRAME_TOO_LARGE", `line of ${size} bytes exceeds maxLineBytes (${this.#max})`);
    }
    return bytes;
  }

  /**
   * The common case, a chunk that is exactly one line: decoded with its ending, which is then cut
   * from the string (cheaper than a view of the bytes without it). Undefined when that does not
   * apply or the line is bad, for the general path to handle and report.
   */
  #wholeChunkLine(chunk: Uint8Array): string | undefined {
    if (this.#size > 0 || this.#discarding) return undefined;
    const nl = chunk.length - 1;
    const endingBytes = nl > 0 && chunk[nl - 1] === CR ? 2 : 1;
    if (chunk.length - endingBytes > this.#max) return undefined;
    let text: string;
    try {
      text = UTF8.decode(chunk);
    } catch {
      return undefined;
    }
    return text.slice(0, text.length - endingBytes);
  }

  #takePending(input: Uint8Array): Uint8Array {
    const pending = this.#pending;
    if (pending.length === 0) return input;
    this.#pending = EMPTY;
    if (input.length === 0) return pending;
    const joined = new Uint8Array(pending.length + input.length);
    joined.set(pending);
    joined.set(input, pending.length);
    return joined;
  }

  /** Buffered parts + `tail`, without the line ending's CR; resets the buffer. */
  #join(tail: Uint8Array): Uint8Array {
    let line: Uint8Array;
    if (this.#parts.length === 0) {
      line = tail;
    } else {
      line = new Uint8Array(this.#size + tail.length);
      let at = 0;
      for (const part of this.#parts) {
        line.set(part, at);
        at += part.length;
      }
      line.set(tail, at);
    }
    this.#reset();
    return line.length > 0 && line[line.length - 1] === CR ? line.subarray(0, line.length - 1) : line;
  }

  #reset(): void {
    this.#parts = NO_PARTS;
    this.#size = 0;
  }

  #tooLarge(size: number, frames: string[], prefix: string): ProtocolError {
    return new ProtocolError(
      "FRAME_TOO_LARGE",
      `line of ${prefix}${size} bytes exceeds maxLineBytes (${this.#max}); it was dropped`,
      { recoverable: true, frames, hint: "send shorter lines" },
    );
  }
}
