import type { CheckReport, TestResult } from "../types.js";

/** A YAML scalar: JSON strings are valid YAML, and quoting keeps `:` and `#` harmless. */
const y = (s: string) => JSON.stringify(s);

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
