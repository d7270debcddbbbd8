/** Sizes and their formatting: netlab's one parser and formatter, from @netlab/core (`--max-size`, `--limit-rate`, `1.5 KiB`). */
export { formatBytes, formatRate, parseSize } from "@netlab/core";

/** Megabytes (10^6 bytes) per second, as reported in summaries. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}
