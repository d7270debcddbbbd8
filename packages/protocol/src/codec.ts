import type { ByteQueue } from "./byte-queue.js";

/**
 * Turns bytes into frames, tokio-style: the reader owns the bytes (a {@link ByteQueue}) and asks
 * for one frame at a time. A decoder keeps only small state between calls (where it stopped
 * looking, a frame's announced length); whatever the chunking, the frames are the same.
 *
 * - `decode(buf)` takes one frame's bytes from the front of `buf` and returns the frame, or
 *   returns undefined when `buf` holds no whole frame yet (it may have dropped bytes it will never
 *   use, such as the rest of an over-long line). It throws ProtocolError for a bad frame: when
 *   `recoverable`, that frame's bytes are gone and the next call goes on after them; otherwise the
 *   stream is unusable. It throws FRAME_TOO_LARGE as soon as `buf` passes the limit, so a reader
 *   that calls it after each chunk holds at most the limit plus one chunk.
 * - `decodeEof(buf)` is called instead at a clean end of input (FIN): the next frame, a final
 *   unterminated one where the framing allows it, undefined when nothing is left, or TRUNCATED.
 *
 * Frames are never `undefined`.
 */
export interface Decoder<T> {
  decode(buf: ByteQueue): T | undefined;
  decodeEof(buf: ByteQueue): T | undefined;
}

/** Turns a value into the bytes of one frame. */
export interface Encoder<T> {
  encode(value: T): Uint8Array;
}

/** A decoder and an encoder for the same frame type. */
export interface Codec<T> extends Decoder<T>, Encoder<T> {}
