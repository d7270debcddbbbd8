import { describe, expect, it } from "vitest";
import { runLab } from "../helpers/lab.js";

describe("lab (the CLI skeleton)", () => {
  it("prints usage for --help and exits 0", async () => {
    const r = await runLab(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: lab /);
    expect(r.stdout).toContain("Examples:");
    expect(r.stderr).toBe("");
  });

  it("prints the version for --version", async () => {
    const r = await runLab(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("rejects an unknown command with one error line, the usage hint and exit 2", async () => {
    const r = await runLab(["nosuchcommand"]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^error: .*nosuchcommand/);
    expect(lines.at(-1)).toBe("(run 'lab --help' for usage)");
    expect(r.stdout).toBe("");
  });

  it("rejects an unknown flag with exit 2", async () => {
    const r = await runLab(["--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
  });
});
