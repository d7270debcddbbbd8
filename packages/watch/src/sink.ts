import { constants } from "node:fs";
import { access, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { cannotWrite, WatchError } from "./errors.js";

/** Options for {@link LineSink}. */
export interface LineSinkOptions<T> {
  /** Items held while the writer is behind; past it the oldest are dropped. Default 10 000. */
  maxQueuedItems?: number;
  /** One item as its line (no newline). Called when the item is pushed. */
  format(item: T): string;
  /**
   * The line that stands for `count` lines dropped just before `next` (the next line written, as
   * text; undefined when none is queued). May return undefined: say nothing.
   */
  dropped?(count: number, next: string | undefined): string | undefined;
  /**
   * The mode of the file (a regular file already there is narrowed to it too): 0o600 for an output
   * that holds secrets. Default: a new file's usual mode (0o666 less the umask).
   */
  fileMode?: number;
  /**
   * Called once, with the error, when a write fails (a full disk, a FIFO whose reader has gone);
   * the sink then discards what is pushed, and {@link LineSink.close} no longer rejects with it.
   * Without it, close() rejects with the error.
   */
  failed?(err: Error): void;
  /**
   * Create (or truncate) the file when the first line is written, not in open(): a command that
   * fails its own checks after open() then leaves the path as it was. open() still checks the
   * path (its folder exists, it is not a folder, it may be written) and throws as it would have;
   * a FIFO is opened at once (nothing to create or truncate). Default false.
   */
  isOpenedOnFirstLine?: boolean;
}

/** Default {@link LineSinkOptions.maxQueuedItems}. */
export const SINK_MAX_QUEUED_ITEMS = 10_000;

/** Bytes written per write at most (more when one line is longer). */
const SINK_BATCH_BYTES = 256 * 1024;

interface Target {
  write(bytes: Buffer): Promise<void>;
  /** `create`: a file not yet opened (no line written) is created now; else it is left alone. */
  close(create: boolean): Promise<void>;
}

type FileHandle = Awaited<ReturnType<typeof open>>;

/**
 * Lines to a file or a stream without ever making the producer wait: each item is formatted when
 * pushed and its bytes go into a bounded ring outside the JS heap (lines held as strings or objects
 * until written would live long enough to cost the garbage collector more than formatting them);
 * a writer takes what is queued, up to 256 KiB a write; when the ring holds `maxQueuedItems` lines
 * the oldest is dropped and counted, and the next line written is preceded by `dropped(count)`'s
 * line, so the count is exact.
 * @example
 * const sink = await LineSink.open("events.jsonl", { format: (o) => JSON.stringify(o) });
 * sink.push({ hello: 1 }); await sink.close();
 */
export class LineSink<T> {
  readonly #target: Target;
  readonly #o: Required<Pick<LineSinkOptions<T>, "maxQueuedItems" | "format">> &
    Pick<LineSinkOptions<T>, "dropped" | "fileMode" | "failed">;
  /** The queued lines' bytes, newline included, oldest at #start, wrapping at its end. */
  #bytes = Buffer.allocUnsafe(64 * 1024);
  #start = 0;
  #used = 0;
  /** Each queued line's byte length, oldest at #head. */
  readonly #lengths: Uint32Array;
  #head = 0;
  #size = 0;
  #dropped = 0;
  /** Dropped in all, for the end-of-run summary. */
  droppedTotal = 0;
  #writing: Promise<void> | undefined;
  #failure: Error | undefined;

  private constructor(target: Target, options: LineSinkOptions<T>) {
    this.#target = target;
    this.#o = { maxQueuedItems: SINK_MAX_QUEUED_ITEMS, ...options };
    this.#lengths = new Uint32Array(this.#o.maxQueuedItems);
  }

  /**
   * A sink writing to `path` (created or truncated now, or at the first line with
   * {@link LineSinkOptions.isOpenedOnFirstLine}), or to `stream` (stderr) when `path` is undefined.
   * Throws WatchError FILE_ERROR when the file cannot be created (a missing folder).
   */
  static async open<T>(
    path: string | undefined,
    options: LineSinkOptions<T>,
    stream: NodeJS.WritableStream = process.stderr,
  ): Promise<LineSink<T>> {
    const max = options.maxQueuedItems ?? SINK_MAX_QUEUED_ITEMS;
    if (!Number.isInteger(max) || max < 1) {
      throw new WatchError(
        "INVALID_OPTION",
        `maxQueuedItems must be a whole number of 1 or more, got ${max}`,
      );
    }
    if (path === undefined) {
      const target: Target = {
        write: (bytes) =>
          new Promise<void>((resolve) => {
            if (stream.write(bytes)) resolve();
            else stream.once("drain", resolve);
          }),
        close: async () => {},
      };
      return new LineSink(target, options);
    }
    const openFile = async (): Promise<FileHandle> => {
      const fh = await open(path, "w", options.fileMode);
      try {
        // open's mode applies only to a file it creates; a FIFO or a terminal is left as it is.
        if (options.fileMode !== undefined && (await fh.stat()).isFile()) await fh.chmod(options.fileMode);
      } catch (err) {
        await fh.close().catch(() => {});
        throw err;
      }
      return fh;
    };
    let fh: FileHandle | undefined;
    let opening: Promise<FileHandle> | undefined;
    const ensureOpen = () => {
      opening ??= openFile().then((h) => {
        fh = h;
        return h;
      });
      return opening;
    };
    try {
      if (!options.isOpenedOnFirstLine || !(await checkWritable(path))) await ensureOpen();
    } catch (err) {
      throw cannotWrite(path, err);
    }
    const target: Target = {
      write: async (bytes) => {
        const h = await ensureOpen();
        // A pipe may take part of a write: go on from where it stopped.
        for (let at = 0; at < bytes.length; ) {
          at += (await h.write(bytes, at, bytes.length - at)).bytesWritten;
        }
      },
      close: async (create) => {
        if (fh) return fh.close();
        // Not opened: no line was written (or its open failed, said then).
        if (create && opening === undefined) await (await ensureOpen()).close();
      },
    };
    return new LineSink(target, options);
  }

  /** Items waiting to be written. */
  get queued(): number {
    return this.#size;
  }

  /** Queues an item; never waits. */
  push(item: T): void {
    // A failed sink writes nothing more: its lines would only fill the ring and count as dropped.
    if (this.#failure) return;
    const line = `${this.#o.format(item)}\n`;
    const length = Buffer.byteLength(line);
    const lengths = this.#lengths;
    if (this.#size === lengths.length) {
      // Full: the oldest goes, counted.
      this.#skip(lengths[this.#head]!);
      this.#head = this.#head + 1 === lengths.length ? 0 : this.#head + 1;
      this.#size--;
      this.#dropped++;
      this.droppedTotal++;
    }
    if (this.#used + length > this.#bytes.length) this.#grow(this.#used + length);
    const ring = this.#bytes;
    const end = (this.#start + this.#used) % ring.length;
    if (end + length <= ring.length) {
      ring.write(line, end, length);
    } else {
      const bytes = Buffer.from(line);
      const first = ring.length - end;
      bytes.copy(ring, end, 0, first);
      bytes.copy(ring, 0, first);
    }
    this.#used += length;
    lengths[(this.#head + this.#size) % lengths.length] = length;
    this.#size++;
    if (this.#writing === undefined && this.#failure === undefined) this.#writing = this.#drain();
  }

  #skip(length: number): void {
    this.#start = (this.#start + length) % this.#bytes.length;
    this.#used -= length;
  }

  /** A larger ring holding the same bytes, from offset 0. */
  #grow(needed: number): void {
    let size = this.#bytes.length * 2;
    while (size < needed) size *= 2;
    const bigger = Buffer.allocUnsafe(size);
    this.#copyOut(bigger, 0, this.#used);
    this.#bytes = bigger;
    this.#start = 0;
  }

  /** Copies `count` queued bytes from the oldest into `into` at `at`. */
  #copyOut(into: Buffer, at: number, count: number): void {
    const ring = this.#bytes;
    const first = Math.min(count, ring.length - this.#start);
    ring.copy(into, at, this.#start, this.#start + first);
    if (count > first) ring.copy(into, at + first, 0, count - first);
  }

  async #drain(): Promise<void> {
    try {
      while (this.#size > 0 || this.#dropped > 0) {
        const bytes = this.#takeBatch();
        if (bytes.length > 0) await this.#target.write(bytes);
      }
    } catch (err) {
      this.#failure = err as Error;
      this.#o.failed?.(this.#failure);
    } finally {
      this.#writing = undefined;
    }
  }

  /**
   * Whole lines from the oldest, up to SINK_BATCH_BYTES (at least one), after the dropped line if
   * some were: a copy, since the ring's bytes may be overwritten while the write is in flight.
   */
  #takeBatch(): Buffer {
    let head = Buffer.alloc(0);
    if (this.#dropped > 0) {
      let next: string | undefined;
      if (this.#size > 0) {
        const first = Buffer.allocUnsafe(this.#lengths[this.#head]!);
        this.#copyOut(first, 0, first.length);
        next = first.toString("utf8", 0, first.length - 1);
      }
      const line = this.#o.dropped?.(this.#dropped, next);
      this.#dropped = 0;
      if (line !== undefined) head = Buffer.from(`${line}\n`);
    }
    const lengths = this.#lengths;
    let count = 0;
    let n = 0;
    for (let i = this.#head; n < this.#size; n++) {
      const length = lengths[i]!;
      if (n > 0 && count + length > SINK_BATCH_BYTES) break;
      count += length;
      i = i + 1 === lengths.length ? 0 : i + 1;
    }
    const out = Buffer.allocUnsafe(head.length + count);
    head.copy(out, 0);
    this.#copyOut(out, head.length, count);
    this.#skip(count);
    this.#head = (this.#head + n) % lengths.length;
    this.#size -= n;
    return out;
  }

  /**
   * Writes what is queued, then closes the file. Rejects with the write error, if one happened
   * and no {@link LineSinkOptions.failed} took it. With {@link LineSinkOptions.isOpenedOnFirstLine}
   * and no line written, the file is created (empty) only if `isCreatedIfUnwritten` (default
   * true): false leaves the path as it was, for a command that failed before doing anything.
   */
  async close({ isCreatedIfUnwritten = true }: { isCreatedIfUnwritten?: boolean } = {}): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#failure === undefined && (this.#size > 0 || this.#dropped > 0)) await this.#drain();
    try {
      await this.#target.close(isCreatedIfUnwritten && this.#failure === undefined);
    } catch (err) {
      // Creating the file here is its first open: a failure is a write's, said the same way.
      if (this.#failure !== undefined) throw err;
      this.#failure = err as Error;
      this.#o.failed?.(this.#failure);
    }
    if (this.#failure && this.#o.failed === undefined) throw this.#failure;
  }
}

/**
 * Whether `path` may be opened for writing, checked without creating or truncating it: throws the
 * error open() would (ENOENT for a missing folder, EISDIR, EACCES, ENOTDIR). Returns true for a
 * file that can be opened later, false for a FIFO (opened now: it has nothing to lose).
 */
async function checkWritable(path: string): Promise<boolean> {
  let isFifo = false;
  try {
    const s = await stat(path);
    if (s.isDirectory()) {
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory, open '${path}'`), {
        code: "EISDIR",
      });
    }
    isFifo = s.isFIFO();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    // A new file: its folder must exist and take new entries.
    await access(dirname(path), constants.W_OK);
    return true;
  }
  await access(path, constants.W_OK);
  return !isFifo;
}
