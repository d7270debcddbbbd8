/**
 * A deadlock and its cure. Two tasks move money between two accounts; each locks the account it
 * pays from, then the one it pays to. Alice locks A then B, Bob locks B then A: each ends up
 * holding one lock and waiting for the other, forever.
 *
 * Cure 1: a timeout. Debug mode turns it into an error naming the cycle.
 * Cure 2: lock ordering. withLocks() takes locks in one global order, so the cycle cannot form.
 * Run: lab examples run deadlock
 */
import { Event, Mutex, setDebug, task, withLocks } from "@netlab/concurrency";

const accountA = new Mutex({ name: "account A" });
const accountB = new Mutex({ name: "account B" });

/** Both tasks hold their first lock before either asks for its second: the deadlock is certain. */
const bothHoldOne = new Event();
let holding = 0;

async function transferNaive(who: string, from: Mutex, to: Mutex, timeout: number): Promise<void> {
  await task(who, async () => {
    const releaseFrom = await from.acquire();
    console.log(`${who}: locked ${from.name}`);
    if (++holding === 2) bothHoldOne.set();
    await bothHoldOne.wait();
    try {
      console.log(`${who}: waiting for ${to.name}...`);
      const releaseTo = await to.acquire({ timeout });
      console.log(`${who}: locked ${to.name}, moving money`);
      releaseTo();
    } finally {
      releaseFrom();
    }
  });
}

console.log("1. Opposite lock order, with a timeout (debug mode names the cycle):");
setDebug(true);
// Alice gives up first (short timeout) and releases A, which lets Bob finish.
const results = await Promise.allSettled([
  transferNaive("alice", accountA, accountB, 200),
  transferNaive("bob", accountB, accountA, 5_000),
]);
for (const [i, r] of results.entries()) {
  const who = i === 0 ? "alice" : "bob";
  if (r.status === "fulfilled") console.log(`${who}: done`);
  else console.log(`${who}: ${(r.reason as { code: string }).code}: ${(r.reason as Error).message}`);
}
setDebug(false);

console.log("\n2. The cure: withLocks takes both in one global order, whatever order we list them:");
let moved = 0;
await Promise.all([
  task("alice", () => withLocks([accountA, accountB], () => void moved++, { timeout: 1_000 })),
  task("bob", () => withLocks([accountB, accountA], () => void moved++, { timeout: 1_000 })),
]);
console.log(`both transfers done: ${moved} of 2, no deadlock`);
