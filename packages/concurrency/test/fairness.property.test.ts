import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Mutex, Semaphore } from "../src/index.js";

/** Yields to the microtask queue `n` times: a deterministic stand-in for work that awaits. */
async function ticks(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await Promise.resolve();
}

/** What one task does: maybe give up after some ticks (abort) or at once (timeout 0), then hold for a while. */
const attempt = fc.record({
  startAfter: fc.nat(5),
  giveUp: fc.oneof(fc.constant<"never">("never"), fc.constant<"now">("now"), fc.nat(8)),
  holdFor: fc.nat(4),
});

describe("no leaks and no lost wake-ups under random cancellation", () => {
  for (const [kind, make] of [
    ["Mutex", () => ({ lock: new Mutex(), permits: 1 })],
    ["Semaphore(3)", () => ({ lock: new Semaphore(3), permits: 3 })],
  ] as const) {
    it(`property: ${kind} never over-admits, serves every patient waiter, and ends free`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(attempt, { minLength: 1, maxLength: 25 }), async (attempts) => {
          const { lock, permits } = make();
          let inside = 0;
          let most = 0;
          const outcomes = await Promise.all(
            attempts.map(async ({ startAfter, giveUp, holdFor }) => {
              await ticks(startAfter);
              const ac = new AbortController();
              if (typeof giveUp === "number") void ticks(giveUp).then(() => ac.abort());
              try {
                const release = await lock.acquire(giveUp === "now" ? { timeout: 0 } : { signal: ac.signal });
                inside++;
                most = Math.max(most, inside);
                await ticks(holdFor);
                inside--;
                release();
                return "acquired";
              } catch (err) {
                return (err as { code: string }).code;
              }
            }),
          );
          expect(most).toBeLessThanOrEqual(permits);
          // Patient waiters always get in: a permit released to a waiter that just gave up went on.
          attempts.forEach((a, i) => {
            if (a.giveUp === "never") expect(outcomes[i]).toBe("acquired");
            else expect(["acquired", "ABORTED", "TIMEOUT"]).toContain(outcomes[i]);
          });
          expect(lock.waiting).toBe(0);
          if (lock instanceof Semaphore) expect(lock.value).toBe(permits);
          else expect(lock.isLocked).toBe(false);
        }),
        { numRuns: 200 },
      );
    });
  }
});

describe("FIFO fairness", () => {
  it("property: a Mutex admits waiters in the order they asked, whatever each holds it for", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(5), { minLength: 1, maxLength: 30 }), async (holds) => {
        const mutex = new Mutex();
        const entered: number[] = [];
        // All ask in index order (synchronously), then each holds for its own number of ticks.
        await Promise.all(
          holds.map((hold, i) =>
            mutex.runExclusive(async () => {
              entered.push(i);
              await ticks(hold);
            }),
          ),
        );
        expect(entered).toEqual(holds.map((_, i) => i));
      }),
    );
  });

  it("property: a Semaphore hands permits to waiters in the order they asked", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(5), { minLength: 1, maxLength: 30 }),
        async (permits, holds) => {
          const sem = new Semaphore(permits);
          const entered: number[] = [];
          await Promise.all(
            holds.map((hold, i) =>
              sem.runExclusive(async () => {
                entered.push(i);
                await ticks(hold);
              }),
            ),
          );
          // Holders finish in any order, but admission follows the queue.
          expect(entered).toEqual(holds.map((_, i) => i));
        },
      ),
    );
  });
});
