/**
 * A fixed-size ring: keeps the last `capacity` items, oldest first. Capacity 0 keeps nothing.
 * @example const h = new History<string>(2); h.push("a"); h.push("b"); h.push("c"); h.items() // → ["b", "c"]
 */
export class History<T> {
  readonly capacity: number;
  readonly #items: Array<T | undefined>;
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`history capacity must be a non-negative integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#items = new Array(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.capacity === 0) return;
    const at = (this.#start + this.#size) % this.capacity;
    this.#items[at] = item;
    if (this.#size < this.capacity) this.#size++;
    else this.#start = (this.#start + 1) % this.capacity;
  }

  /** The items, oldest first. */
  items(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity] as T);
    return out;
  }
}
