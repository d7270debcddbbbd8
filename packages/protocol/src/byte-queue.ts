/** Shared empty list: a queue gets its own array when its first chunk arrives. */
const NO_CHUNKS: Uint8Array[] = [];

/**
 * A FIFO of bytes that joins chunks only when a caller takes across them, so a stream of small
 * chunks costs one copy per frame rather than one per chunk. A reader owns one; decoders look into
 * it and take the bytes of each frame they decode.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = NO_CHUNKS;
  #head = 0; // offset into #chunks[0]
  #size = 0;

  /** Bytes held. */
  get size(): number {
    return this.#size;
  }

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** The byte at `index` (< size), without removing anything. */
  byteAt(index: number): number {
    let i = index + this.#head;
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    throw new RangeError(`byteAt(${index}) with ${this.#size} bytes queued`);
  }

  /** Position of the first `byte` at or after `from`, or -1: a search across chunks, no copy. */
  indexOf(byte: number, from = 0): number {
    const chunks = this.#chunks;
    let pos = 0; // queue position of the current chunk's first unread byte
    for (let i = 0; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const skip = i === 0 ? this.#head : 0;
      const end = pos + chunk.length - skip;
      if (from < end) {
        const at = chunk.indexOf(byte, skip + Math.max(0, from - pos));
        if (at !== -1) return pos + at - skip;
      }
      pos = end;
    }
    return -1;
  }

  /**
   * Removes and returns the first `n` bytes; `n` must be ≤ size. A view of the chunk when they lie
   * in one (the chunk itself when they are all of it), a copy only across chunks.
   */
  take(n: number): Uint8Array {
    if (n > this.#size) throw new RangeError(`take(${n}) with ${this.#size} bytes queued`);
    if (n === 0) return new Uint8Array(0);
    const first = this.#chunks[0]!;
    if (first.length - this.#head >= n) {
      const out = this.#head === 0 && n === first.length ? first : first.subarray(this.#head, this.#head + n);
      this.#skipInFirst(n, first);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0]!;
      const want = Math.min(n - filled, chunk.length - this.#head);
      out.set(chunk.subarray(this.#head, this.#head + want), filled);
      filled += want;
      this.#skipInFirst(want, chunk);
    }
    return out;
  }

  /** Removes and returns the rest of the first chunk, at most `maxBytes` of it (size must be > 0): no copy. */
  takeChunk(maxBytes: number): Uint8Array {
    const first = this.#chunks[0]!;
    return this.take(Math.min(first.length - this.#head, maxBytes));
  }

  /** Removes and returns everything. */
  takeAll(): Uint8Array {
    return this.take(this.#size);
  }

  /** Reads a big-endian u32 and removes it; size must be ≥ 4. */
  takeUint32BE(): number {
    const b = this.take(4);
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  }

  /** Drops the first `n` bytes. */
  discard(n: number): void {
    let left = Math.min(n, this.#size);
    while (left > 0) {
      const chunk = this.#chunks[0]!;
      const step = Math.min(left, chunk.length - this.#head);
      this.#skipInFirst(step, chunk);
      left -= step;
    }
  }

  clear(): void {
    this.#chunks = NO_CHUNKS;
    this.#head = 0;
    this.#size = 0;
  }

  #skipInFirst(n: number, first: Uint8Array): void {
    this.#head += n;
    this.#size -= n;
    if (this.#head === first.length) {
      this.#head = 0;
      if (this.#chunks.length === 1) this.#chunks = NO_CHUNKS;
      else this.#chunks.shift();
    }
  }
}
