import { Mutex } from "@netlab/concurrency";
import type { Report, Suite } from "../types.js";
import { fmt, median, nowMs } from "../util.js";

/** The lock shape every contender is measured through: acquire resolves with a release function. */
interface Lock {
  acquire(): Promise<() => void>;
}

/**
 * The usual hand-rolled async mutex: each acquirer chains onto the previous holder's promise.
 * FIFO and short, with no timeout, cancellation or tryAcquire: the baseline.
 */
class PromiseChainMutex implements Lock {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail;
    this.#tail = ready.then(() => held);
    return ready.then(() => release);
  }
}

/** async-mutex, when the bench's dev dependency is installed. */
async function loadAsyncMutex(): Promise<(() => Lock) | undefined> {
  try {
    const mod = (await import("async-mutex")) as { Mutex: new () => Lock };
    return () => new mod.Mutex();
  } catch {
    return undefined;
  }
}

/** acquire + release `ops` times in one task: the lock is always free. */
async function uncontended(lock: Lock, ops: number): Promise<number> {
  const start = nowMs();
  for (let i = 0; i < ops; i++) (await lock.acquire())();
  return ops / ((nowMs() - start) / 1000);
}

/** `tasks` tasks share `ops` acquire/release pairs, each yielding once while holding the lock. */
async function contended(lock: Lock, ops: number, tasks: number): Promise<number> {
  const per = Math.ceil(ops / tasks);
  const start = nowMs();
  await Promise.all(
    Array.from({ length: tasks }, async () => {
      for (let i = 0; i < per; i++) {
        const release = await lock.acquire();
        await Promise.resolve(); // a critical section that awaits: others queue up behind it
        release();
      }
    }),
  );
  return (per * tasks) / ((nowMs() - start) / 1000);
}

/** `Mutex` acquire/release per second against a promise-chain mutex and async-mutex. */
export const mutexSuite: Suite = {
  name: "mutex",
  description:
    "Mutex acquire/release per second, uncontended and contended, against a promise chain and async-mutex",
  async run(ctx) {
    const ops = Math.max(10_000, Math.round(200_000 * ctx.scale));
    const rounds = Math.max(3, Math.round(7 * ctx.scale));
    const tasks = 16;
    const contenders: Record<string, () => Lock> = {
      "promise chain (baseline)": () => new PromiseChainMutex(),
      "@netlab/concurrency Mutex": () => new Mutex(),
    };
    const asyncMutex = await loadAsyncMutex();
    if (asyncMutex) contenders["async-mutex 0.5"] = asyncMutex;

    const scenarios = {
      uncontended: (lock: Lock) => uncontended(lock, ops),
      [`contended (${tasks} tasks)`]: (lock: Lock) => contended(lock, ops, tasks),
    };
    const results: Record<string, Record<string, number[]>> = {};
    for (const scenario of Object.keys(scenarios)) {
      results[scenario] = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
    }
    // Warm-up, then rounds interleaved so that machine noise hits every contender alike.
    for (const make of Object.values(contenders))
      for (const run of Object.values(scenarios)) await run(make());
    for (let r = 0; r < rounds; r++) {
      ctx.log(`mutex: round ${r + 1} of ${rounds}`);
      for (const [scenario, run] of Object.entries(scenarios)) {
        for (const [name, make] of Object.entries(contenders)) {
          results[scenario]![name]!.push(await run(make()));
        }
      }
    }
    return Object.entries(results).map(([scenario, per]): Report => {
      const base = median(per["promise chain (baseline)"]!);
      return {
        title: `Mutex acquire/release, ${scenario} (median of ${rounds} rounds)`,
        columns: ["lock", "ops/s", "× promise chain"],
        rows: Object.entries(per).map(([name, values]) => {
          const m = median(values);
          return [name, fmt(m, 0), `${(m / base).toFixed(2)}×`];
        }),
        notes: [
          `${fmt(ops, 0)} acquire/release pairs per round, in one process; higher is better.`,
          scenario === "uncontended"
            ? "One task, lock always free: the cost of the fast path."
            : `${tasks} tasks, each holding the lock across one await: the cost of queueing and hand-off.`,
          asyncMutex
            ? "async-mutex is the bench's dev dependency."
            : "async-mutex not installed: column omitted.",
        ],
      };
    });
  },
};
