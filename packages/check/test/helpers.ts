import { readFile, rm } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { type CheckInputs, type CheckReport, makeInputs, runCheck, startTarget } from "../src/index.js";

/** The fixture servers' folder. */
export const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/check/", import.meta.url));

/** A fixture script's path. */
export const fixture = (name: string) => `${FIXTURES}${name}`;

/**
 * Starts `argv` (with `{port}`, `{file}`, `{dir}`) and grades it with `profile`; the program is
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
      host: target.host,
      port: target.port,
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

/**
 * Runs at most `n` of the calls at once. Fixtures are graded side by side to keep the files fast,
 * but only two at a time: the slow-reader lessons measure delays of 500 ms and 1 s, which a
 * machine busy with ten 128 MiB floods would blur.
 */
export function limit(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (running >= n) await new Promise<void>((r) => waiting.push(r));
    running++;
    try {
      return await fn();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** The ids of the failed tests, sorted. */
export function failedIds(report: CheckReport): string[] {
  return report.results
    .filter((r) => r.status === "fail")
    .map((r) => r.id)
    .sort();
}
