import { ByteQueue, type Decoder, ProtocolError } from "../src/index.js";

/** What a decoder produced for a stream: frames and recoverable error codes, in order. */
export type Outcome<T> = Array<{ frame: T } | { error: string }>;

/**
 * Appends `chunk` to `queue` and decodes every frame it completes, as a reader does: recoverable
 * errors are recorded in their place, unrecoverable ones thrown.
 */
export function decodeAll<T>(
  decoder: Decoder<T>,
  queue: ByteQueue,
  chunk: Uint8Array,
  out: Outcome<T> = [],
): Outcome<T> {
  queue.append(chunk);
  for (;;) {
    try {
      const frame = decoder.decode(queue);
      if (frame === undefined) return out;
      out.push({ frame });
    } catch (err) {
      if (!(err instanceof ProtocolError) || !err.recoverable) throw err;
      out.push({ error: err.code });
    }
  }
}

/** Feeds `chunks` to `decoder` over one queue (then the clean end), recording frames and recoverable errors in order. */
export function feed<T>(decoder: Decoder<T>, chunks: Uint8Array[], { end = true } = {}): Outcome<T> {
  const queue = new ByteQueue();
  const out: Outcome<T> = [];
  for (const chunk of chunks) decodeAll(decoder, queue, chunk, out);
  if (end)
    for (let frame = decoder.decodeEof(queue); frame !== undefined; frame = decoder.decodeEof(queue))
      out.push({ frame });
  return out;
}

/** Splits `bytes` at the given cut points (sorted, within range). */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of [...points, bytes.length]) {
    chunks.push(bytes.subarray(at, p));
    at = p;
  }
  return chunks;
}

/** One chunk per byte. */
export function byteByByte(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const frames = <T>(...values: T[]): Outcome<T> => values.map((frame) => ({ frame }));
