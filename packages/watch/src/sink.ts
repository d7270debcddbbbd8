import { open } from "node:fs/promises";
import { WatchError } from "./errors.js";

/** Options for {@link LineSink}. */
export interface LineSinkOptions<T> {
  /** Items held while the writer is behind; past it the oldest are dropped. Default 10 000. */
  maxQueuedItems?: number;
  /** One item as its line (no newline). Called when the item is written, not when queued. */
  format(item: T): string;
  /** The line that stands for `count` items dropped just before `next` (may return undefined: say nothing). */
  dropped?(count: number, next: T | undefined): string | undefined;
}

/** Default {@link LineSinkOptions.maxQueuedItems}. */
export const SINK_MAX_QUEUED_ITEMS = 10_000;

/** Items formatted and written per write at most. */
const SINK_BATCH_ITEMS = 1024;

interface Target {
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Lines to a file or a stream without ever making the producer wait: items go into a bounded ring;
 * a writer takes everything queued in one write; when the ring is full the oldest item is dropped
 * and counted, and the next line written is preceded by `dropped(count)`'s line, so the count is exact.
 * @example
 * const sink = await LineSink.open("events.jsonl", { format: (o) => JSON.stringify(o) });
 * sink.push({ hello: 1 }); await sink.close();
 */
export class LineSink<T> {
  readonly #target: Target;
  readonly #o: Required<Omit<LineSinkOptions<T>, "dropped">> & Pick<LineSinkOptions<T>, "dropped">;
  readonly #ring: (T | undefined)[];
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
    this.#ring = new Array(this.#o.maxQueuedItems);
  }

  /**
   * A sink writing to `path` (created or truncated), or to `stream` (stderr) when `path` is undefined.
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
        write: (text) =>
          new Promise<void>((resolve) => {
            if (stream.write(text)) resolve();
            else stream.once("drain", resolve);
          }),
        close: async () => {},
      };
      return new LineSink(target, options);
    }
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, "w");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? "its folder does not exist" : (err as Error).message;
      throw new WatchError("FILE_ERROR", `cannot write ${path}: ${why}`, {
        hint: "create the folder first, or give a path in an existing one",
        cause: err,
      });
    }
    // One buffer reused for every write (writes never overlap): no large allocation per batch.
    let buffer = Buffer.allocUnsafe(64 * 1024);
    const target: Target = {
      write: async (text) => {
        const size = Buffer.byteLength(text);
        if (size > buffer.length) buffer = Buffer.allocUnsafe(Math.max(size, buffer.length * 2));
        buffer.write(text, 0, size);
        // A pipe may take part of a write: go on from where it stopped.
        for (let at = 0; at < size; ) at += (await fh.write(buffer, at, size - at)).bytesWritten;
      },
      close: () => fh.close(),
    };
    return new LineSink(target, options);
  }

  /** Items waiting to be written. */
  get queued(): number {
    return this.#size;
  }

  /** Queues an item; never waits. */
  push(item: T): void {
    const ring = this.#ring;
    const cap = ring.length;
    if (this.#size === cap) {
      // Full: the oldest goes, counted.
      ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % cap;
      this.#size--;
      this.#dropped++;
      this.droppedTotal++;
    }
    ring[(this.#head + this.#size) % cap] = item;
    this.#size++;
    if (this.#writing === undefined && this.#failure === undefined) this.#writing = this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#size > 0 || this.#dropped > 0) {
        const text = this.#takeBatch();
        if (text.length > 0) await this.#target.write(text);
      }
    } catch (err) {
      this.#failure = err as Error;
    } finally {
      this.#writing = undefined;
    }
  }

  #takeBatch(): string {
    const ring = this.#ring;
    const cap = ring.length;
    const parts: string[] = [];
    if (this.#dropped > 0) {
      const line = this.#o.dropped?.(this.#dropped, this.#size > 0 ? ring[this.#head] : undefined);
      this.#dropped = 0;
      if (line !== undefined) parts.push(line);
    }
    // A bounded batch: after a stall the ring may hold thousands of lines, and formatting them all
    // in one turn would hold up the sockets; the write's await lets them run between batches.
    for (let n = 0; n < SINK_BATCH_ITEMS && this.#size > 0; n++) {
      const item = ring[this.#head] as T;
      ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % cap;
      this.#size--;
      parts.push(this.#o.format(item));
    }
    return parts.length === 0 ? "" : `${parts.join("\n")}\n`;
  }

  /** Writes what is queued, then closes the file. Rejects with the write error, if one happened. */
  async close(): Promise<void> {
    while (this.#writing) await this.#writing;
    if (this.#size > 0 || this.#dropped > 0) await this.#drain();
    await this.#target.close();
    if (this.#failure) throw this.#failure;
  }
}
