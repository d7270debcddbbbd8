/**
 * A small seeded generator (mulberry32): every payload a test sends comes from
 * `seeded(seed, testId)`, so one seed gives the same bytes whatever `--only` selects.
 */
export type Random = () => number;

/** A generator for one test: the run's seed mixed with the test's id (FNV-1a). */
export function seeded(seed: number, salt = ""): Random {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < salt.length; i++) h = Math.imul(h ^ salt.charCodeAt(i), 0x01000193);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` printable ASCII bytes (0x21–0x7e), no newline: a payload that no text handling can alter. */
export function printable(random: Random, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = 0x61 + Math.floor(random() * 26);
  return out;
}

/** A short lower-case word (letters only), for names and message tags. */
export function word(random: Random, n = 6): string {
  return printable(random, n).toString("latin1");
}
