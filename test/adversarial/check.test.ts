// `lab check` grading a hostile learner's server: one that answers with terminal escape codes, one
// that floods megabytes, one that never answers, one that resets every connection. The run ends
// within its deadlines, every report format stays valid, and nothing the server sent acts on the
// terminal of whoever reads the report.
import { readFileSync } from "node:fs";
import type net from "node:net";
import { describe, expect, it } from "vitest";
import { type LabProcess, runLab, startLab } from "../helpers/lab.js";
import { serve } from "../helpers/tcp.js";

const MiB = 1024 * 1024;
/** A title change (OSC 0), a screen clear (CSI 2J), a C1 CSI, a bidi override, a bell. */
const ESCAPES = "\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u202eevil\u0007";
/** Characters no report for a person may carry raw (C0 but \n, DEL, C1, bidi). */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

type Behaviour = (socket: net.Socket) => void;

/** Answers each line (and a greeting first) with escape codes around it. */
const escaping: Behaviour = (s) => {
  s.write(`welcome ${ESCAPES}\n`);
  let buf = "";
  s.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
      s.write(`${ESCAPES}${buf.slice(0, nl)}${ESCAPES}\n`);
      buf = buf.slice(nl + 1);
    }
  });
};

/**
 * Speaks netlab's chat dialect just enough (its greeting) and refuses every name with an error that
 * holds escape codes and then runs on for 256 KiB: what a report quotes as `observed`.
 */
const escapingChat: Behaviour = (s) => {
  s.write(`netlab chat/1 ${ESCAPES} you are guest-1.\n`);
  s.on("data", () => s.write(`! ${ESCAPES}${"x".repeat(256 * 1024)}\n`));
};

/** Writes 64 KiB blocks without newline as fast as each connection drains, forever. */
const flooding: Behaviour = (s) => {
  const block = Buffer.alloc(64 * 1024, "A");
  const pump = () => {
    while (!s.destroyed && s.write(block)) {}
  };
  s.on("drain", pump);
  s.on("data", () => {});
  pump();
};

const silent: Behaviour = (s) => {
  s.on("data", () => {});
};

const resetting: Behaviour = (s) => {
  s.resetAndDestroy();
};

function expectHumanSafe(text: string): void {
  expect(text).not.toMatch(RAW_CONTROL);
  expect(text).not.toMatch(/\n\s+at |node:internal/);
}

