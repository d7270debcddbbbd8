import type { Decoder } from "./codec.js";

/**
 * A decoder whose frames are `inner`'s frames passed through `fn`. The frame's bytes are taken
 * before `fn` runs, so when `fn` throws a recoverable ProtocolError only that frame is lost and the
 * next `decode` goes on after it.
 * @example const numbers = mapDecoder(lines(), (line) => Number(line));
 */
export function mapDecoder<A, B>(inner: Decoder<A>, fn: (frame: A) => B): Decoder<B> {
  return {
    decode(buf) {
      const frame = inner.decode(buf);
      return frame === undefined ? undefined : fn(frame);
    },
    decodeEof(buf) {
      const frame = inner.decodeEof(buf);
      return frame === undefined ? undefined : fn(frame);
    },
  };
}
