import { withDefaults } from "@netlab/core";
import { ByteQueue } from "./byte-queue.js";
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
 * body is buffered, so a hostile prefix costs 4 bytes; a frame over the limit is unrecoverable
 * (the stream cannot be trusted after it). Frames may share memory with the pushed chunks.
 * @example const codec = lengthPrefixed(); socket.write(codec.encode(payload));
 */
export function lengthPrefixed(opts: Partial<LengthPrefixedOptions> = {}): Codec<Uint8Array> {
  const o = withDefaults(LENGTH_PREFIXED_DEFAULTS, opts);
  requireInt("maxFrameBytes", o.maxFrameBytes, { min: 1, max: MAX_U32 });
  return new LengthPrefixedCodec(o.maxFrameBytes);
}

type State = { kind: "header" } | { kind: "body"; size: number } | { kind: "failed" };

class LengthPrefixedCodec implements Codec<Uint8Array> {
  readonly #max: number;
  readonly #buf = new ByteQueue();
  #state: State = { kind: "header" };

  constructor(max: number) {
    this.#max = max;
  }

  get bufferedBytes(): number {
    return this.#buf.size;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#state.kind === "failed") {
      throw new ProtocolError("DECODER_FAILED", "the stream already failed; close the connection");
    }
    this.#buf.append(chunk);
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.#state.kind === "header") {
        if (this.#buf.size < 4) return frames;
        const size = this.#buf.takeUint32BE();
        if (size > this.#max) {
          this.#state = { kind: "failed" };
          this.#buf.clear();
          throw new ProtocolError(
            "FRAME_TOO_LARGE",
            `frame of ${size} bytes exceeds maxFrameBytes (${this.#max})`,
            { frames, hint: "raise maxFrameBytes, or check that both sides speak the same protocol" },
          );
        }
        this.#state = { kind: "body", size };
      }
      if (this.#state.kind !== "body" || this.#buf.size < this.#state.size) return frames;
      frames.push(this.#buf.take(this.#state.size));
      this.#state = { kind: "header" };
    }
  }

  end(): Uint8Array[] {
    if (this.#state.kind === "body" || this.#buf.size > 0) {
      const expected =
        this.#state.kind === "body" ? `${this.#state.size} bytes of payload` : "a 4-byte length";
      const got = this.#buf.size;
      this.#buf.clear();
      this.#state = { kind: "header" };
      throw new ProtocolError("TRUNCATED", `stream ended mid-frame: expected ${expected}, got ${got} bytes`);
    }
    return [];
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
