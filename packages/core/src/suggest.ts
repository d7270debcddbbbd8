/**
 * The candidate closest to a mistyped `word` (edit distance at most 2, and under half its length),
 * for a "did you mean" hint; `undefined` when none is close. Ties go to the earlier candidate.
 * @example closest("hwo", ["who", "help", "quit"]) // "who"
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = editDistance(word, name);
    if (d <= Math.min(2, Math.floor(Math.max(word.length, name.length) / 2)) && (!best || d < best.d)) {
      best = { name, d };
    }
  }
  return best?.name;
}

/** Levenshtein distance, with a transposition counted as one edit (`hwo` → `who`). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
