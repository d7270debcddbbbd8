import { mkdtemp, rm, stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { generateCertificate } from "@netlab/tls";
import { describe, expect, it, onTestFinished } from "vitest";
import { CheckError, runCheck, startTarget } from "../src/index.js";
import { failedIds, failures, fixture, grade } from "./helpers.js";
import { BROKEN, type FixtureRow, GOOD } from "./table.js";

/**
 * Listens with `server` on `name` in a fresh folder; when the test ends its connections are
 * destroyed (a close never waits on one), the server closed and the folder removed. Returns the path.
 */
async function listenInTemp(server: net.Server, name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-check-unit-"));
  const sockets = new Set<net.Socket>();
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });
  const where = path.join(dir, name);
  await new Promise<void>((r) => server.listen(where, r));
  return where;
}

/** A table row's command with `{socket}` where it had `{port}`: the same server on a Unix socket. */
function overUnix(row: FixtureRow): string[] {
  const [script, ...args] = row.argv;
  expect(args).toContain("{port}");
  return ["python3", fixture(script as string), ...args.map((a) => (a === "{port}" ? "{socket}" : a))];
}

/**
 * Bugs a Unix socket does not have: `destroy-on-half-close` closes with SO_LINGER 0, which on
 * TCP is an RST that drops the unsent echo; a Unix socket has no RST, and what was sent is
 * already in our receive queue, so the echo and a clean EOF arrive.
 */
const TCP_ONLY_BUGS: Record<string, string[]> = { "destroy-on-half-close": [] };

/**
 * The broken fixtures whose bug lives in the transport (half-close, close, backlog, socket
 * buffers), graded again over a Unix socket. The others' bugs are in the bytes (framing, names,
 * CRLF), which lab check reads the same way over either socket, and broken-fixtures.test.ts
 * grades them over TCP: grading all 13 twice cost CI 40 s.
 */
const TRANSPORT_BUGS = new Set([
  "destroy-on-half-close",
  "goodbye-after-echo",
  "one-at-a-time",
  "unbounded-buffering",
  "closes-before-flushing",
]);

// One fixture at a time, as good-fixtures.test.ts and broken-fixtures.test.ts (a loaded machine).
describe("lab check over a Unix socket grades the fixture servers as it grades them over TCP", () => {
  it("names only broken fixtures that exist", () => {
    const names = new Set(BROKEN.map((b) => b.name));
    for (const name of TRANSPORT_BUGS) expect(names.has(name), name).toBe(true);
  });

  for (const row of [...GOOD, ...BROKEN.filter((b) => TRANSPORT_BUGS.has(b.name))]) {
    const caughtBy = TCP_ONLY_BUGS[row.name] ?? row.caughtBy;
    it(`${row.profile}: ${row.name} on {socket} fails ${caughtBy.length === 0 ? "nothing" : caughtBy.join(", ")}`, async () => {
      const report = await grade(row.profile, overUnix(row));
      expect(failedIds(report), failures(report)).toEqual([...caughtBy].sort());
      expect(report.results.length).toBeGreaterThan(0);
      // A hint names the Unix socket's class, never the TCP one the learner is not using.
      for (const r of report.results) expect(r.hint ?? "", r.id).not.toMatch(/TCPServer/);
    }, 60_000);
  }
});

describe("a Unix socket's full backlog is graded as TCP's", () => {
  it("a threaded UnixStreamServer with Python's default backlog of 5 answers 50 clients at once", async () => {
    // Over TCP the 6th-50th SYNs are dropped and retried by the kernel; over a Unix socket connect()
    // fails at once with EAGAIN, and lab check retries as TCP would instead of failing the server.
    const script = [
      "import socketserver, sys",
      "class H(socketserver.StreamRequestHandler):",
      "    def handle(self):",
      "        for line in self.rfile: self.wfile.write(line.upper())",
      "class S(socketserver.ThreadingUnixStreamServer):",
      "    daemon_threads = True",
      "with S(sys.argv[1], H) as s: s.serve_forever()",
    ].join("\n");
    const report = await grade("line", ["python3", "-c", script, "{socket}"], 1, ["line.clients-50"]);
    expect(failedIds(report), failures(report)).toEqual([]);
  }, 30_000);
});

