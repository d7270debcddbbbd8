// Reading an answer's body: Content-Encoding decoding, and the limits checked before a chunk is
// handed on (maxBodyBytes, the decompression ratio), with the idle timer reset per chunk.
import type { IncomingMessage } from "node:http";
import { pipeline, type Readable, Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { NetlabError } from "@netlab/core";
import { bodyTooLarge, toURLError, URLError } from "./http-errors.js";
import type { Timers } from "./timers.js";

/** Decoded bodies up to this size (1 MiB) are never refused by the ratio: small ones compress well. */
export const DECOMPRESSION_RATIO_FLOOR_BYTES = 1024 * 1024;

/** Content codings decoded, outermost last; any other coding leaves the body as the server sent it. */
const DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(),
  "x-gzip": () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/** More codings than this on one body (`gzip, gzip, …`) is refused: each costs a decoder's memory. */
const MAX_CODINGS = 4;

/** The limits that apply while a body is read. */
export interface BodyLimits {
  maxBodyBytes: number;
  maxDecompressionRatio: number;
}

export function parseLength(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** The codings to undo, in the order to undo them; empty when the body is to be kept as sent. */
export function codingsOf(header: string | undefined, url: string): string[] {
  if (header === undefined) return [];
  const codings = header
    .split(",")
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length > MAX_CODINGS) {
    throw new URLError("BAD_CONTENT_ENCODING", `the body of ${url} has ${codings.length} content codings`, {
      reason: "Unrecognized content encoding",
      url,
      hint: `at most ${MAX_CODINGS} are decoded; the server is misbehaving`,
    });
  }
  // A coding we cannot undo: the bytes are kept as sent (as curl without --compressed).
  if (!codings.every((c) => Object.hasOwn(DECODERS, c))) return [];
  return codings.reverse();
}

/**
 * The body as it arrives, decoded, with the limits enforced before each chunk is handed on: a
 * chunk past maxBodyBytes, or past the decompression ratio, is never yielded. Ends (or fails) with
 * the response destroyed.
 */
export async function* readBody(
  res: IncomingMessage,
  url: string,
  timers: Timers,
  limits: BodyLimits,
): AsyncGenerator<Uint8Array> {
  let wireBytes = 0;
  let decodedBytes = 0;
  let isWaiting = false;
  const streams: Readable[] = [res];
  try {
    const codings = codingsOf(res.headers["content-encoding"], url);
    let source: Readable = res;
    if (codings.length > 0) {
      const count = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          wireBytes += chunk.length;
          timers.reset();
          timers.lowSpeed.add(chunk.length);
          done(null, chunk);
        },
      });
      const decoders = codings.map((c) => DECODERS[c]!());
      streams.push(count, ...decoders);
      // Errors reach the reader through the last stream's iterator; the callback only has to exist.
      pipeline([res, count, ...decoders], () => {});
      source = decoders.at(-1)!;
    }
    // The speed limit counts only the time spent waiting for a chunk, never the caller's time
    // between chunks (a slow reader of our output is not a slow server).
    timers.lowSpeed.begin();
    isWaiting = true;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      timers.lowSpeed.end();
      isWaiting = false;
      if (codings.length === 0) {
        wireBytes += chunk.length;
        timers.reset();
        timers.lowSpeed.add(chunk.length);
      }
      decodedBytes += chunk.length;
      if (decodedBytes > limits.maxBodyBytes) {
        throw bodyTooLarge(url, limits.maxBodyBytes, "is larger");
      }
      if (
        codings.length > 0 &&
        decodedBytes > DECOMPRESSION_RATIO_FLOOR_BYTES &&
        decodedBytes > limits.maxDecompressionRatio * wireBytes
      ) {
        throw new URLError(
          "DECOMPRESSION_BOMB",
          `the ${codings.join("+")} body of ${url} grew to ${decodedBytes} bytes from ${wireBytes} received: more than ${limits.maxDecompressionRatio} times larger, a likely decompression bomb`,
          {
            reason: "decompression bomb",
            url,
            hint: "raise --max-ratio if you trust the server",
          },
        );
      }
      yield chunk;
      timers.lowSpeed.begin();
      isWaiting = true;
    }
  } catch (err) {
    if (err instanceof NetlabError) throw err;
    const broke = toURLError(err, url, timers);
    if (broke.code !== "CONNECTION_FAILED") throw broke;
    const length = parseLength(res.headers["content-length"]);
    throw new URLError(
      "CONNECTION_FAILED",
      `the connection to ${new URL(url).host} broke after ${wireBytes}${length === undefined ? "" : ` of ${length}`} bytes of the body`,
      {
        reason: "connection broken",
        url,
        cause: err,
        hint: "the server closed the connection early; try again",
      },
    );
  } finally {
    if (isWaiting) timers.lowSpeed.end();
    for (const s of streams) s.destroy();
  }
}

export async function readCapped(
  res: IncomingMessage,
  max: number,
  timers: Timers,
  url: string,
  limits: BodyLimits,
): Promise<[Uint8Array, boolean]> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  // The cap is ours, not the caller's maxBodyBytes: an error body is kept short whatever its size.
  for await (const chunk of readBody(res, url, timers, {
    ...limits,
    maxBodyBytes: Number.POSITIVE_INFINITY,
  })) {
    const room = max - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      size = max;
      truncated = true;
      break;
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return [concat(chunks, size), truncated];
}

export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
