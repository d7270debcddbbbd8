import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { fsError, TransferError } from "./errors.js";
import type { Wire } from "./wire.js";

/** Tunables for moving file bytes; defaults measured on loopback (see docs/benchmarks.md). */
export interface StreamOptions {
  /** Size of each file read on the sending side, in bytes. Default 1 MiB. */
  readBlockBytes?: number;
  /** Bytes gathered before one positioned write on the receiving side. Default 1 MiB. */
  writeBatchBytes?: number;
  /**
   * On the receiving side, start an fdatasync after every this many bytes, so the kernel writes
   * back while data is still arriving and the final fsync is short. Default 64 MiB; Infinity = only at the end.
   */
  syncEveryBytes?: number;
  /**
   * fsync the received file (and its folder) before it gets its name. Default true: a file that
   * appeared survives a crash. false trades that for speed on scratch data (the page cache only).
   */
  fsync?: boolean;
  /**
   * Called on the receiving side after every `releaseEveryBytes`: a place for the application to
   * run a minor GC, since every socket read allocates a fresh buffer and V8 otherwise lets ~64 MiB
   * of them pile up before it collects. Default: nothing.
   */
  releaseMemory?: () => void;
  /** See `releaseMemory`. Default 8 MiB. */
  releaseEveryBytes?: number;
  /**
   * Cap on file bytes per second, on whichever side applies it (a slow reader slows the sender
   * through TCP backpressure). Default Infinity. For watching progress, and for tests that must
   * interrupt a transfer midway.
   */
  rateBytesPerSecond?: number;
}

/** Defaults for {@link StreamOptions}. */
export const STREAM_DEFAULTS = {
  readBlockBytes: 1024 * 1024,
  writeBatchBytes: 1024 * 1024,
  syncEveryBytes: 64 * 1024 * 1024,
  releaseEveryBytes: 8 * 1024 * 1024,
  rateBytesPerSecond: Number.POSITIVE_INFINITY,
  fsync: true,
} as const;

/** Returns a function that waits until `bytes` are due at `rate` bytes/s since it was made. */
function pacer(
  rate: number | undefined,
  signal?: AbortSignal,
): ((bytes: number) => Promise<void>) | undefined {
  if (rate === undefined || !Number.isFinite(rate)) return undefined;
  const started = performance.now();
  return async (bytes) => {
    const wait = started + (bytes / rate) * 1000 - performance.now();
    if (wait > 1) await sleep(wait, undefined, { signal });
  };
}

/** Writes `buffers` at `position`, looping on short writes. Replaceable to inject faults in tests. */
export type WriteFn = (fh: FileHandle, buffers: Uint8Array[], position: number) => Promise<void>;

/** The default {@link WriteFn}: one writev per batch. */
export const writeAll: WriteFn = async (fh, buffers, position) => {
  let list = buffers;
  let at = position;
  for (let guard = 0; list.length > 0; guard++) {
    const { bytesWritten } = await fh.writev(list, at);
    if (bytesWritten === 0 && guard > 1000) throw new Error("write made no progress");
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const b of list) {
      if (skip >= b.length) skip -= b.length;
      else {
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    list = rest;
  }
};

/** Hashes the first `length` bytes of `fh` into `hash` (or a new SHA-256) and returns it. */
export async function hashPrefix(fh: FileHandle, length: number, what: string, hash?: Hash): Promise<Hash> {
  const h = hash ?? createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.min(length, 1024 * 1024) || 1);
  let at = 0;
  while (at < length) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - at), at).catch((err) => {
      throw fsError(err, `reading ${what}`);
    });
    if (bytesRead === 0) throw new TransferError("FILE_CHANGED", `${what} became shorter while being read`);
    h.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return h;
}

/** Progress callback: bytes of the file done so far (from 0, including a resumed prefix). */
export type OnBytes = (bytesDone: number) => void;

/**
 * Sends bytes [start, end) of `fh` over `wire`, updating `hash` as they go (one pass). The next
 * block is read from disk while the previous one drains into the socket; memory stays at about
 * two blocks plus the socket buffer.
 */
export async function sendRange(
  wire: Wire,
  fh: FileHandle,
  start: number,
  end: number,
  opts: {
    hash?: Hash;
    onBytes?: OnBytes;
    what: string;
    signal?: AbortSignal;
    readBlockBytes?: number;
    rateBytesPerSecond?: number;
  },
): Promise<void> {
  const pace = pacer(opts.rateBytesPerSecond, opts.signal);
  const rate = opts.rateBytesPerSecond ?? Number.POSITIVE_INFINITY;
  // Rate-limited sends go in blocks of ~1/20 s, so the pace is smooth.
  const block = Math.min(
    opts.readBlockBytes ?? STREAM_DEFAULTS.readBlockBytes,
    Math.max(16 * 1024, Math.floor(rate / 20)),
  );
  // Blocks are recycled once the socket has handed every queued byte to the kernel, so a long file
  // costs a few blocks of memory instead of a stream of garbage for the GC to catch up with.
  const free: Buffer[] = [];
  let inFlight: Buffer[] = [];
  const read = async (at: number): Promise<Buffer | undefined> => {
    if (at >= end) return undefined;
    const want = Math.min(block, end - at);
    const pooled = free.pop();
    const buf = pooled && pooled.length >= want ? pooled.subarray(0, want) : Buffer.allocUnsafeSlow(want);
    let filled = 0;
    while (filled < buf.length) {
      const { bytesRead } = await fh.read(buf, filled, buf.length - filled, at + filled).catch((err) => {
        throw fsError(err, `reading ${opts.what}`);
      });
      if (bytesRead === 0) {
        throw new TransferError("FILE_CHANGED", `${opts.what} became shorter while being sent`, {
          hint: "send it again once nothing is writing to it",
        });
      }
      filled += bytesRead;
    }
    return buf;
  };
  let at = start;
  let next = read(at);
  for (;;) {
    const buf = await next;
    if (buf === undefined) return;
    opts.signal?.throwIfAborted();
    at += buf.length;
    next = read(at);
    // A rejected read-ahead is awaited on the next turn; keep it from being reported unhandled meanwhile.
    next.catch(() => {});
    opts.hash?.update(buf);
    if (pace) await pace(at - start);
    inFlight.push(buf);
    await wire.write(buf);
    if (wire.bufferedBytes === 0) {
      for (const b of inFlight) if (free.length < 2 && b.length === block) free.push(b);
      inFlight = [];
    }
    opts.onBytes?.(at);
  }
}

