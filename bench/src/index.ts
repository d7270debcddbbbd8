export { type RunOptions, runBench, toMarkdown } from "./runner.js";
export { suites } from "./suites/index.js";
export type { BenchContext, Report, Suite } from "./types.js";
export { fmt, hasCommand, median, nowMs, percentile, ratio, timeRuns } from "./util.js";
