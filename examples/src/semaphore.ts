/**
 * Semaphore limiting concurrent work: ten downloads start at once, but a Semaphore(3) lets only
 * three run at a time; the others wait their turn, first come, first served.
 * Run: lab examples run semaphore
 */
import { Semaphore } from "@netlab/concurrency";

const slots = new Semaphore(3);
let running = 0;
let most = 0;

/** A fake download: holds a permit for a few ms. Durations are fixed, so runs are repeatable. */
async function download(id: number): Promise<void> {
  await slots.runExclusive(async () => {
    running++;
    most = Math.max(most, running);
    console.log(`download ${String(id).padStart(2)}: start  (${running} running, ${slots.waiting} waiting)`);
    await new Promise((resolve) => setTimeout(resolve, 20 + (id % 3) * 10));
    running--;
    console.log(`download ${String(id).padStart(2)}: done`);
  });
}

await Promise.all(Array.from({ length: 10 }, (_, i) => download(i + 1)));
console.log(`all 10 downloads done; at most ${most} ran at once (limit 3)`);
