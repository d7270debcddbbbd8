// Issue #20, servers log like servers: every line is `UTC-TIME LEVEL MESSAGE` (or one JSON object),
// -q keeps warnings, errors and the ready line, -v adds a line per connection, and text from the
// network stays escaped (text) or exact (json). Docs: docs/logging.md.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeHeader } from "../../packages/transfer/src/index.js";
import { runLab, startServer } from "../helpers/lab.js";

/** `2026-12-06T11:48:42.123Z info  message`: RFC 3339, UTC, milliseconds; the level padded to 5. */
const TEXT_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (debug|info |warn |error) \S/;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-logging-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l !== "");
}

/** One line to an echo server and its reply, then a clean close. */
async function echoOnce(port: number): Promise<void> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setEncoding("utf8");
  let got = "";
  await new Promise<void>((resolve, reject) => {
    socket.on("error", reject);
    socket.on("data", (d: string) => {
      got += d;
      if (got.includes("\n")) socket.end();
    });
    socket.on("close", () => resolve());
    socket.write("hello\n");
  });
  expect(got).toBe("hello\n");
}

describe("#20 servers log like servers", () => {
  it("stamps every line with the UTC time (RFC 3339, ms) and a level; the disconnect line says bytes, duration and why", {
    timeout: 20_000,
  }, async () => {
    const before = Date.now();
    const { lab, port } = await startServer(
      (p) => ["server", "--mode", "echo", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p} (echo)`,
    );
    await echoOnce(port);
    await lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+ \(#1, 6 B in, 6 B out\) after \d+\.\d\d s: closed/);
    expect(await lab.stop("SIGINT")).toBe(0);
    const all = lines(lab.stderr());
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const line of all) {
      const m = TEXT_LINE.exec(line);
      expect(m, line).not.toBeNull();
      const at = Date.parse(m![1]!);
      expect(at).toBeGreaterThanOrEqual(before - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    }
    expect(all[0]).toMatch(/Z info {2}listening on /);
    expect(all.at(-1)).toMatch(/Z info {2}stopped$/);
  });

  it("-q hides info lines, keeps the ready line, and shows a server-side error (disk full)", {
    timeout: 20_000,
  }, async () => {
    const shared = path.join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    await writeFile(path.join(dir, "big.bin"), Buffer.alloc(256 * 1024, 7));
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--port", String(p), "-q"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
      { env: { NETLAB_TRANSFER_FAULT: "enospc@65536" } },
    );
    const r = await runLab(["transfer", path.join(dir, "big.bin"), "--port", String(port)]);
    expect(r.code).toBe(1);
    await lab.waitForOutput(/Z error refused upload of big\.bin from 127\.0\.0\.1:\d+: /);
    expect(await lab.stop("SIGINT")).toBe(0);
    const shown = lines(lab.stderr());
    // The ready line and the error; no "received", "shutting down" or "stopped".
    expect(shown, lab.stderr()).toHaveLength(2);
    expect(shown[0]).toMatch(/Z info {2}serving /);
    expect(shown[1]).toMatch(/Z error refused upload of big\.bin/);
  });

  it("-v adds a line per connection and a close line with bytes, duration and reason (lab files)", {
    timeout: 20_000,
  }, async () => {
    const shared = path.join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    await writeFile(path.join(dir, "a.bin"), Buffer.alloc(10_000, 1));
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--port", String(p), "-v"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const r = await runLab(["transfer", path.join(dir, "a.bin"), "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    const close = await lab.waitForOutput(
      /Z debug disconnect 127\.0\.0\.1:\d+ \(#1, (\d+) B in, \d+ B out\) after \d+\.\d\d s: \w/,
    );
    expect(Number(/#1, (\d+) B in/.exec(close)![1])).toBeGreaterThan(10_000);
    expect(lab.stderr()).toMatch(/Z debug connect 127\.0\.0\.1:\d+ \(#1\)/);
    expect(lab.stderr()).toMatch(/Z info {2}received a\.bin \(9\.8 KiB/);

    // Without -v, the same upload logs the file and no connection lines.
    const quiet = await startServer(
      (p) => ["files", shared, "--port", String(p)],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const again = await runLab([
      "transfer",
      path.join(dir, "a.bin"),
      "--port",
      String(quiet.port),
      "--overwrite",
    ]);
    expect(again.code, again.stderr).toBe(0);
    await quiet.lab.waitForOutput("received a.bin");
    expect(quiet.lab.stderr()).not.toMatch(/connect 127/);
  });

  it("--log-format json: one object per line with ts, level, msg; a hostile name is exact in JSON and never raw", {
    timeout: 20_000,
  }, async () => {
    const shared = path.join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--port", String(p), "--log-format", "json", "-v"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const hostile = "evil\u202etxt.exe\u001b]0;PWNED\u0007\u009b2J\u2028x";
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write(encodeHeader({ op: "put", v: 1, name: hostile, size: 1 }));
    await lab.waitForOutput("refused upload of");
    socket.destroy();
    await lab.waitForOutput('"event":"disconnect"');
    expect(await lab.stop("SIGINT")).toBe(0);

    const raw = lab.stderr();
    // Nothing a terminal could act on reaches it, even in JSON.
    expect(raw).not.toMatch(/[\u001b\u0007\u009b\u202e\u2028]/);
    const records = lines(raw).map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(Object.keys(r).slice(0, 3)).toEqual(["ts", "level", "msg"]);
      expect(r.ts).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(["debug", "info", "warn", "error"]).toContain(r.level);
    }
    expect(records[0]).toMatchObject({ level: "info", event: "listening", address: `127.0.0.1:${port}` });
    const refusal = records.find((r) => r.event === "transferError");
    expect(refusal).toMatchObject({ level: "warn", op: "put", name: hostile, code: "INVALID_NAME" });
    expect(refusal!.msg).toContain(`refused upload of ${hostile} from 127.0.0.1:`);
    expect(records.find((r) => r.event === "disconnect")).toMatchObject({
      level: "debug",
      id: 1,
      reason: expect.any(String),
      durationMs: expect.any(Number),
    });
    expect(records.at(-1)).toMatchObject({ level: "info", msg: "stopped" });
  });

  it("the same hostile name in the text log is escaped, cat -v style", { timeout: 20_000 }, async () => {
    const shared = path.join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--port", String(p)],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    socket.write(encodeHeader({ op: "put", v: 1, name: "a\u001b[2Jb\nc", size: 1 }));
    const line = await lab.waitForOutput(/Z warn {2}refused upload of .*/);
    socket.destroy();
    expect(line).toContain("refused upload of a^[[2Jb^Jc from");
  });

  it.each([
    [["server"]],
    [["files"]],
    [["udp", "echo"]],
    [["udp", "listen"]],
    [["proxy", ":0", "127.0.0.1:1"]],
  ])("%j with a bad --log-format: lab: + hint:, exit 2", { timeout: 20_000 }, async (command) => {
    const r = await runLab([...command, "--log-format", "xml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'lab: unknown --log-format "xml"\nhint: choose one of: text, json, plain (default text)\n',
    );
  });

  it("-v with -q is a usage error", { timeout: 20_000 }, async () => {
    const r = await runLab(["udp", "echo", "-v", "-q"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lab: -v and -q ask for opposite things\nhint: /);
  });

  it("--log-format plain: the message alone, as before timestamps (for journald)", {
    timeout: 20_000,
  }, async () => {
    const { lab } = await startServer(
      (p) => ["udp", "echo", "--port", String(p), "--log-format", "plain"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    expect(await lab.stop("SIGINT")).toBe(0);
    expect(lines(lab.stderr())[0]).toMatch(/^listening on udp 127\.0\.0\.1:\d+$/);
  });
});

describe("#20 one style: -s, -i, -v, -q mean one thing in every command", () => {
  it.each([
    [["udp", "ping", "-c", "1"], "-i", "0.2", "--interval", "--include"],
    [["udp", "ping", "-c", "1"], "-s", "100", "--size", "--silent"],
    [["url", "build", "--scheme", "http", "--netloc", "h"], "-f", "q=1", "--field", "--fail"],
  ])(
    "%j %s answers with the spelling to use",
    { timeout: 20_000 },
    async (command, flag, value, long, meaning) => {
      const r = await runLab([...command, flag, value]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        `lab: ${flag} is not an option of lab ${command.slice(0, 2).join(" ")} (in lab, ${flag} is ${meaning}, as in curl)\nhint: write ${flag} ${value} as ${long} ${value}\n`,
      );
    },
  );

  it("--help: every server lists -v/--verbose, -q/--quiet and --log-format with its default", {
    timeout: 20_000,
  }, async () => {
    for (const command of [["server"], ["files"], ["udp", "echo"], ["proxy"]]) {
      const help = (await runLab([...command, "--help"])).stdout;
      expect(help, command.join(" ")).toMatch(/-v, --verbose/);
      expect(help, command.join(" ")).toMatch(/-q, --quiet/);
      expect(help, command.join(" ")).toMatch(/--log-format <format>[\s\S]*?\(default:\s+text\)/);
    }
  });
});
