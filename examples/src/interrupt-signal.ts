/**
 * Interrupting a task with an AbortSignal: the task checks `signal.aborted` between steps and
 * passes the signal to every wait, so it stops promptly and cleans up.
 * Run: lab examples run interrupt-signal
 */
import { Event } from "@netlab/concurrency";

/** Counts steps until aborted. Every wait takes the signal, so an abort cuts it short. */
async function worker(signal: AbortSignal, blocked: Event): Promise<number> {
  const never = new Event(); // nobody sets it: a stand-in for a slow wait (a socket, a lock)
  let steps = 0;
  try {
    while (!signal.aborted) {
      steps++;
      console.log(`worker: step ${steps}`);
      if (steps === 3) {
        blocked.set();
        await never.wait({ signal }); // blocks until the abort
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (err) {
    // The wait rejects with ConcurrencyError ABORTED; the reason is its cause.
    const e = err as { code?: string; cause?: unknown };
    console.log(`worker: wait interrupted (${e.code}: ${String(e.cause)})`);
  } finally {
    console.log("worker: cleaned up");
  }
  return steps;
}

const controller = new AbortController();
const blocked = new Event();
const running = worker(controller.signal, blocked);
// The main task decides when to stop: here, as soon as the worker is blocked at step 3.
await blocked.wait({ timeout: 5_000 });
console.log("main: aborting");
controller.abort("main says stop");
const steps = await running;
console.log(`main: worker stopped after ${steps} steps`);
