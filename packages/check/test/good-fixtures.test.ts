import { describe, expect, it } from "vitest";
import { failedIds, failures, fixture, grade } from "./helpers.js";
import { GOOD, SEEDS } from "./table.js";

// One fixture at a time (not describe.concurrent): two graded at once on a loaded 2-core machine
// once made a chat fixture miss a lesson's 2 s wait, failing a second test besides its bug's.
describe("#18: the good fixture servers pass their profile, and the seed servers fail what docs/check.md says", () => {
  for (const row of [...GOOD, ...SEEDS]) {
    it(`${row.profile}: ${row.name} fails ${row.caughtBy.length === 0 ? "nothing" : row.caughtBy.join(", ")}`, async () => {
      const [script, ...args] = row.argv;
      const report = await grade(row.profile, ["python3", fixture(script as string), ...args]);
      expect(failedIds(report), failures(report)).toEqual([...row.caughtBy].sort());
      expect(report.results.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
