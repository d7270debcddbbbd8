import { withDefaults } from "@netlab/core";
import type { ByteQueue } from "./byte-queue.js";
import type { Codec } from "./codec.js";
import { ProtocolError, requireInt } from "./errors.js";

/** Options for {@link lengthPrefixed}. */
export interface LengthPrefixedOptions {
  /** Largest payload accepted, in bytes. Default 16 MiB; at most 2^32 - 1. */
  maxFrameBytes: number;
}

/** Defaults for {@link lengthPrefixed}. */
export const LENGTH_PREFIXED_DEFAULTS: Readonly<LengthPrefixedOptions> = { maxFrameBytes: 16 * 1024 * 1024 };

const MAX_U32 = 0xffff_ffff;

/**
 * Frames as a u32 big-endian length then that many payload bytes. The length is checked before the
 * body is waited for, so a hostile prefix costs 4 bytes (and the chunk it came in); a frame over
 * the limit is unrecoverable (the stream cannot be trusted after it). Frames may share memory with
 * the chunks they arrived in.
 * @example const codec = lengthPrefixed(); socket.write(codec.encode(payload));
 */
export function lengthPrefixed(opts: Partial<LengthPrefixedOptions> = {}): Codec<Uint8Array> {
  const o = withDefaults(LENGTH_PREFIXED_DEFAULTS, opts);
  requireInt("maxFrameBytes", o.maxFrameBytes, { min: 1, max: MAX_U32 });
  return new LengthPrefixedCodec(o.maxFrameBytes);
}

/** Body bytes of the frame being read, or -1 while reading a length (no length state kept otherwise). */
const HEADER = -1;
/** An over-long length was seen: the stream cannot be trusted after it. */
const FAILED = -2;

class LengthPrefixedCodec implements Codec<Uint8Array> {
  readonly #max: number;
  #body = HEADER;

  constructor(max: number) {
    this.#max = max;
  }

  decode(buf: ByteQueue): Uint8Array | undefined {
    if (this.#body === FAILED) {
      throw new ProtocolError("DECODER_FAILED", "the stream already failed; close the connection");
    }
    if (this.#body === HEADER) {
      if (buf.size < 4) return undefined;
      const size = buf.takeUint32BE();
      if (size > this.#max) {
        this.#body = FAILED;
        buf.clear();
        throw new ProtocolError(
          "FRAME_TOO_LARGE",
          `frame of ${size} bytes exceeds maxFrameBytes (${this.#max})`,
          {
            hint: "raise maxFrameBytes, or check that both sides speak the same protocol",
          },
        );
      }
      this.#body = size;
    }
    if (buf.size < this.#body) return undefined;
    const frame = buf.take(this.#body);
    this.#body = HEADER;
    return frame;
  }

  decodeEof(buf: ByteQueue): Uint8Array | undefined {
    const frame = this.decode(buf);
    if (frame !== undefined || (this.#body === HEADER && buf.size === 0)) return frame;
    const expected = this.#body === HEADER ? "a 4-byte length" : `${this.#body} bytes of payload`;
    const got = buf.size;
    buf.clear();
    this.#body = HEADER;
    throw new ProtocolError("TRUNCATED", `stream ended mid-frame: expected ${expected}, got ${got} bytes`);
  }

  encode(payload: Uint8Array): Uint8Array {
    if (payload.length > this.#max) {
      throw new ProtocolError(
        "FRAME_TOO_LARGE",
        `frame of ${payload.length} bytes exceeds maxFrameBytes (${this.#max})`,
      );
    }
    const out = new Uint8Array(4 + payload.length);
    new DataView(out.buffer).setUint32(0, payload.length, false);
    out.set(payload, 4);
    return out;
  }
}
