import { ConcurrencyError, checkInt } from "./errors.js";
import { mayProceed, WaitList, type WaitOptions } from "./wait-list.js";

/** The order a queue keeps its items in. Queue is FIFO, LifoQueue a stack, PriorityQueue a heap. */
export interface QueueStore<T> {
  readonly size: number;
  push(item: T): void;
  /** Removes and returns the next item; only called when `size > 0`. */
  take(): T;
}

/** Options for the queues. */
export interface QueueOptions {
  /** Items the queue holds before `put` waits. An integer ≥ 1, or `Infinity` (the default). */
  maxsize?: number;
}

/**
 * A FIFO queue between producers and consumers, in the manner of Python's `queue.Queue`.
 * `put` waits while the queue is full, `get` while it is empty; both take `{ signal, timeout }`
 * and serve waiters in arrival order. `taskDone()` and `join()` let a producer wait until every
 * item put has been processed.
 *
 * Methods: `put`, `get`, `putNowait`, `getNowait` (throw `QUEUE_FULL` / `QUEUE_EMPTY`),
 * `qsize()`, `empty()`, `full()`, `maxsize`, `taskDone()`, `join()`.
 * @example
 * const q = new Queue<string>({ maxsize: 10 });
 * void (async () => { for (;;) { const job = await q.get(); await work(job); q.taskDone(); } })();
 * await q.put("a"); await q.put("b");
 * await q.join(); // both processed
 */
export class Queue<T> {
  /** The capacity: `Infinity` when unbounded. */
  readonly maxsize: number;
  readonly #store: QueueStore<T>;
  readonly #getters = new WaitList();
  readonly #putters = new WaitList();
  readonly #joiners = new WaitList();
  #unfinished = 0;

  constructor(opts: QueueOptions = {}, store: QueueStore<T> = new FifoStore<T>()) {
    this.maxsize = opts.maxsize ?? Number.POSITIVE_INFINITY;
    checkInt("maxsize", this.maxsize, 1, true);
    this.#store = store;
  }

  /** How many items the queue holds now. */
  qsize(): number {
    return this.#store.size;
  }

  /** Whether the queue holds no items. */
  empty(): boolean {
    return this.#store.size === 0;
  }

  /** Whether the queue holds `maxsize` items. */
  full(): boolean {
    return this.#store.size >= this.maxsize;
  }

  /** Items put but not yet marked done with `taskDone()`. */
  get unfinishedTasks(): number {
    return this.#unfinished;
  }

  /**
   * Adds `item`, waiting while the queue is full. Rejects with `TIMEOUT` or `ABORTED` (the item
   * is then not added).
   */
  put(item: T, opts: WaitOptions = {}): Promise<void> {
    // Invariant: putters wait only while the queue is full, so a free slot means nobody is ahead.
    if (!this.full() && mayProceed(opts)) {
      this.#add(item);
      return Promise.resolve();
    }
    return this.#putters.wait("putting into a full queue", opts, () => this.#add(item));
  }

  /** Adds `item` now, or throws `QUEUE_FULL`. */
  putNowait(item: T): void {
    if (this.full()) {
      throw new ConcurrencyError("QUEUE_FULL", `queue is full (maxsize ${this.maxsize})`, {
        hint: "use put() to wait for room, or raise maxsize",
      });
    }
    this.#add(item);
  }

