import { execFileSync } from "node:child_process";
import { Parser } from "tap-parser";
import { describe, expect, it } from "vitest";
import { type CheckReport, formatJson, formatJunit, formatTap, humanSummary } from "../src/index.js";
import { fixture, grade } from "./helpers.js";

/** A report with one pass and one failure whose texts hold what XML and YAML must escape. */
const NASTY: CheckReport = {
  profile: "line",
  target: "python3 s.py {port}",
  seed: 7,
  startedAt: "2026-01-01T00:00:00.000Z",
  durationMs: 1234,
  results: [
    { id: "line.crlf", title: "a line ending in CRLF # not a TAP directive", status: "pass", durationMs: 3 },
    {
      id: "line.nul",
      title: "a NUL byte inside a line survives",
      status: "fail",
      durationMs: 12,
      expected: "the line a\\x00b",
      observed: 'got <b>&"x"</b> ]]> \u0000\u0001\u001b[2J: - [list]',
      hint: "key: value # comment",
      excerpt: "client, received from the server:\n00000000  61 0a  |a.|",
    },
  ],
};

function tapCounts(
  text: string,
): Promise<{ count: number; pass: number; fail: number; ok: boolean; plan: { end: number } }> {
  return new Promise((resolve) => {
    const p = new Parser((results) => resolve(results as never));
    p.end(text);
  });
}

/** Parses with Python's XML parser (a second implementation); returns [testcases, failures]. */
function parseXml(text: string): [number, number] {
  const out = execFileSync(
    "python3",
    [
      "-c",
      "import sys, xml.dom.minidom as m; d = m.parse(sys.stdin); print(len(d.getElementsByTagName('testcase')), len(d.getElementsByTagName('failure')))",
    ],
    { input: text, encoding: "utf8" },
  );
  const [cases, failures] = out.trim().split(" ").map(Number);
  return [cases as number, failures as number];
}

describe("#18: reports", () => {
  it("TAP 14 output parses with tap-parser with the right counts", async () => {
    const r = await tapCounts(formatTap(NASTY));
    expect(r).toMatchObject({ count: 2, pass: 1, fail: 1, ok: false });
    expect(r.plan.end).toBe(2);
    expect(formatTap(NASTY)).toMatch(/^TAP version 14\n/);
  });

  it("JUnit output is valid XML, one testcase per test, even with NUL, ESC and ]]> in the texts", () => {
    expect(parseXml(formatJunit(NASTY))).toEqual([2, 1]);
  });

  it("JSON is one object on one line, as every command's --json: `| head -1` and line readers get all of it", () => {
    const json = formatJson(NASTY);
    expect(json.endsWith("\n")).toBe(true);
    expect(json.slice(0, -1)).not.toContain("\n");
    expect(JSON.parse(json).format).toBe("netlab-check/1");
  });

  it("a real run's TAP, JUnit and JSON agree on the counts", async () => {
    const report = await grade("http", [
      "python3",
      fixture("http_server.py"),
      "{port}",
      "{dir}",
      "one-request-per-connection",
    ]);
    expect(await tapCounts(formatTap(report))).toMatchObject({ count: 6, pass: 5, fail: 1 });
    expect(parseXml(formatJunit(report))).toEqual([6, 1]);
    expect(JSON.parse(formatJson(report)).summary).toEqual({ total: 6, passed: 5, failed: 1 });
  }, 30_000);

  it("two runs with one seed give byte-identical JSON apart from startedAt and durationMs", async () => {
    const argv = ["python3", fixture("echo_server.py"), "{port}", "mangle-bytes"];
    const only = ["echo.all-bytes", "echo.sliced"];
    const strip = (json: string) => json.replace(/"(startedAt|durationMs)":("[^"]*"|\d+)/g, '"$1":0');
    const [a, b, other] = await Promise.all([
      grade("echo", argv, 5, only),
      grade("echo", argv, 5, only),
      grade("echo", argv, 6, only),
    ]);
    expect(a.results.map((r) => r.status)).toEqual(["fail", "pass"]);
    expect(strip(formatJson(a))).toBe(strip(formatJson(b)));
    expect(strip(formatJson(a))).not.toBe(strip(formatJson(other)));
  }, 30_000);
});

describe("a note on why every test may fail", () => {
  it("echo graded against a line server ends with a note naming lab check line, in every format", async () => {
    const report = await grade("echo", ["python3", fixture("line_server.py"), "{port}"], 1, ["echo.sliced"]);
    expect(report.results.map((r) => r.status)).toEqual(["fail"]);
    expect(report.notes).toHaveLength(1);
    expect(report.notes?.[0]).toMatch(/sent back "NETLAB" only once a newline followed.*lab check line/);
    expect(humanSummary(report)).toMatch(
      /^note: the server sent back "NETLAB".*\n0 passed, 1 failed \(of 1\)/,
    );
    expect(JSON.parse(formatJson(report)).notes).toEqual(report.notes);
    expect(formatTap(report)).toMatch(/\n# note: the server sent back \\"NETLAB\\"/);
    expect((await tapCounts(formatTap(report))).fail).toBe(1);
    expect(parseXml(formatJunit(report))).toEqual([1, 1]);
    expect(formatJunit(report)).toMatch(/<system-out>note: the server sent back &quot;NETLAB&quot;/);
  });

  it("a byte echo with a bug fails its test with no note: the note is for the line-server mix-up only", async () => {
    const report = await grade("echo", ["python3", fixture("echo_server.py"), "{port}", "mangle-bytes"], 1, [
      "echo.all-bytes",
    ]);
    expect(report.results.map((r) => r.status)).toEqual(["fail"]);
    expect(report.notes).toBeUndefined();
    expect(JSON.parse(formatJson(report)).notes).toEqual([]);
  });
});
