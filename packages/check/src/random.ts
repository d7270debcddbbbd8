import { type Random, seededRandom } from "@netlab/proxy";

/**
 * A small seeded generator (mulberry32): every payload a test sends comes from
 * `seeded(seed, testId)`, so one seed gives the same bytes whatever `--only` selects.
 */
/** The generator is `lab proxy`'s (mulberry32, from @netlab/udp): one implementation of seeded draws. */
export type { Random };

/** A generator for one test: the run's seed mixed with the test's id (FNV-1a). */
export function seeded(seed: number, salt = ""): Random {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  return seededRandom(h >>> 0);
}

/** `n` lowercase ASCII letters, no newline: a payload that no text handling can alter. */
export function printable(random: Random, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = 0x61 + Math.floor(random() * 26);
  return out;
}

/** A short lower-case word (letters only), for names and message tags. */
export function word(random: Random, n = 6): string {
  return printable(random, n).toString("latin1");
}
