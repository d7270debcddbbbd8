/**
 * PriorityQueue producer/consumer: producers put jobs with a priority (lower runs first), one
 * consumer takes them; urgent jobs overtake routine ones, and equal priorities keep their order.
 * The jobs come from a seeded generator, so every run prints the same thing.
 * Run: lab examples run priority-queue [seed]
 */
import { PriorityQueue } from "@netlab/concurrency";

interface Job {
  priority: number;
  name: string;
}

/** mulberry32: a tiny seeded PRNG, so "random" jobs are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.argv[2] ?? 8);
if (!Number.isSafeInteger(seed)) {
  console.error(`priority-queue: the seed must be an integer, got ${process.argv[2]}`);
  process.exit(2);
}
const random = rng(seed);
const LABELS = ["urgent", "normal", "low"];
const queue = new PriorityQueue<Job>({ maxsize: 4, compare: (a, b) => a.priority - b.priority });
const PER_PRODUCER = 4;
const PRODUCERS = ["web", "cron"];

async function producer(source: string): Promise<void> {
  for (let i = 1; i <= PER_PRODUCER; i++) {
    const priority = Math.floor(random() * 3);
    const job = { priority, name: `${source}-${i}` };
    // Each line is printed in the same synchronous step as the queue changes, so the output is
    // the queue's true history: a job printed as put and not yet run was there to be chosen.
    if (!queue.full()) {
      queue.putNowait(job);
      console.log(`put  ${job.name.padEnd(7)} ${LABELS[priority]}`);
      await null; // let the other producer and the consumer take turns
    } else {
      await queue.put(job, { timeout: 5_000 }); // waits while 4 jobs are queued
      console.log(`put  ${job.name.padEnd(7)} ${LABELS[priority]} (waited for room)`);
    }
  }
}

async function consumer(): Promise<void> {
  for (let n = 0; n < PER_PRODUCER * PRODUCERS.length; n++) {
    // Let the producers run first, so there is something to choose from.
    await new Promise((resolve) => setTimeout(resolve, 5));
    for (let tries = 0; queue.empty() && tries < 200; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const choices = queue.qsize();
    const job = queue.getNowait();
    console.log(`  run ${job.name.padEnd(7)} ${LABELS[job.priority]!.padEnd(6)}  chosen from ${choices}`);
    queue.taskDone();
  }
}

console.log(`seed ${seed}`);
await Promise.all([...PRODUCERS.map(producer), consumer()]);
await queue.join({ timeout: 1_000 });
console.log("every job ran");
