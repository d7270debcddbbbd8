import { fileURLToPath } from "node:url";
import { onTestFinished } from "vitest";
import { type CheckInputs, type CheckReport, makeInputs, runCheck, startTarget } from "../src/index.js";

/** The fixture servers' folder. */
export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/check/", import.meta.url));

/** A fixture script's path. */
export const fixture = (name: string) => `${FIXTURES}${name}`;

/**
 * Starts `argv` (with `{port}`, `{file}`, `{dir}`) and grades it with `profile`; the program is
 * stopped when the test finishes. Returns the report.
 */
export async function grade(profile: string, argv: string[], seed = 1, only?: string[]): Promise<CheckReport> {
  const made = await makeInputs(seed);
  const target = await startTarget(argv, { placeholders: { file: made.file, dir: made.dir } });
  onTestFinished(() => target.stop());
  const { readFile } = await import("node:fs/promises");
  const inputs: CheckInputs = { file: await readFile(made.file), root: made.dir };
  try {
    return await runCheck({ profile, host: target.host, port: target.port, seed, only, inputs, targetLabel: argv.join(" ") });
  } finally {
    await target.stop();
  }
}

/** The ids of the failed tests, sorted. */
export function failedIds(report: CheckReport): string[] {
  return report.results.filter((r) => r.status === "fail").map((r) => r.id).sort();
}
