/**
 * Condition, producer/consumer: a consumer waits on a condition until the shared buffer has an
 * item; the producer adds items under the same lock and notifies. A bounded buffer (3 slots)
 * also makes the producer wait while it is full.
 * Run: lab examples run condition
 */
import { Condition } from "@netlab/concurrency";

const CAPACITY = 3;
const ITEMS = 8;
const buffer: number[] = [];
const changed = new Condition(); // one condition, bound to its own Mutex

async function producer(): Promise<void> {
  for (let item = 1; item <= ITEMS; item++) {
    await changed.runExclusive(async () => {
      // waitFor re-checks the predicate under the lock after every wake-up.
      if (buffer.length === CAPACITY) console.log("producer: buffer full, waiting");
      await changed.waitFor(() => buffer.length < CAPACITY, { timeout: 5_000 });
      buffer.push(item);
      console.log(`producer: put ${item}   buffer [${buffer.join(", ")}]`);
      changed.notifyAll();
    });
  }
}

async function consumer(): Promise<number> {
  let sum = 0;
  for (let n = 0; n < ITEMS; n++) {
    const item = await changed.runExclusive(async () => {
      await changed.waitFor(() => buffer.length > 0, { timeout: 5_000 });
      const got = buffer.shift()!;
      changed.notifyAll();
      return got;
    });
    console.log(`consumer: got ${item}`);
    sum += item;
    // A slow consumer: the producer runs ahead until the buffer is full, then waits.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return sum;
}

const [, sum] = await Promise.all([producer(), consumer()]);
console.log(`consumer received every item in order; sum = ${sum} (expected ${(ITEMS * (ITEMS + 1)) / 2})`);
