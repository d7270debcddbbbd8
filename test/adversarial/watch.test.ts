// Recordings nobody vouches for, read by `lab replay` and `lab session export`: truncated, garbage,
// huge, full of escape codes, with timestamps that run backwards or a century ahead. Each ends in
// one `lab:` line and a hint, or in a replay that behaves: never a stack trace, never a long sleep.
// And `--events` on a terminal, carrying what a hostile chat client typed.
import { closeSync, ftruncateSync, openSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type LabResult, runLab } from "../helpers/lab.js";
import { serve } from "../helpers/tcp.js";
import { chatServer, watchTempDir } from "../helpers/watch.js";

const HEADER = { netlab: "session", v: 1, ts: 1_700_000_000_000, side: "server" };
const ESCAPES = "\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u202e";
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;

const b64 = (text: string) => Buffer.from(text).toString("base64");
const open = (conn: number, t = 0) => ({
  type: "open",
  t,
  conn,
  transport: "tcp",
  client: "127.0.0.1:40000",
  server: "127.0.0.1:5001",
});
const data = (conn: number, from: "client" | "server", text: string, t = 0) => ({
  type: "data",
  t,
  conn,
  from,
  b64: b64(text),
});

async function recording(lines: unknown[], raw = ""): Promise<string> {
  const dir = await watchTempDir("lab-replay-adv-");
  const path = join(dir, "s.jsonl");
  writeFileSync(path, lines.map((l) => `${typeof l === "string" ? l : JSON.stringify(l)}\n`).join("") + raw);
  return path;
}

/** A server that echoes every byte back (and records what it got). */
async function echoServer(): Promise<{ port: number; got: () => string }> {
  let got = "";
  const port = await serve((s) => {
    s.on("data", (d) => {
      got += d.toString("latin1");
      s.write(d);
    });
    s.on("end", () => s.end());
  });
  return { port, got: () => got };
}

function expectOneLabError(r: LabResult, message: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).not.toMatch(/\n\s+at |node:internal|Warning/);
  expect(r.stderr).not.toMatch(RAW_CONTROL);
  expect(r.stderr).toMatch(/^lab: .+\nhint: .+\n$/);
  expect(r.stderr).toMatch(message);
}

