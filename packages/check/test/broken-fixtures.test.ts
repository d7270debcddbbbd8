import { describe, expect, it } from "vitest";
import { failedIds, failures, fixture, grade } from "./helpers.js";
import { BROKEN } from "./table.js";

// One fixture at a time (not describe.concurrent): two graded at once on a loaded 2-core machine
// once made a chat fixture miss a lesson's 2 s wait, failing a second test besides its bug's.
describe("#18: each deliberately broken server is caught by exactly the tests named for its bug", () => {
  it("the table names at least 12 bugs, each caught by at least one test", () => {
    expect(BROKEN.length).toBeGreaterThanOrEqual(12);
    for (const row of BROKEN) expect(row.caughtBy.length, row.name).toBeGreaterThan(0);
  });

  for (const row of BROKEN) {
    it(`${row.profile}: ${row.name} fails ${row.caughtBy.join(", ")} and nothing else`, async () => {
      const [script, ...args] = row.argv;
      const report = await grade(row.profile, ["python3", fixture(script as string), ...args]);
      expect(failedIds(report), failures(report)).toEqual([...row.caughtBy].sort());
    }, 60_000);
  }

  it("line: a bare one-loop server is graded on its own two lessons, not killed by the probes before the tests", async () => {
    // Unguarded, it dies of the first write into a socket the peer reset: when lab check's TLS
    // probe (sent while the first probe connection still held this one-client server) was
    // destroyed before the server got to it, the server died before the first test and all 8 failed.
    const report = await grade("line", ["python3", fixture("bare_line_server.py"), "{port}"]);
    expect(failedIds(report), failures(report)).toEqual(["line.clients-50", "line.reset-mid-line"]);
  }, 60_000);
});
