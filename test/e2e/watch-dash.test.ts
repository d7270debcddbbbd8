import { describe, expect, it } from "vitest";
import { runLab } from "../helpers/lab.js";

describe("a watch option's usage error", () => {
  // The options are read in a preAction hook, whose errors skipped the action's reporting: exit 1
  // with "this is a bug in lab".
  it("--events-queue 0 is a usage error (exit 2) with the range, not a bug", async () => {
    const r = await runLab(["server", "--port", "0", "--events", "--events-queue", "0"]);
    expect(r).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /^lab: --events-queue must be a whole number from 1 to 10000000, got "0"\n/,
      ),
    });
    expect(r.stderr).not.toContain("bug");
  });
});
