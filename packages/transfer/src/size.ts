/** Sizes as `--max-size` and `--limit-rate` read them; netlab's one parser, from @netlab/core. */
export { parseSize } from "@netlab/core";

/** A byte count for people (`1.5 KiB`); netlab's one formatter, from @netlab/core. */
export { formatBytes, formatRate } from "@netlab/core";

/** Megabytes (10^6 bytes) per second, as reported in summaries. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}