/** Peak resident memory of a running process, bytes, sampled every 50 ms until it exits. */
function watchPeak(lab: LabProcess): () => number {
  let peak = 0;
  const sample = () => {
    try {
      const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${lab.child.pid}/status`, "utf8"));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // gone: the last sample stands
    }
  };
  const timer = setInterval(sample, 50);
  void lab.exited.then(() => clearInterval(timer));
  return () => peak;
}

describe("lab check against a server that sends escape codes", () => {
  it("line: the human report shows them in hex excerpts, and fails the tests", async () => {
    const port = await serve(escaping);
    const r = await runLab(["check", "line", String(port), "--timeout", "2s"], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expectHumanSafe(r.stdout + r.stderr);
    expect(r.stdout).toMatch(/FAIL/);
    expect(r.stdout).toContain('observed: the line "welcome \\x1b]0;PWNED\\x07\\x1b[2J\\xc2\\x9b31m');
  }, 60_000);

  it("chat: an error line quoted as observed is escaped and cut to 300 characters", async () => {
    const port = await serve(escapingChat);
    const only = ["--only", "chat.name-duplicate,chat.broadcast"];
    const r = await runLab(["check", "chat", String(port), ...only, "--timeout", "2s"], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    expectHumanSafe(r.stdout + r.stderr);
    expect(r.stdout).toContain("observed: ! ^[]0;PWNED^G^[[2J<U+009B>31m<U+202E>evil^Gxxx");
    expect(r.stdout).toMatch(/xxx… \(26\d{4} characters\)$/m);
    for (const l of r.stdout.split("\n")) expect(l.length).toBeLessThan(500);
  }, 60_000);

  it("TAP, JSON and JUnit stay valid and carry no raw control codes where a person reads them", async () => {
    const port = await serve(escapingChat);
    const only = ["--only", "chat.name-duplicate,chat.broadcast"];
    const report = (format: string) =>
      runLab(["check", "chat", String(port), ...only, "--format", format], { timeoutMs: 30_000 });
    const tap = await report("tap");
    expect(tap.code).toBe(1);
    expectHumanSafe(tap.stdout);
    const lines = tap.stdout.split("\n");
    expect(lines[0]).toBe("TAP version 14");
    expect(tap.stdout).toContain("\\u009b31m\\u202eevil");
    expect(tap.stdout).toMatch(/^1\.\.2$/m);
    // Every line is a test point, a comment, the plan or indented YAML: nothing broke out.
    for (const l of lines.filter(Boolean)) expect(l).toMatch(/^(TAP version|1\.\.|ok |not ok |# | {2})/);

    const json = await report("json");
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.tests).toHaveLength(2);
    expect(parsed.tests[0].observed).toMatch(/^! \u001b\]0;PWNED\u0007\u001b\[2J\u009b31m\u202eevil/);
    expect(json.stdout).not.toMatch(RAW_CONTROL);

    const junit = await report("junit");
    expect(junit.code).toBe(1);
    expect(junit.stdout).toMatch(/^<\?xml/);
    expect(junit.stdout).not.toMatch(RAW_CONTROL);
    expect(junit.stdout).toContain("&#x9B;31m&#x202E;evil");
  }, 60_000);
});

describe("lab check against a server that floods", () => {
  it("line: every test fails with a clear line, memory stays bounded, the run ends", async () => {
    const port = await serve(flooding);
    const lab = startLab(["check", "line", String(port), "--timeout", "3s"]);
    const peak = watchPeak(lab);
    expect(await lab.exited).toBe(1);
    expectHumanSafe(lab.stdout() + lab.stderr());
    expect(lab.stdout()).toMatch(/\d+ passed, \d+ failed \(of \d+\)/);
    for (const l of lab.stdout().split("\n")) expect(l.length).toBeLessThan(400);
    expect(peak()).toBeLessThan(512 * MiB);
  }, 120_000);
});

describe("lab check against a server that never answers", () => {
  it("line: each test ends at its deadline and the whole run within the sum of them", async () => {
    const port = await serve(silent);
    const started = Date.now();
    const r = await runLab(["check", "line", String(port), "--timeout", "1s"], { timeoutMs: 60_000 });
    const tests = Number(/of (\d+)\)/.exec(r.stdout)?.[1]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/expected: .* within \d+(\.\d+)? s/);
    expect(Date.now() - started).toBeLessThan(tests * 1_000 + 10_000);
  }, 60_000);

  it("a command that never answers and ignores SIGTERM is killed, and the run still ends", async () => {
    const program = `process.on("SIGTERM", () => {}); require("node:net").createServer((s) => s.on("data", () => {})).listen(Number(process.argv[1]), "127.0.0.1")`;
    const started = Date.now();
    const r = await runLab(
      [
        "check",
        "line",
        "--only",
        "line.partial-line,line.crlf",
        "--timeout",
        "1s",
        "--",
        process.execPath,
        "-e",
        program,
        "{port}",
      ],
      { timeoutMs: 30_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/0 passed, 2 failed \(of 2\)/);
    // Two 1 s deadlines, then SIGTERM ignored for stopTimeoutMs (2 s) before SIGKILL.
    expect(Date.now() - started).toBeLessThan(12_000);
  }, 30_000);
});

describe("lab check against a server that resets every connection", () => {
  it("echo: the run ends with failures that say the server reset the connection", async () => {
    const port = await serve(resetting);
    const r = await runLab(["check", "echo", String(port), "--timeout", "2s"], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expectHumanSafe(r.stdout + r.stderr);
    expect(r.stdout).toMatch(/reset/);
    expect(r.stderr).toBe("");
  }, 60_000);
});
