import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LifoQueue, PriorityQueue, Queue } from "../src/index.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Queue", () => {
  it("hands items out first in, first out", () => {
    const q = new Queue<number>();
    for (const n of [1, 2, 3]) q.putNowait(n);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([1, 2, 3]);
  });

  it("reports qsize, empty, full and maxsize", () => {
    const q = new Queue<string>({ maxsize: 2 });
    expect(q.maxsize).toBe(2);
    expect(q.empty()).toBe(true);
    q.putNowait("a");
    q.putNowait("b");
    expect(q.qsize()).toBe(2);
    expect(q.full()).toBe(true);
    expect(new Queue().maxsize).toBe(Number.POSITIVE_INFINITY);
  });

  it("putNowait on a full queue throws QUEUE_FULL and getNowait on an empty one QUEUE_EMPTY", () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(1);
    expect(() => q.putNowait(2)).toThrow(expect.objectContaining({ code: "QUEUE_FULL" }));
    q.getNowait();
    expect(() => q.getNowait()).toThrow(expect.objectContaining({ code: "QUEUE_EMPTY" }));
  });

  it("get waits for a put, and getters are served in arrival order", async () => {
    const q = new Queue<string>();
    const got: string[] = [];
    const a = q.get().then((v) => got.push(`a:${v}`));
    const b = q.get().then((v) => got.push(`b:${v}`));
    await settle();
    q.putNowait("x");
    q.putNowait("y");
    await Promise.all([a, b]);
    expect(got).toEqual(["a:x", "b:y"]);
  });

  it("put waits for room in a bounded queue and keeps putters' order", async () => {
    const q = new Queue<number>({ maxsize: 1 });
    await q.put(1);
    const p2 = q.put(2);
    const p3 = q.put(3);
    await settle();
    expect(q.qsize()).toBe(1);
    expect(q.getNowait()).toBe(1);
    await p2;
    expect(q.getNowait()).toBe(2);
    await p3;
    expect(q.getNowait()).toBe(3);
  });

  it("a put that times out does not add its item", async () => {
    const q = new Queue<number>({ maxsize: 1 });
    q.putNowait(1);
    await expect(q.put(2, { timeout: 10 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(q.getNowait()).toBe(1);
    expect(q.empty()).toBe(true);
  });

  it("an aborted get takes nothing: the item goes to the next getter", async () => {
    const q = new Queue<number>();
    const ac = new AbortController();
    const first = q.get({ signal: ac.signal });
    const second = q.get();
    ac.abort();
    await expect(first).rejects.toMatchObject({ code: "ABORTED" });
    q.putNowait(7);
    expect(await second).toBe(7);
  });

  it("join waits until taskDone was called for every item", async () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.putNowait(2);
    let joined = false;
    const j = q.join().then(() => {
      joined = true;
    });
    q.getNowait();
    q.taskDone();
    await settle();
    expect(joined).toBe(false);
    q.getNowait();
    q.taskDone();
    await j;
    expect(joined).toBe(true);
    await q.join({ timeout: 0 });
  });

  it("taskDone more often than put throws RELEASED_TOO_OFTEN", () => {
    const q = new Queue<number>();
    q.putNowait(1);
    q.taskDone();
    expect(() => q.taskDone()).toThrow(expect.objectContaining({ code: "RELEASED_TOO_OFTEN" }));
  });

  it("rejects maxsize 0 with INVALID_OPTION (unbounded is Infinity, spelled out)", () => {
    expect(() => new Queue({ maxsize: 0 })).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
  });

  it("keeps order across many items (the FIFO store compacts)", () => {
    const q = new Queue<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      q.putNowait(i);
      if (i % 3 === 0) out.push(q.getNowait());
    }
    while (!q.empty()) out.push(q.getNowait());
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });
});

describe("LifoQueue", () => {
  it("hands out the last item put first", () => {
    const q = new LifoQueue<number>();
    for (const n of [1, 2, 3]) q.putNowait(n);
    expect([q.getNowait(), q.getNowait(), q.getNowait()]).toEqual([3, 2, 1]);
  });
});