  /** Removes and returns the next item, waiting while the queue is empty. */
  get(opts: WaitOptions = {}): Promise<T> {
    // Invariant: getters wait only while the queue is empty.
    if (!this.empty() && mayProceed(opts)) return Promise.resolve(this.#remove());
    return this.#getters.wait("getting from an empty queue", opts, () => this.#remove());
  }

  /** Removes and returns the next item now, or throws `QUEUE_EMPTY`. */
  getNowait(): T {
    if (this.empty()) {
      throw new ConcurrencyError("QUEUE_EMPTY", "queue is empty", { hint: "use get() to wait for an item" });
    }
    return this.#remove();
  }

  /**
   * Marks one item taken with `get` as processed. When every item put has been marked, `join()`
   * waiters wake. Calling it more often than items were put throws `RELEASED_TOO_OFTEN`.
   */
  taskDone(): void {
    if (this.#unfinished === 0) {
      throw new ConcurrencyError("RELEASED_TOO_OFTEN", "taskDone() called more times than items were put", {
        hint: "call taskDone() once per item you get()",
      });
    }
    this.#unfinished--;
    if (this.#unfinished === 0) this.#joiners.wakeAll();
  }

  /** Resolves when every item put so far has been marked with `taskDone()`. */
  join(opts: WaitOptions = {}): Promise<void> {
    if (this.#unfinished === 0 && mayProceed(opts)) return Promise.resolve();
    return this.#joiners.wait("joining a queue", opts, () => undefined);
  }

  #add(item: T): void {
    this.#store.push(item);
    this.#unfinished++;
    // A waiting getter takes an item now (the store decides which), so the queue never holds
    // an item while a getter waits.
    this.#getters.wakeOne();
  }

  #remove(): T {
    const item = this.#store.take();
    this.#putters.wakeOne();
    return item;
  }
}

/**
 * A last-in, first-out queue (a stack) with the same API as {@link Queue}.
 * @example const q = new LifoQueue<number>(); q.putNowait(1); q.putNowait(2); q.getNowait(); // 2
 */
export class LifoQueue<T> extends Queue<T> {
  constructor(opts: QueueOptions = {}) {
    super(opts, new StackStore<T>());
  }
}

/** Options for a {@link PriorityQueue}. */
export interface PriorityQueueOptions<T> extends QueueOptions {
  /**
   * Orders items: negative when `a` comes out before `b`. Default: `<` on the items themselves
   * (numbers and strings, smallest first). Equal items come out in insertion order.
   */
  compare?: (a: T, b: T) => number;
}

/**
 * A queue that hands out the smallest item first (by `compare`), and equal ones in the order they
 * were put. Same API as {@link Queue}.
 * @example
 * const q = new PriorityQueue<{ priority: number; name: string }>({ compare: (a, b) => a.priority - b.priority });
 * q.putNowait({ priority: 2, name: "backup" }); q.putNowait({ priority: 1, name: "ping" });
 * q.getNowait().name; // "ping"
 */
export class PriorityQueue<T> extends Queue<T> {
  constructor(opts: PriorityQueueOptions<T> = {}) {
    super(opts, new HeapStore<T>(opts.compare ?? naturalOrder));
  }
}

function naturalOrder<T>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FIFO storage: an array read from a moving head, compacted when half of it is spent. */
class FifoStore<T> implements QueueStore<T> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    const item = this.#items[this.#head]!;
    this.#items[this.#head] = undefined as T; // let it be collected
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
}

class StackStore<T> implements QueueStore<T> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  take(): T {
    return this.#items.pop()!;
  }
}

/** A binary min-heap; each entry carries its insertion number so equal items keep their order. */
class HeapStore<T> implements QueueStore<T> {
  readonly #heap: { item: T; seq: number }[] = [];
  readonly #compare: (a: T, b: T) => number;
  #seq = 0;

  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#heap.length;
  }

  push(item: T): void {
    const h = this.#heap;
    h.push({ item, seq: this.#seq++ });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  take(): T {
    const h = this.#heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let min = i;
        if (l < h.length && this.#less(l, min)) min = l;
        if (r < h.length && this.#less(r, min)) min = r;
        if (min === i) break;
        [h[i], h[min]] = [h[min]!, h[i]!];
        i = min;
      }
    }
    return top.item;
  }

  #less(i: number, j: number): boolean {
    const a = this.#heap[i]!;
    const b = this.#heap[j]!;
    const c = this.#compare(a.item, b.item);
    return c < 0 || (c === 0 && a.seq < b.seq);
  }
}
