import { abortedError, ConcurrencyError, checkInt, checkTimeout } from "./errors.js";
import { WaitList, type WaitOptions } from "./wait-list.js";

/** Options for a {@link Barrier}. */
export interface BarrierOptions {
  /** Runs once per round, synchronously, when the last party arrives and before anyone is released. */
  action?: () => void;
}

/**
 * Makes `parties` tasks meet: each `wait()` blocks until all have called it, then all go on and
 * the barrier is ready for the next round. `wait` resolves with the arrival index (0 for the
 * first to arrive, `parties - 1` for the last).
 *
 * A wait that times out or is aborted breaks the barrier, as does `abort()`: every waiter, and
 * every later `wait` until `reset()`, rejects with `BROKEN_BARRIER`. `reset()` also breaks the
 * current round for whoever is waiting in it.
 * @example
 * const start = new Barrier(3);
 * await Promise.all([0, 1, 2].map(async () => { await start.wait({ timeout: 1000 }); go(); }));
 */
export class Barrier {
  readonly parties: number;
  readonly #action: (() => void) | undefined;
  #waiters = new WaitList();
  #arrived = 0;
  #isBroken = false;

  constructor(parties: number, opts: BarrierOptions = {}) {
    checkInt("parties", parties, 1);
    this.parties = parties;
    this.#action = opts.action;
  }

  /** Whether the barrier is broken (until `reset()`). */
  get broken(): boolean {
    return this.#isBroken;
  }

  /** How many parties wait in the current round. */
  get waiting(): number {
    return this.#arrived;
  }

  /** Arrives and waits for the others; resolves with this party's arrival index. */
  async wait(opts: WaitOptions = {}): Promise<number> {
    if (this.#isBroken) throw brokenError();
    if (opts.timeout !== undefined) checkTimeout(opts.timeout);
    if (opts.signal?.aborted) {
      // An aborted party is not coming: the others must not wait for it (as with a timeout).
      this.#break();
      throw abortedError("waiting at a barrier", opts.signal);
    }
    const index = this.#arrived++;
    if (this.#arrived === this.parties) {
      try {
        this.#action?.();
      } catch (err) {
        this.#break();
        throw err;
      }
      this.#arrived = 0;
      // A new list per round: parties arriving for the next round never get this round's wake-up.
      const round = this.#waiters;
      this.#waiters = new WaitList();
      round.wakeAll();
      return index;
    }
    const round = this.#waiters;
    try {
      await round.wait("waiting at a barrier", opts, () => undefined);
    } catch (err) {
      if (!isBroken(err)) this.#break();
      throw err;
    }
    return index;
  }

  /** Breaks the barrier: waiters and later `wait` calls reject with `BROKEN_BARRIER`. */
  abort(): void {
    this.#break();
  }

  /** Breaks the current round (its waiters reject) and makes the barrier usable again. */
  reset(): void {
    this.#break();
    this.#isBroken = false;
  }

  #break(): void {
    this.#isBroken = true;
    this.#arrived = 0;
    const round = this.#waiters;
    this.#waiters = new WaitList();
    round.failAll(brokenError());
  }
}

function brokenError(): ConcurrencyError {
  return new ConcurrencyError("BROKEN_BARRIER", "the barrier is broken", {
    hint: "a party timed out or abort() was called; reset() the barrier to use it again",
  });
}

function isBroken(err: unknown): boolean {
  return err instanceof ConcurrencyError && err.code === "BROKEN_BARRIER";
}
