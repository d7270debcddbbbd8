import { safeJson } from "@netlab/core";
import type { CheckReport } from "../types.js";

/** The report format's version, first in every JSON report. */
export const REPORT_FORMAT = "netlab-check/1";

/**
 * The report as JSON on one line, as every command's `--json` (`head -1` and line readers get all
 * of it; `jq .` pretty-prints it), keys in a fixed order: two runs with one seed differ only in
 * `startedAt` and the `durationMs` fields. What the target sent keeps its exact value, with DEL,
 * C1 and bidi controls as `\u` escapes so the report is safe to `cat`.
 */
export function formatJson(report: CheckReport): string {
  const passed = report.results.filter((r) => r.status === "pass").length;
  return `${safeJson(
    JSON.stringify({
      format: REPORT_FORMAT,
      profile: report.profile,
      target: report.target,
      seed: report.seed,
      startedAt: report.startedAt,
      durationMs: report.durationMs,
      summary: { total: report.results.length, passed, failed: report.results.length - passed },
      tests: report.results.map((r) => ({
        id: r.id,
        title: r.title,
        status: r.status,
        durationMs: r.durationMs,
        expected: r.expected,
        observed: r.observed,
        hint: r.hint,
        excerpt: r.excerpt,
      })),
      notes: report.notes ?? [],
    }),
  )}\n`;
}
