/**
 * netlab's one unit system for sizes and rates that people read: binary prefixes (KiB, MiB, GiB),
 * as `--max-size 64G` and every limit in the docs count. Summaries, progress bars, server logs and
 * the demo all format through here, so a 16 MiB file is "16.0 MiB" everywhere.
 */
const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * A byte count for people: `0 B`, `1023 B`, `1.5 KiB`, `200.0 MiB`, `64.0 GiB`; `Infinity` is
 * `unlimited`.
 * @example formatBytes(1536) // → "1.5 KiB"
 */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unlimited";
  if (Math.abs(bytes) < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let i = 0;
  while (Math.abs(value) >= 1024 && i < UNITS.length - 1) {
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
