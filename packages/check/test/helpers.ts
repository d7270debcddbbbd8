import { readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type CheckInputs, type CheckReport, makeInputs, runCheck, startTarget } from "../src/index.js";

/** The fixture servers' folder. */
export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/check/", import.meta.url));

/** A fixture script's path. */
export const fixture = (name: string) => `${FIXTURES}${name}`;

/**
 * Starts `argv` (with `{port}` or `{socket}`, `{file}`, `{dir}`) and grades it with `profile`; the program is
 * stopped when the test finishes. Returns the report.
 */
export async function grade(
  profile: string,
  argv: string[],
  seed = 1,
  only?: string[],
): Promise<CheckReport> {
  const made = await makeInputs(seed);
  const target = await startTarget(argv, { placeholders: { file: made.file, dir: made.dir } });
  const inputs: CheckInputs = { file: await readFile(made.file), root: made.dir };
  try {
    return await runCheck({
      profile,
      ...target.target,
      seed,
      only,
      inputs,
      targetLabel: argv.join(" "),
    });
  } finally {
    await target.stop();
    await rm(made.folder, { recursive: true, force: true });
  }
}

/** Each failed test with what it expected and observed: the message of an assertion on {@link failedIds}. */
export function failures(report: CheckReport): string {
  const failed = report.results.filter((r) => r.status === "fail");
  return failed.length === 0
    ? "no test failed"
    : failed.map((r) => `${r.id}: expected ${r.expected ?? "?"}; observed ${r.observed ?? "?"}`).join("\n");
}

/** The ids of the failed tests, sorted. */
export function failedIds(report: CheckReport): string[] {
  return report.results
    .filter((r) => r.status === "fail")
    .map((r) => r.id)
    .sort();
}