/**
 * Receives exactly `end - start` raw bytes from `wire` into `fh` at `start` (or, with `end`
 * undefined, everything until the peer closes), updating `hash` as they arrive. Chunks are
 * gathered into batches of `writeBatchBytes` and written with one writev while the next batch
 * arrives; at most two batches are held, and the wire pauses the socket beyond its own bound, so
 * memory stays bounded end to end. Returns the offset reached. When the wire fails midway, the bytes
 * already received are written before the error is rethrown, so the file holds all of them.
 */
export async function receiveRange(
  wire: Wire,
  fh: FileHandle,
  start: number,
  end: number | undefined,
  opts: StreamOptions & {
    hash?: Hash;
    onBytes?: OnBytes;
    what: string;
    write?: WriteFn;
    signal?: AbortSignal;
    /** With `end` undefined: more than this many bytes is TOO_LARGE. Default Infinity. */
    maxBytes?: number;
  },
): Promise<number> {
  const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  // Open-ended, one byte past the cap is enough to know the peer sent too much.
  const limit = end ?? start + maxBytes + 1;
  const batchBytes = opts.writeBatchBytes ?? STREAM_DEFAULTS.writeBatchBytes;
  const syncEvery =
    opts.fsync === false ? Number.POSITIVE_INFINITY : (opts.syncEveryBytes ?? STREAM_DEFAULTS.syncEveryBytes);
  const write = opts.write ?? writeAll;
  const releaseEvery = opts.releaseEveryBytes ?? STREAM_DEFAULTS.releaseEveryBytes;
  const pace = pacer(opts.rateBytesPerSecond, opts.signal);
  let sinceRelease = 0;
  let received = start;
  let written = start;
  let sinceSync = 0;
  let pending: Promise<void> | undefined;
  let syncing: Promise<void> | undefined;
  let batch: Uint8Array[] = [];
  let batched = 0;
  const flush = async () => {
    if (pending) await pending;
    pending = undefined;
    if (batched === 0) return;
    const at = written;
    const buffers = batch;
    const size = batched;
    written += size;
    batch = [];
    batched = 0;
    pending = write(fh, buffers, at).then(
      () => {
        opts.onBytes?.(at + size);
        sinceSync += size;
        if (sinceSync >= syncEvery && syncing === undefined) {
          sinceSync = 0;
          // Started, not awaited: write-back proceeds while the next batches arrive.
          syncing = fh.datasync().then(
            () => {
              syncing = undefined;
            },
            () => {
              syncing = undefined;
            },
          );
        }
      },
      (err) => {
        throw fsError(err, `writing ${opts.what}`);
      },
    );
    pending.catch(() => {});
  };
  try {
    while (received < limit) {
      opts.signal?.throwIfAborted();
      const chunk = await wire.readChunk(limit - received);
      if (chunk === undefined) {
        if (end === undefined) break;
        throw new TransferError(
          "CONNECTION_LOST",
          `connection lost after ${received} of ${end} bytes of ${opts.what}`,
        );
      }
      if (end === undefined && received + chunk.length > start + maxBytes) {
        throw new TransferError("TOO_LARGE", `more than ${maxBytes} bytes of ${opts.what} arrived`, {
          hint: "pass a larger --max-size if that much is expected",
        });
      }
      opts.hash?.update(chunk);
      batch.push(chunk);
      batched += chunk.length;
      received += chunk.length;
      sinceRelease += chunk.length;
      if (batched >= batchBytes) await flush();
      if (sinceRelease >= releaseEvery && opts.releaseMemory) {
        sinceRelease = 0;
        opts.releaseMemory();
      }
      if (pace) {
        // Flushing first makes the .part (and progress) follow the pace, not lag a batch behind.
        await flush();
        await pace(received - start);
      }
    }
    await flush();
    if (pending) await pending;
    return received;
  } catch (err) {
    // Cut off (lost, stalled, interrupted): what arrived is a good prefix, so it goes to the file
    // and a resume need not fetch it again. A failed write rejects the flush before it writes more.
    await flush().catch(() => {});
    throw err;
  } finally {
    // Leave no write in flight behind an error: the caller may truncate or unlink the file next.
    await pending?.catch(() => {});
    await syncing;
  }
}
