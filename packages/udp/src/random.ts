import { randomInt } from "node:crypto";

/** A source of uniform numbers in [0, 1), like `Math.random`. Inject a seeded one for repeatable runs. */
export type Random = () => number;

/**
 * A fast seeded generator (mulberry32): the same seed gives the same sequence on every machine,
 * so an emulated loss pattern can be replayed exactly.
 * @example const rng = seededRandom(42); rng(); // 0.6011037519201636
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fresh seed (a u32), for runs that should differ but can still be replayed with `--seed`. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 32 - 1);
}