describe("line.reset-mid-line over a Unix socket is a hang-up, and can fail", () => {
  // One connection at a time; it dies on a half line of letters at EOF (a peer that hung up
  // mid-word). Any other broken pipe it survives: the TLS probe before the tests (a ClientHello,
  // then a close) must not be what kills it.
  const script = [
    "import socket, sys",
    "s = socket.socket(socket.AF_UNIX)",
    "s.bind(sys.argv[1])",
    "s.listen(128)",
    "while True:",
    "    c, _ = s.accept()",
    "    try:",
    "        for line in c.makefile('rb'):",
    "            if not line.endswith(b'\\n') and line.isalpha(): raise SystemExit('died on ' + repr(line))",
    "            c.sendall(line.rstrip(b'\\n').upper() + b'\\n')",
    "    except (BrokenPipeError, ConnectionResetError):",
    "        pass",
    "    c.close()",
  ].join("\n");

  it("a server that dies when a client hangs up mid-line fails it, named as a hang-up", async () => {
    const report = await grade("line", ["python3", "-c", script, "{socket}"], 1, [
      "line.partial-line",
      "line.reset-mid-line",
    ]);
    expect(failedIds(report), failures(report)).toEqual(["line.reset-mid-line"]);
    const failed = report.results.find((r) => r.id === "line.reset-mid-line");
    expect(failed?.title).toMatch(/hangs up in the middle of a line \(a Unix socket has no RST\)/);
    // The next client was queued as it died (reset) or came after (refused).
    expect(failed?.observed).toMatch(/reset|refused/);
  }, 30_000);

  it("when the line server's variant cannot be told, each result still carries the Unix title", async () => {
    const server = net.createServer((s) => {
      s.on("error", () => {});
      s.resume(); // read to EOF, so the socket closes when the client does
      s.end("not a line server\n");
    });
    const where = await listenInTemp(server, "s.sock");
    const report = await runCheck({ profile: "line", path: where, only: ["line.reset-mid-line"] });
    expect(report.target).toBe(`unix:${where}`);
    expect(report.results).toHaveLength(1);
    expect(report.results[0]?.status).toBe("fail");
    expect(report.results[0]?.title).toMatch(/hangs up in the middle of a line/);
  }, 20_000);
});

describe("a Unix socket's only reset is reported as one", () => {
  it("an echo that closes with our bytes unread fails echo.half-close: part of the echo, then a reset", async () => {
    // Echoes the first read, then closes with the rest of the 1 MiB unread: the kernel's only reset
    // on a Unix socket.
    const server = net.createServer((s) => {
      s.on("error", () => {});
      s.once("data", (d: Buffer) => s.write(d, () => s.destroy()));
    });
    const where = await listenInTemp(server, "s.sock");
    const report = await runCheck({ profile: "echo", path: where, only: ["echo.half-close"] });
    expect(report.results[0]?.status).toBe("fail");
    expect(report.results[0]?.observed).toMatch(/^\d+ bytes, then the connection was reset$/);
  }, 20_000);
});

describe("a TLS server on a Unix socket", () => {
  it("is told apart before the tests, as on TCP", async () => {
    const pair = await generateCertificate();
    const server = tls.createServer({ key: pair.key, cert: pair.cert }, (s) => {
      s.on("error", () => {});
      s.end("hi");
    });
    server.on("tlsClientError", () => {});
    const where = await listenInTemp(server, "tls.sock");
    const err = await runCheck({ profile: "line", path: where }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect((err as CheckError).code).toBe("TARGET_SPEAKS_TLS");
    expect((err as CheckError).message).toBe(
      `unix:${where} answered with a TLS record (first byte 0x16/0x15): it speaks TLS, not plain bytes`,
    );
  }, 20_000);
});

describe("{socket}: a program that never listens there", () => {
  async function refusal(argv: string[]): Promise<{ code: string; message: string }> {
    const err = await startTarget(argv, { startupTimeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckError);
    const e = err as CheckError;
    // The message names the socket path, and its private folder is gone with the program.
    const where = /unix:(\S+\/server\.sock)/.exec(e.message)?.[1];
    expect(where, e.message).toBeDefined();
    await expect(stat(path.dirname(where as string))).rejects.toMatchObject({ code: "ENOENT" });
    return e;
  }

  it("is NOT_LISTENING after the startup timeout, naming the path", async () => {
    const e = await refusal(["python3", "-c", "import time; time.sleep(60)", "{socket}"]);
    expect(e.code).toBe("NOT_LISTENING");
    expect(e.message).toMatch(/did not listen on unix:\S+ within 0\.5 s$/);
  });

  it("that exits first is TARGET_EXITED, naming the path", async () => {
    const e = await refusal([
      "python3",
      "-c",
      "import sys; sys.exit('no socket for you: ' + sys.argv[1])",
      "{socket}",
    ]);
    expect(e.code).toBe("TARGET_EXITED");
    expect(e.message).toMatch(
      /exited with code 1 before listening on unix:\S+; its stderr ends: no socket for you/,
    );
  });
});
