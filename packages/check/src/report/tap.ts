import { safeJson } from "@netlab/core";
import type { CheckReport, TestResult } from "../types.js";

/**
 * A YAML scalar: JSON strings are valid YAML (`\uXXXX` included), quoting keeps `:` and `#`
 * harmless, and no control code the target sent reaches the terminal raw.
 */
const y = (s: string) => safeJson(JSON.stringify(s));

/** TAP 14: one test point per test, a YAML diagnostic block under each failure. */
export function formatTap(report: CheckReport): string {
  const out = [
    "TAP version 14",
    `# lab check ${report.profile} ${report.target} --seed ${report.seed}`,
    `1..${report.results.length}`,
  ];
  report.results.forEach((r, i) => {
    out.push(`${r.status === "pass" ? "ok" : "not ok"} ${i + 1} - ${r.id}: ${r.title.replace(/#/g, "no.")}`);
    if (r.status === "fail") out.push(...diagnostic(r));
  });
  for (const note of report.notes ?? []) out.push(`# note: ${safeJson(JSON.stringify(note)).slice(1, -1)}`);
  return `${out.join("\n")}\n`;
}

function diagnostic(r: TestResult): string[] {
  const lines = [
    "  ---",
    `  message: ${y(r.title)}`,
    "  severity: fail",
    `  expected: ${y(r.expected ?? "")}`,
    `  observed: ${y(r.observed ?? "")}`,
  ];
  if (r.hint) lines.push(`  hint: ${y(r.hint)}`);
  if (r.excerpt) lines.push("  excerpt: |", ...r.excerpt.split("\n").map((l) => `    ${l}`));
  lines.push("  ...");
  return lines;
}
