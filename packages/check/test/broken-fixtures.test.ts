import { describe, expect, it } from "vitest";
import { failedIds, fixture, grade, limit } from "./helpers.js";
import { BROKEN } from "./table.js";

const twoAtATime = limit(2);

describe.concurrent("#18: each deliberately broken server is caught by exactly the tests named for its bug", () => {
  it("the table names at least 12 bugs, each caught by at least one test", () => {
    expect(BROKEN.length).toBeGreaterThanOrEqual(12);
    for (const row of BROKEN) expect(row.caughtBy.length, row.name).toBeGreaterThan(0);
  });

  for (const row of BROKEN) {
    it(`${row.profile}: ${row.name} fails ${row.caughtBy.join(", ")} and nothing else`, async () => {
      const [script, ...args] = row.argv;
      const report = await twoAtATime(() =>
        grade(row.profile, ["python3", fixture(script as string), ...args]),
      );
      expect(failedIds(report)).toEqual([...row.caughtBy].sort());
    }, 60_000);
  }
});
