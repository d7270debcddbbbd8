import { spawnSync } from "node:child_process";

/** The q-quantile (0..1) of `values` by nearest rank; NaN for no values. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** `ours / baseline` formatted as `0.93×`; `–` when either is missing. */
export function ratio(ours: number | undefined, baseline: number | undefined): string {
  if (ours === undefined || baseline === undefined || !Number.isFinite(ours) || !baseline) return "–";
  return `${(ours / baseline).toFixed(2)}×`;
}

/** A number with at most `digits` decimals and thousands separators. */
export function fmt(value: number, digits = 2): string {
  if (!Number.isFinite(value)) return "–";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

/** Whether an executable is on PATH (used to include ncat/socat/python3 baselines when present). */
export function hasCommand(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** Nanosecond-resolution wall clock in milliseconds. */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Runs `fn` `count` times and returns each duration in ms. */
export async function timeRuns(count: number, fn: () => Promise<void> | void): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = nowMs();
    await fn();
    times.push(nowMs() - start);
  }
  return times;
}
