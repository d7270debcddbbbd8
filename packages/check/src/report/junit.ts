import type { CheckReport } from "../types.js";

/**
 * Escapes text for XML, dropping characters XML 1.0 cannot hold at all; DEL, C1 and bidi controls
 * (which it can) become character references, the same text to a parser but inert on a terminal.
 */
export function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(UNSAFE_XML, (ch) => `&#x${ch.charCodeAt(0).toString(16).toUpperCase()};`);
}

/** What {@link xml} writes as a character reference: UNSAFE_TEXT less the layout XML keeps. */
const UNSAFE_XML = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** JUnit XML: one testsuite per run, one testcase per test, a `<failure>` for each failure. */
export function formatJunit(report: CheckReport): string {
  const failures = report.results.filter((r) => r.status === "fail").length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const cases = report.results.map((r) => {
    const open = `    <testcase classname="lab-check.${xml(report.profile)}" name="${xml(r.id)}" time="${seconds(r.durationMs)}">`;
    if (r.status === "pass") return `${open}</testcase>`;
    const body = [
      `expected: ${r.expected ?? ""}`,
      `observed: ${r.observed ?? ""}`,
      r.hint ? `hint: ${r.hint}` : "",
      r.excerpt ?? "",
    ]
      .filter(Boolean)
      .join("\n");
    return `${open}\n      <failure message="${xml(r.observed ?? "failed")}" type="${xml(r.id)}">${xml(body)}</failure>\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="lab check" tests="${report.results.length}" failures="${failures}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="${xml(`${report.profile} ${report.target}`)}" tests="${report.results.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(report.durationMs)}" timestamp="${xml(report.startedAt)}">`,
    `    <properties><property name="seed" value="${report.seed}"/></properties>`,
    ...cases,
    ...(report.notes?.length
      ? [`    <system-out>${xml(report.notes.map((n) => `note: ${n}`).join("\n"))}</system-out>`]
      : []),
    "  </testsuite>",
    "</testsuites>",
    "",
  ].join("\n");
}
