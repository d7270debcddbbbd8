import { describe, expect, it } from "vitest";
import { failedIds, fixture, grade, limit } from "./helpers.js";
import { GOOD, SEEDS } from "./table.js";

const twoAtATime = limit(2);

describe.concurrent("#18: the good fixture servers pass their profile, and the seed servers fail what docs/check.md says", () => {
  for (const row of [...GOOD, ...SEEDS]) {
    it(`${row.profile}: ${row.name} fails ${row.caughtBy.length === 0 ? "nothing" : row.caughtBy.join(", ")}`, async () => {
      const [script, ...args] = row.argv;
      const report = await twoAtATime(() =>
        grade(row.profile, ["python3", fixture(script as string), ...args]),
      );
      expect(failedIds(report)).toEqual([...row.caughtBy].sort());
      expect(report.results.length).toBeGreaterThan(0);
    }, 60_000);
  }
});
