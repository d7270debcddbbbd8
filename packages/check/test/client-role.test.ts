import { describe, expect, it } from "vitest";
import { CheckError, CLIENT_TESTS, runClientCheck } from "../src/index.js";
import { fixture } from "./helpers.js";

const failed = (r: { results: { id: string; status: string }[] }) =>
  r.results
    .filter((x) => x.status === "fail")
    .map((x) => x.id)
    .sort();

describe.concurrent("#18: --role client, netlab as a misbehaving server", () => {
  it("a client that reads to the newline, times out and reports errors passes every test", async () => {
    const report = await runClientCheck({ argv: ["python3", fixture("line_client.py"), "{host}", "{port}"] });
    expect(report.results.map((r) => r.id)).toEqual(CLIENT_TESTS.map((t) => t.id));
    expect(failed(report)).toEqual([]);
  }, 60_000);

  it("the seed's one-recv client fails reassembly, the reset and the silent server, each within its deadline", async () => {
    const report = await runClientCheck({ argv: ["python3", fixture("seed_client.py"), "{host}", "{port}"] });
    expect(failed(report)).toEqual([
      "client.never-answers",
      "client.reassembles",
      "client.reset-mid-response",
    ]);
    for (const r of report.results) expect(r.durationMs).toBeLessThanOrEqual(10_000 + 1_000);
    const silent = report.results.find((r) => r.id === "client.never-answers");
    expect(silent?.observed).toMatch(/killed at the deadline/);
  }, 60_000);

  it("a client that fails before sending its line passes nothing: its error is not the one the test provokes", async () => {
    const crashes = [
      "python3",
      "-c",
      "import sys; sys.exit('IndexError: list index out of range')",
      "{port}",
    ];
    const report = await runClientCheck({ argv: crashes });
    expect(failed(report)).toEqual(CLIENT_TESTS.map((t) => t.id).sort());
    for (const r of report.results) {
      expect(r.expected, r.id).toMatch(/^the client to connect and send its line/);
      expect(r.observed, r.id).toContain("IndexError");
      expect(r.hint, r.id).toMatch(/\{host\} and \{port\}/);
    }
  }, 30_000);

  it("a client command without {port} is refused", async () => {
    const err = await runClientCheck({ argv: ["python3", "client.py"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect((err as CheckError).code).toBe("PORT_PLACEHOLDER_MISSING");
  });
});