describe("replay of a damaged recording", () => {
  it("garbage bytes: not a session", async () => {
    const path = await recording([], "\u0000\u00ff\u001b[2J garbage\n");
    expectOneLabError(await runLab(["replay", path, "--to", "127.0.0.1:9"]), /is not a netlab session/);
  });

  it("an empty file: not a session", async () => {
    const path = await recording([]);
    expectOneLabError(
      await runLab(["session", "export", path, "--pcap", `${path}.pcap`]),
      /not a netlab session/,
    );
  });

  it("a garbage line in the middle: its line number", async () => {
    const path = await recording([HEADER, open(1), "{not json", data(1, "client", "hi\n")]);
    expectOneLabError(await runLab(["replay", path, "--to", "127.0.0.1:9"]), /s\.jsonl line 3: not JSON/);
  });

  it("a record with escape codes in its keys and values: the error shows them escaped", async () => {
    const path = await recording([HEADER, { ...open(1), [ESCAPES]: 1 }]);
    const r = await runLab(["replay", path, "--to", "127.0.0.1:9"]);
    expectOneLabError(r, /line 2/);
    expect(r.stderr).toContain("^[]0;PWNED^G");
    const typed = await recording([HEADER, { ...open(1), type: ESCAPES }]);
    expectOneLabError(await runLab(["replay", typed, "--to", "127.0.0.1:9"]), /line 2/);
  });

  it("a last line cut short: a warning, and the records before it replay", async () => {
    const { port, got } = await echoServer();
    const path = await recording(
      [HEADER, open(1), data(1, "client", "hello\n"), data(1, "server", "hello\n")],
      '{"type":"da',
    );
    const r = await runLab(["replay", path, "--to", `127.0.0.1:${port}`, "--compare"]);
    expect(r.stderr).toContain("lab: warning: ");
    expect(r.stderr).toContain("line 5 is truncated; using the 3 records before it");
    expect(r.code).toBe(0);
    expect(got()).toBe("hello\n");
  });

  it("a header whose version is a JSON bomb: UNKNOWN_VERSION, not a stack overflow", async () => {
    const path = await recording([`{"netlab":"session","v":${"[".repeat(100_000)}${"]".repeat(100_000)}}`]);
    expectOneLabError(
      await runLab(["replay", path, "--to", "127.0.0.1:9"]),
      /record version of type array is not supported/,
    );
  });

  it("a deeply nested line (a JSON bomb): BAD_RECORD, not a stack overflow", async () => {
    const bomb = `{"type":"data","t":0,"conn":1,"from":"client","b64":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const path = await recording([HEADER, open(1), bomb]);
    expectOneLabError(await runLab(["replay", path, "--to", "127.0.0.1:9"]), /line 3/);
  });

  it("a 64 MiB line of garbage: one error line, quickly", async () => {
    const path = await recording([HEADER, open(1)], `${"A".repeat(64 * 1024 * 1024)}\n`);
    expectOneLabError(await runLab(["replay", path, "--to", "127.0.0.1:9"]), /line 3: not JSON/);
  });

  it("a file larger than maxSessionBytes (a 3 GiB sparse file): refused before it is read", async () => {
    const path = await recording([HEADER, open(1)]);
    const fd = openSync(path, "r+");
    // A sparse 3 GiB file: nothing is written, the size is what a reader sees.
    ftruncateSync(fd, 3 * 1024 ** 3);
    closeSync(fd);
    const started = Date.now();
    const r = await runLab(["replay", path, "--to", "127.0.0.1:9"]);
    expectOneLabError(r, /s\.jsonl is 3\.0 GiB, over the 256\.0 MiB a recording may be/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("replay of a recording that would flood the server", () => {
  it("a recording opening 5 000 connections is refused before the first (--max-connections 1000)", async () => {
    const { port, got } = await echoServer();
    const path = await recording([HEADER, ...Array.from({ length: 5_000 }, (_, i) => open(i + 1))]);
    for (const extra of [[], ["--as-server"]]) {
      const to = extra.length === 0 ? ["--to", `127.0.0.1:${port}`] : [];
      const r = await runLab(["replay", path, ...to, ...extra]);
      expectOneLabError(r, /the recording opens 5000 connections, over the 1000 a replay may/);
    }
    expect(got()).toBe("");
    const r = await runLab(["replay", path, "--to", `127.0.0.1:${port}`, "--max-connections", "0"]);
    expect(r.code).toBe(2);
  });
});

/** `lab replay --pace original --compare` of `path` to 127.0.0.1:`port`, and how long it took. */
async function replayInOriginalPace(
  path: string,
  port: number,
  maxPause: string,
): Promise<{ r: LabResult; ms: number }> {
  const started = Date.now();
  const to = ["--to", `127.0.0.1:${port}`];
  const pace = ["--pace", "original", "--max-pause", maxPause, "--compare"];
  const r = await runLab(["replay", path, ...to, ...pace], { timeoutMs: 20_000 });
  return { r, ms: Date.now() - started };
}

describe("replay of a recording with hostile timestamps", () => {
  it("--pace original: a record a century ahead is not waited for (pauses are cut to --max-pause)", async () => {
    const { port, got } = await echoServer();
    const century = 100 * 365 * 24 * 3600 * 1000;
    const path = await recording([
      HEADER,
      open(1, 0),
      data(1, "client", "a\n", 10),
      data(1, "server", "a\n", 11),
      data(1, "client", "b\n", century),
      data(1, "server", "b\n", century + 1),
      data(1, "client", "c\n", 2_000_000_000),
      data(1, "server", "c\n", 2_000_000_001),
    ]);
    const { r, ms } = await replayInOriginalPace(path, port, "200ms");
    expect(r.stderr).not.toMatch(/Warning|\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
    expect(got()).toBe("a\nb\nc\n");
    expect(ms).toBeLessThan(8_000);
  });

  it("--pace original: timestamps that run backwards play at once, in file order", async () => {
    const { port, got } = await echoServer();
    const path = await recording([
      HEADER,
      open(1, 5_000),
      data(1, "client", "x\n", 4_000),
      data(1, "server", "x\n", -1e15),
      data(1, "client", "y\n", -5),
      data(1, "server", "y\n", -4),
    ]);
    const { r, ms } = await replayInOriginalPace(path, port, "100ms");
    expect(r.code, r.stderr).toBe(0);
    expect(got()).toBe("x\ny\n");
    expect(ms).toBeLessThan(8_000);
  });

  it("the default --max-pause is 10 s", async () => {
    const r = await runLab(["replay", "--help"]);
    expect(r.stdout).toMatch(/--max-pause <time>[\s\S]*\(default: 10s\)/);
  });

  it("session export of a recording with absurd timestamps and ids: a pcap, or one lab: line", async () => {
    const path = await recording([
      HEADER,
      { ...open(1, -1e300), client: `${ESCAPES}:1`, server: "[::1]:99999999" },
      data(1, "client", "hi\n", 1e300),
      data(2, "client", "never opened\n", 5),
      { type: "close", t: Number.MAX_VALUE, conn: 1, reason: "fin" },
    ]);
    const r = await runLab(["session", "export", path, "--pcap", `${path}.pcap`]);
    expect(r.stderr).not.toMatch(/\n\s+at |node:internal|out of range/);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(`${path}.pcap`).size).toBeGreaterThan(24);
  });
});

describe("--events on stderr", () => {
  it("a chat body's C1 and bidi controls arrive as \\u escapes, the line still valid JSON", async () => {
    const { lab, port } = await chatServer(["--events", "--events-bodies"]);
    const s = net.connect({ host: "127.0.0.1", port });
    onTestFinished(() => {
      s.destroy();
    });
    s.on("error", () => {});
    s.write(`hello ${ESCAPES}\n`);
    const line = await lab.waitForOutput(/^\{.*"chat\.message".*$/m, { stream: "stderr" });
    expect(line).not.toMatch(RAW_CONTROL);
    expect(line).toContain("\\u009b31m\\u202e");
    expect(JSON.stringify(JSON.parse(line))).toContain("hello");
  });
});
