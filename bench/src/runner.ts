import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { suites } from "./suites/index.js";
import type { Report } from "./types.js";

/** Options for {@link runBench}. */
export interface RunOptions {
  /** Suite names; empty runs all. */
  names: string[];
  json: boolean;
  /** Replace each suite's section of this markdown file (docs/benchmarks.md). */
  writeTo?: string;
  /** 1 = full run; smaller = quicker and noisier. */
  scale: number;
  /** How the run was started, quoted in the written section. */
  command: string;
}

/** Runs the named suites, prints their tables (or JSON) to stdout, and optionally writes them into the docs. */
export async function runBench(opts: RunOptions): Promise<void> {
  const unknown = opts.names.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw Object.assign(new Error(`unknown benchmark ${unknown.join(", ")}`), {
      code: "UNKNOWN_BENCHMARK",
      hint: `choose from: ${suites.map((s) => s.name).join(", ")}`,
    });
  }
  const chosen = opts.names.length === 0 ? suites : suites.filter((s) => opts.names.includes(s.name));
  const results: Record<string, Report[]> = {};
  for (const suite of chosen) {
    process.stderr.write(`bench: ${suite.name}: ${suite.description}\n`);
    const reports = await suite.run({
      scale: opts.scale,
      log: (m) => process.stderr.write(`bench: ${suite.name}: ${m}\n`),
    });
    results[suite.name] = reports;
    if (!opts.json) process.stdout.write(`${reports.map(toMarkdown).join("\n")}\n`);
    if (opts.writeTo) writeSection(opts.writeTo, suite.name, reports, opts.command);
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

/** A report as a markdown table with its notes. */
export function toMarkdown(report: Report): string {
  const head = `| ${report.columns.join(" | ")} |\n|${report.columns.map(() => "---").join("|")}|\n`;
  const body = report.rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
  const notes = report.notes.map((n) => `\n${n}`).join("\n");
  return `### ${report.title}\n\n${head}${body}\n${notes}\n`;
}

function writeSection(file: string, name: string, reports: Report[], command: string): void {
  const start = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}`;
  const section = `${start}\nMeasured ${new Date().toISOString().slice(0, 10)} on ${machine} with \`${command}\`.\n\n${reports.map(toMarkdown).join("\n")}${end}`;
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    text = "# Benchmarks\n";
  }
  const at = text.indexOf(start);
  const stop = text.indexOf(end);
  text =
    at >= 0 && stop > at
      ? text.slice(0, at) + section + text.slice(stop + end.length)
      : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
}
