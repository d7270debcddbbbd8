import { describe, expect, it } from "vitest";
import { runLab } from "../helpers/lab.js";

describe("lab examples", () => {
  it("lists every example on one line, grouped by topic", async () => {
    const r = await runLab(["examples"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^concurrency\n/m);
    expect(r.stdout).toMatch(/^ {2}event +Event as a traffic light: cars wait for green$/m);
    expect(r.stdout).toMatch(/^ {2}shared-counter +worker_threads counter/m);
    expect(r.stdout).toContain("run one with: lab examples run NAME");
  });

  it("--json prints the registry", async () => {
    const r = await runLab(["examples", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; topic: string; summary: string }[];
    expect(list.map((e) => e.name)).toEqual(
      expect.arrayContaining(["generics", "deadlock", "priority-queue"]),
    );
    for (const e of list) expect(e.summary.length).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/^\[[^\n]*\]\n$/);
  });

  it("run NAME runs the example with its output and exit code, announcing it on stderr", async () => {
    const r = await runLab(["examples", "run", "event"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("▶ event: Event as a traffic light: cars wait for green\n");
    expect(r.stdout).toContain("car 4: drives through\nall cars through\n");
  });

  it("passes extra arguments on to the example", async () => {
    const r = await runLab(["examples", "run", "priority-queue", "3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^seed 3$/m);
  });

  it("exits with the example's own exit code", async () => {
    const r = await runLab(["examples", "run", "priority-queue", "not-a-seed"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("priority-queue: the seed must be an integer, got not-a-seed");
  });

  it("passes options it does not know on to the example", async () => {
    const r = await runLab(["examples", "run", "priority-queue", "--seed"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("priority-queue: the seed must be an integer, got --seed");
  });

  it("refuses arguments for an example that takes none, instead of ignoring them", async () => {
    const r = await runLab(["examples", "run", "echo-server", "--port", "9000"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "lab: example 'echo-server' takes no arguments, got '--port 9000'\nhint: run it as: lab examples run echo-server\n",
    );
  });

  it("an unknown name is a usage error (exit 2) that names close matches", async () => {
    const r = await runLab(["examples", "run", "evnt"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "lab: no example named 'evnt' (did you mean event?)\nhint: run 'lab examples' for the list\n",
    );
  });

  it("a missing name is a usage error", async () => {
    const r = await runLab(["examples", "run"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'name'");
  });
});
