import { ProtocolError } from "./errors.js";

/**
 * Turns a byte stream into frames. Stateful: one instance per connection.
 * Whatever the chunk boundaries (one byte at a time included), the frames are the same.
 */
export interface Decoder<T> {
  /**
   * Feeds bytes and returns the frames they complete; the rest stays buffered, never more than the
   * decoder's limit. Throws ProtocolError; when `recoverable`, push again (an empty chunk is fine).
   */
  push(chunk: Uint8Array): T[];
  /** Signals end of input; returns a final unterminated frame where the framing allows one, else throws TRUNCATED. */
  end(): T[];
  /** Bytes currently held by the decoder (bounded by its limit). */
  readonly bufferedBytes: number;
}

/** Turns a value into the bytes of one frame. */
export interface Encoder<T> {
  encode(value: T): Uint8Array;
}

/** A decoder and an encoder for the same frame type. */
export interface Codec<T> extends Decoder<T>, Encoder<T> {}

const EMPTY = new Uint8Array(0);

/**
 * Pushes `chunk` and returns, in stream order, every frame and every recoverable error (as a
 * ProtocolError item) — so a server can answer a bad line in its place without losing the frames
 * around it. Unrecoverable errors are thrown.
 * @example for (const item of decodeChunk(decoder, chunk)) item instanceof ProtocolError ? reply(item.message) : handle(item);
 */
export function decodeChunk<T>(decoder: Decoder<T>, chunk: Uint8Array): Array<T | ProtocolError> {
  const out: Array<T | ProtocolError> = [];
  let input = chunk;
  // Each recoverable error consumes at least one byte of the chunk, so this ends.
  for (let i = 0; i <= chunk.length + 1; i++) {
    try {
      for (const frame of decoder.push(input)) out.push(frame);
      return out;
    } catch (err) {
      if (!(err instanceof ProtocolError) || !err.recoverable) throw err;
      for (const frame of err.frames as T[]) out.push(frame);
      out.push(err);
      input = EMPTY;
    }
  }
  throw new ProtocolError("DECODER_FAILED", "decoder made no progress after a recoverable error");
}
