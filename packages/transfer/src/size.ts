const UNITS: Record<string, number> = {
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
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) return undefined;
  const value = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** A byte count for people (`1.5 KiB`); netlab's one formatter, from @netlab/core. */
export { formatBytes, formatRate } from "@netlab/core";

/** Megabytes (10^6 bytes) per second, as reported in summaries. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}