describe("PriorityQueue", () => {
  it("hands out the smallest item first", () => {
    const q = new PriorityQueue<number>();
    for (const n of [5, 1, 4, 2, 3]) q.putNowait(n);
    expect(Array.from({ length: 5 }, () => q.getNowait())).toEqual([1, 2, 3, 4, 5]);
  });

  it("gives equal priorities out in insertion order", () => {
    const q = new PriorityQueue<{ p: number; name: string }>({ compare: (a, b) => a.p - b.p });
    for (const [p, name] of [
      [2, "c"],
      [1, "a"],
      [2, "d"],
      [1, "b"],
      [2, "e"],
    ] as const) {
      q.putNowait({ p, name });
    }
    expect(Array.from({ length: 5 }, () => q.getNowait().name)).toEqual(["a", "b", "c", "d", "e"]);
  });

  it("a waiting getter gets the best item present when it wakes", async () => {
    const q = new PriorityQueue<number>();
    const g = q.get();
    q.putNowait(9);
    expect(await g).toBe(9);
  });

  it("property: output is a stable priority order of the input", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.nat()), { maxLength: 200 }),
        (items) => {
          const q = new PriorityQueue<[number, number]>({ compare: (a, b) => a[0] - b[0] });
          for (const it of items) q.putNowait(it);
          const out = Array.from({ length: items.length }, () => q.getNowait());
          // Array.prototype.sort is stable: the reference answer.
          expect(out).toEqual([...items].sort((a, b) => a[0] - b[0]));
        },
      ),
    );
  });

  it("property: interleaved puts and gets always return the smallest item present", () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.integer({ min: -50, max: 50 }), { nil: undefined }), { maxLength: 300 }),
        (ops) => {
          const q = new PriorityQueue<number>();
          const model: number[] = [];
          for (const op of ops) {
            if (op === undefined) {
              if (model.length === 0) continue;
              model.sort((a, b) => a - b);
              expect(q.getNowait()).toBe(model.shift());
            } else {
              q.putNowait(op);
              model.push(op);
            }
          }
          expect(q.qsize()).toBe(model.length);
        },
      ),
    );
  });
});

describe("queues under concurrent producers and consumers", () => {
  for (const [kind, make] of [
    ["Queue", (maxsize: number) => new Queue<number>({ maxsize })],
    ["LifoQueue", (maxsize: number) => new LifoQueue<number>({ maxsize })],
    ["PriorityQueue", (maxsize: number) => new PriorityQueue<number>({ maxsize })],
  ] as const) {
    it(`property: ${kind} loses and duplicates nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 4 }),
          fc.integer({ min: 1, max: 5 }),
          fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 40 }),
          async (producers, consumers, maxsize, pauses) => {
            const q = make(maxsize);
            const perProducer = 25;
            const total = producers * perProducer;
            const got: number[] = [];
            let pause = 0;
            const yieldSome = async () => {
              const n = pauses[pause++ % pauses.length]!;
              for (let i = 0; i < n; i++) await Promise.resolve();
            };
            const produce = async (p: number) => {
              for (let i = 0; i < perProducer; i++) {
                await q.put(p * perProducer + i, { timeout: 5_000 });
                await yieldSome();
              }
            };
            let taken = 0;
            const consume = async () => {
              // Bounded: stops once every item has been claimed.
              while (taken < total) {
                taken++;
                got.push(await q.get({ timeout: 5_000 }));
                q.taskDone();
                await yieldSome();
              }
            };
            await Promise.all([
              ...Array.from({ length: producers }, (_, p) => produce(p)),
              ...Array.from({ length: consumers }, consume),
            ]);
            await q.join({ timeout: 1_000 });
            expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, i) => i));
            expect(q.empty()).toBe(true);
          },
        ),
        { numRuns: 60 },
      );
    });
  }

  it("FIFO queue keeps each producer's items in order", async () => {
    const q = new Queue<[number, number]>({ maxsize: 2 });
    const seen = new Map<number, number[]>();
    const produce = async (p: number) => {
      for (let i = 0; i < 50; i++) await q.put([p, i]);
    };
    const consume = async () => {
      for (let n = 0; n < 150; n++) {
        const [p, i] = await q.get({ timeout: 5_000 });
        seen.set(p, [...(seen.get(p) ?? []), i]);
      }
    };
    await Promise.all([produce(0), produce(1), produce(2), consume()]);
    for (const p of [0, 1, 2]) expect(seen.get(p)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
