import { withDefaults } from "@netlab/core";
import type { ByteQueue } from "./byte-queue.js";
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
// Shared by every codec: whole lines are decoded in one call (never `stream: true`), so neither
// holds state between calls, and a connection does not pay for its own.
const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const ENCODER = new TextEncoder();

/**
 * UTF-8 text lines ending in LF or CRLF. An over-long line fails with FRAME_TOO_LARGE as soon as the
 * queue passes the limit (so a reader holds at most `maxLineBytes + 1` plus one chunk) and is
 * dropped through its newline; a line that is not UTF-8 fails with INVALID_UTF8. Both are
 * recoverable: the next line decodes. At a clean end, a last line without a newline is a line.
 * @example const codec = lines({ maxLineBytes: 1024 }); codec.decode(queue) // → "hello"
 */
export function lines(opts: Partial<LineOptions> = {}): Codec<string> {
  const o = withDefaults(LINE_DEFAULTS, opts);
  requirePositiveInt("maxLineBytes", o.maxLineBytes, { allowInfinity: true });
  return new LineCodec(o);
}

class LineCodec implements Codec<string> {
  readonly #max: number;
  readonly #ending: string;
  /** Bytes at the front of the queue already searched for LF: a line in many chunks is scanned once. */
  #scanned = 0;
  /** Inside an over-long line that was already reported: drop bytes through the next LF. */
  #isDiscarding = false;

  constructor(o: LineOptions) {
    this.#max = o.maxLineBytes;
    this.#ending = o.crlf ? "\r\n" : "\n";
  }

  decode(buf: ByteQueue): string | undefined {
    for (;;) {
      const nl = buf.indexOf(LF, this.#scanned);
      if (nl === -1) {
        if (this.#isDiscarding) {
          buf.clear();
          this.#scanned = 0;
          return undefined;
        }
        // +1 leaves room for the CR of a CRLF line that is exactly at the limit.
        if (buf.size > this.#max + 1) {
          const seen = buf.size;
          buf.clear();
          this.#scanned = 0;
          this.#isDiscarding = true;
          throw this.#tooLarge(seen, "at least ");
        }
        this.#scanned = buf.size;
        return undefined;
      }
      this.#scanned = 0;
      if (this.#isDiscarding) {
        buf.discard(nl + 1);
        this.#isDiscarding = false;
        continue;
      }
      const endingBytes = nl > 0 && buf.byteAt(nl - 1) === CR ? 2 : 1;
      const size = nl + 1 - endingBytes;
      if (size > this.#max) {
        buf.discard(nl + 1);
        throw this.#tooLarge(size, "");
      }
      // Decoded with its ending, which is then cut from the string: for the common line that is a
      // whole chunk, take() returns the chunk itself and no view is made.
      return this.#text(buf.take(nl + 1), endingBytes, "line is not valid UTF-8");
    }
  }

  decodeEof(buf: ByteQueue): string | undefined {
    const line = this.decode(buf);
    if (line !== undefined || buf.size === 0) return line;
    this.#scanned = 0;
    const bytes = buf.takeAll();
    const endingBytes = bytes[bytes.length - 1] === CR ? 1 : 0;
    if (bytes.length - endingBytes > this.#max) throw this.#tooLarge(bytes.length - endingBytes, "");
    return this.#text(bytes, endingBytes, "last line is not valid UTF-8");
  }

  #text(bytes: Uint8Array, endingBytes: number, what: string): string {
    let text: string;
    try {
      text = UTF8.decode(bytes);
    } catch (cause) {
      throw new ProtocolError("INVALID_UTF8", what, {
        recoverable: true,
        cause,
        hint: "send text encoded as UTF-8",
      });
    }
    return endingBytes === 0 ? text : text.slice(0, text.length - endingBytes);
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

  #tooLarge(size: number, prefix: string): ProtocolError {
    return new ProtocolError(
      "FRAME_TOO_LARGE",
      `line of ${prefix}${size} bytes exceeds maxLineBytes (${this.#max}); it was dropped`,
      { recoverable: true, hint: "send shorter lines" },
    );
  }
}
