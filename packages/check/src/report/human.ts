import { escapeControls } from "@netlab/core";
import type { CheckReport, TestResult } from "../types.js";

/** The header line of a human report, printed before the tests run. */
export function humanHeader(profile: string, target: string, seed: number): string {
  return `lab check ${profile} ${escapeControls(target)} (seed ${seed}; --seed ${seed} replays it)\n`;
}

/** One test's lines: `ok`/`FAIL`, then for a failure what was expected, observed, the hint and the excerpt. */
export function humanResult(r: TestResult): string {
  const mark = r.status === "pass" ? "ok  " : "FAIL";
  const head = `  ${mark} ${r.id.padEnd(28)} ${r.title} (${r.durationMs} ms)\n`;
  if (r.status === "pass") return head;
  const lines = [`expected: ${r.expected ?? ""}`, `observed: ${r.observed ?? ""}`];
  if (r.hint) lines.push(`hint:     ${r.hint}`);
  if (r.excerpt) lines.push(...r.excerpt.split("\n"));
  // Observed text and excerpts quote the target: shown, never obeyed.
  return head + lines.map((l) => `         ${escapeControls(l)}\n`).join("");
}

/** The report's notes (`note: …`), then the summary line: `7 passed, 1 failed (of 8) in 3.2 s`. */
export function humanSummary(report: CheckReport): string {
  const passed = report.results.filter((r) => r.status === "pass").length;
  const failed = report.results.length - passed;
  const notes = (report.notes ?? []).map((n) => `note: ${escapeControls(n)}\n`).join("");
  return `${notes}${passed} passed, ${failed} failed (of ${report.results.length}) in ${(report.durationMs / 1000).toFixed(1)} s\n`;
}

/** The whole human report at once (the CLI prints it test by test instead). */
export function formatHuman(report: CheckReport): string {
  return (
    humanHeader(report.profile, report.target, report.seed) +
    report.results.map(humanResult).join("") +
    humanSummary(report)
  );
}
