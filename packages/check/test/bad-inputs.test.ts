import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { generateCertificate } from "@netlab/tls";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { serve } from "../../../test/helpers/tcp.js";
import { CheckError, runCheck, startTarget } from "../src/index.js";

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CheckError);
  return err as CheckError;
}

describe("#18: bad inputs, one clear error each", () => {
  it("an unknown profile names the profiles there are", async () => {
    const e = await codeOf(runCheck({ profile: "ecco", host: "127.0.0.1", port: 1 }));
    expect(e.code).toBe("UNKNOWN_PROFILE");
    expect(e.hint).toContain("echo, line, chat, transfer, http");
  });

  it("an unknown test id names the profile's tests", async () => {
    const e = await codeOf(runCheck({ profile: "line", host: "127.0.0.1", port: 1, only: ["line.nope"] }));
    expect(e.code).toBe("UNKNOWN_TEST");
    expect(e.hint).toContain("line.partial-line");
  });

  it("a target nobody listens on is NOT_LISTENING (the CLI exits 3)", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const e = await codeOf(runCheck({ profile: "echo", host: "127.0.0.1", port }));
    expect(e.code).toBe("NOT_LISTENING");
    expect(e.hint).toMatch(/running/);
  });

  it("an IPv6 target is written [::1]:PORT in messages, as on the command line", async () => {
    const port = await getPort({ host: "::1" });
    const e = await codeOf(runCheck({ profile: "echo", host: "::1", port }));
    expect(e.code).toBe("NOT_LISTENING");
    expect(e.message).toContain(`[::1]:${port}`);
  });

  it("a target speaking TLS is told apart, with a hint", async () => {
    const pair = await generateCertificate();
    const port = await serve((s) => s.end("hi"), tls.createServer({ key: pair.key, cert: pair.cert }));
    const e = await codeOf(runCheck({ profile: "line", host: "127.0.0.1", port }));
    expect(e.code).toBe("TARGET_SPEAKS_TLS");
    expect(e.hint).toMatch(/without TLS/);
  });

  it("a target that sends forever is capped: the test fails on the extra bytes, within its deadline", async () => {
    const block = Buffer.alloc(64 * 1024, 0x61);
    const port = await serve((s) => {
      const pump = () => {
        while (!s.destroyed && s.write(block));
      };
      s.on("drain", pump);
      pump();
    });
    const file = Buffer.alloc(1024, 0x61);
    const report = await runCheck({
      profile: "transfer",
      host: "127.0.0.1",
      port,
      inputs: { file },
      timeoutMs: 3_000,
    });
    const exact = report.results.find((r) => r.id === "transfer.exact-bytes");
    expect(exact?.status).toBe("fail");
    const extra = Number(/(\d+) extra bytes/.exec(exact?.observed ?? "")?.[1]);
    expect(extra).toBeGreaterThan(0);
    expect(extra).toBeLessThanOrEqual(1024 * 1024 + 1024 * 1024);
    for (const r of report.results) expect(r.durationMs).toBeLessThanOrEqual(3_000 + 1_000);
  }, 30_000);

  it("a target that accepts and then hangs never makes a test run past its timeout + 1 s", async () => {
    const port = await serve((s) => s.pause());
    const report = await runCheck({ profile: "echo", host: "127.0.0.1", port, timeoutMs: 1_000 });
    expect(report.results).toHaveLength(8);
    for (const r of report.results) expect(r.durationMs).toBeLessThanOrEqual(2_000);
    // Only the backpressure lesson passes: a server that never reads does push back.
    expect(report.results.filter((r) => r.status === "pass").map((r) => r.id)).toEqual([
      "echo.slow-reader-bounded",
    ]);
  }, 30_000);

  it("a server that is not what the profile expects fails every test once, with the reason", async () => {
    const port = await serve((s) => s.write("220 welcome to my FTP server\n"));
    const report = await runCheck({ profile: "line", host: "127.0.0.1", port });
    expect(report.results).toHaveLength(8);
    for (const r of report.results) {
      expect(r.status).toBe("fail");
      expect(r.observed).toBe('the line "220 welcome to my FTP server"');
      expect(r.hint).toMatch(/is this a line server\?/);
    }
  });

  it("the server's bytes are quoted in a report, so they never read as its words (nor vanish when empty)", async () => {
    const errors = await serve((s) => s.once("data", () => s.write('ERR line is "not" UTF-8\n')));
    const echo = await runCheck({
      profile: "echo",
      host: "127.0.0.1",
      port: errors,
      only: ["echo.all-bytes"],
    });
    expect(echo.results[0]?.observed).toBe('"ERR line" at byte 0');
    const empty = await serve((s) => s.once("data", () => s.write("\n")));
    const line = await runCheck({ profile: "line", host: "127.0.0.1", port: empty, only: ["line.crlf"] });
    expect(line.results[0]?.observed).toBe('the line ""');
    const quote = await serve((s) => s.once("data", () => s.write('say "hi"\n')));
    const quoted = await runCheck({ profile: "line", host: "127.0.0.1", port: quote, only: ["line.crlf"] });
    expect(quoted.results[0]?.observed).toBe('the line "say \\"hi\\""');
  });

  it("a command that exits before listening shows the tail of its stderr", async () => {
    const e = await codeOf(
      startTarget([
        "python3",
        "-c",
        "import sys; sys.stderr.write('Traceback: port {port} boom\\n'); sys.exit(1)",
        "{port}",
      ]),
    );
    expect(e.code).toBe("TARGET_EXITED");
    expect(e.message).toMatch(/exited with code 1 .*its stderr ends: Traceback: port \d+ boom/);
  });

  it("a program that does not exist, or is not executable, is said so in words", async () => {
    const missing = await codeOf(startTarget(["no-such-program-netlab", "{port}"]));
    expect(missing.code).toBe("TARGET_EXITED");
    expect(missing.message).toBe("no-such-program-netlab could not be started (no such program)");
    expect(missing.hint).toMatch(/on PATH/);
    const script = path.join(await mkdtemp(path.join(os.tmpdir(), "netlab-check-")), "server.py");
    onTestFinished(() => rm(path.dirname(script), { recursive: true, force: true }));
    await writeFile(script, "print('hi')\n", { mode: 0o644 });
    const notExecutable = await codeOf(startTarget([script, "{port}"]));
    expect(notExecutable.message).toBe(`${script} could not be started (permission denied: not executable)`);
    expect(notExecutable.hint).toMatch(/chmod \+x/);
  });

  it("a program that crashes mid-run: the tests after say it exited and quote its last words", async () => {
    // Answers the probe's netlab, then raises on the first word line (a TLS probe's bytes are not one).
    const script = [
      "import socket, sys",
      "s = socket.create_server(('127.0.0.1', int(sys.argv[1])))",
      "while True:",
      "    c, _ = s.accept()",
      "    for line in c.makefile('rb'):",
      "        if line == b'netlab\\n': c.sendall(b'NETLAB\\n')",
      "        elif line.strip().isalpha(): raise RuntimeError('boom on ' + repr(line))",
      "    c.close()",
    ].join("\n");
    const target = await startTarget(["python3", "-c", script, "{port}"]);
    onTestFinished(() => target.stop());
    const only = ["line.partial-line", "line.several-lines", "line.crlf", "line.nul"];
    const report = await runCheck({
      profile: "line",
      ...target.target,
      only,
      targetEnded: target.ended,
    });
    expect(report.results.map((r) => r.status)).toEqual(["fail", "fail", "fail", "fail"]);
    const last = report.results.at(-1);
    expect(last?.observed).toMatch(
      /refused.*; the program exited with code 1; its stderr ends: .*RuntimeError: boom on b'/,
    );
    expect(last?.observed).not.toMatch(/\^\^\^/);
    expect(last?.hint).toMatch(/crashed/);
  }, 30_000);

  it("a command without {port} is refused before it starts", async () => {
    const e = await codeOf(startTarget(["python3", "server.py"]));
    expect(e.code).toBe("PORT_PLACEHOLDER_MISSING");
    expect(e.hint).toContain("python3 server.py {port}");
  });

  it("a command that never listens is NOT_LISTENING after the startup timeout, and is stopped", async () => {
    const e = await codeOf(
      startTarget(["python3", "-c", "import time; time.sleep(60)", "{port}"], { startupTimeoutMs: 500 }),
    );
    expect(e.code).toBe("NOT_LISTENING");
    expect(e.message).toMatch(/did not listen on 127\.0\.0\.1:\d+ within 0\.5 s/);
  });
});
