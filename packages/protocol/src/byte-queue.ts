/**
 * A FIFO of bytes that joins chunks only when a caller takes across them, so a stream of small
 * chunks costs one copy per frame rather than one per chunk.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0; // offset into #chunks[0]
  #size = 0;

  /** Bytes held. */
  get size(): number {
    return this.#size;
  }

  append(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
  }

  /** Removes and returns the first `n` bytes; `n` must be ≤ size. */
  take(n: number): Uint8Array {
    if (n > this.#size) throw new RangeError(`take(${n}) with ${this.#size} bytes queued`);
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first && first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
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
    this.#chunks = [];
    this.#head = 0;
    this.#size = 0;
  }

  #skipInFirst(n: number, first: Uint8Array): void {
    this.#head += n;
    this.#size -= n;
    if (this.#head === first.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}
