/**
 * netlab's one unit system for sizes and rates that people read: binary prefixes (KiB, MiB, GiB),
 * as `--max-size 64G` and every limit in the docs count. Summaries, progress bars, server logs and
 * the demo all format through here, so a 16 MiB file is "16.0 MiB" everywhere; options parse sizes
 * and rates through here too, and counts are worded through {@link plural}.
 */
const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A byte count for people: `0 B`, `1023 B`, `1.5 KiB`, `200.0 MiB`, `64.0 GiB`; `Infinity` is
 * `unlimited`.
 * @example formatBytes(1536) // → "1.5 KiB"
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unlimited";
  // Units are chosen on the figure as shown, so 1 MiB less a byte is "1.0 MiB", not "1024.0 KiB".
  if (Math.abs(Math.round(bytes)) < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let i = 0;
  while (Math.abs(value) >= 1023.95 && i < UNITS.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)} ${UNITS[i]}`;
}

/**
 * A rate for people, in the same units: `512 B/s`, `62.3 MiB/s`.
 * @example formatRate(65_300_000) // → "62.3 MiB/s"
 */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

/**
 * Parses a byte count such as `1048576`, `512K`, `10G`, `1.5GiB` or `2GB`. As with `dd`: K, M, G, T
 * (and KiB, MiB, GiB, TiB) are powers of 1024; KB, MB, GB, TB are powers of 1000. Case-insensitive;
 * the result is rounded down to whole bytes. Returns undefined for anything else.
 * @example parseSize("10G") // → 10737418240
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = SIZE_UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(value) ? value : undefined;
}

/**
 * Parses a rate in bytes per second: a size as {@link parseSize} reads it, with or without `/s`
 * (`1MiB/s`, `500K`, `2 MB/s`); a bare number is bytes per second. Returns undefined for anything
 * else, and for 0 (a rate of nothing never finishes).
 * @example parseRate("1MiB/s") // → 1048576
 */
export function parseRate(text: string): number | undefined {
  const bytes = parseSize(text.replace(/\s*\/\s*s(?:ec)?\s*$/i, ""));
  return bytes === undefined || bytes < 1 ? undefined : bytes;
}

/**
 * A count and its noun, singular for exactly 1: `1 write`, `2 writes`, `0 clients`. `many` is the
 * plural when it is not `one` + "s" (`plural(n, "entry", "entries")`).
 * @example plural(1, "write") // → "1 write"
 */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
