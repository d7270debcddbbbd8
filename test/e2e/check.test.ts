import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { LAB_BIN, runLab } from "../helpers/lab.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/check/", import.meta.url));
const lab = [process.execPath, LAB_BIN];

async function tempDir(onFinished: typeof onTestFinished): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-check-e2e-"));
  onFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

// One at a time: these measure the profiles' run times and their 500 ms / 1 s lessons.
describe("#18: lab check grades netlab's own servers 100 %", () => {
  it("lab server (chat, flood control off) passes chat, within 30 s", async () => {
    const started = performance.now();
    const r = await runLab(["check", "chat", "--", ...lab, "server", "--port", "{port}", "--flood", "0"], {
      timeoutMs: 40_000,
    });
    expect(r.stdout).toMatch(/10 passed, 0 failed \(of 10\)/);
    expect(r.code).toBe(0);
    expect(performance.now() - started).toBeLessThan(30_000);
  }, 45_000);

  it("lab server with its flood control on: the tests it cuts short blame the flood control, not the server's design", async () => {
    const r = await runLab(
      [
        "check",
        "chat",
        "--only",
        "chat.order-1000,chat.slow-reader",
        "--",
        ...lab,
        "server",
        "--port",
        "{port}",
      ],
      { timeoutMs: 40_000 },
    );
    expect(r.code).toBe(1);
    const hints = r.stdout.match(/hint: .*/g) ?? [];
    expect(hints).toHaveLength(2);
    for (const hint of hints) expect(hint).toContain("--flood 0");
    expect(r.stdout).not.toContain("never block the broadcast");
  }, 45_000);

  it("lab server --mode upper and --mode echo pass line", async () => {
    for (const mode of ["upper", "echo"]) {
      const r = await runLab(["check", "line", "--", ...lab, "server", "--mode", mode, "--port", "{port}"], {
        timeoutMs: 30_000,
      });
      expect(r.stdout, mode).toMatch(/8 passed, 0 failed \(of 8\)/);
      expect(r.code).toBe(0);
    }
  }, 60_000);

  it("lab files --raw passes transfer", async () => {
    const dir = await tempDir(onTestFinished);
    const file = path.join(dir, "raw.bin");
    await writeFile(
      file,
      Buffer.from(Array.from({ length: 3 * 1024 * 1024 + 7 }, (_, i) => (i * 7919) & 0xff)),
    );
    const r = await runLab(
      ["check", "transfer", "--file", file, "--", ...lab, "files", "--raw", file, "--port", "{port}"],
      { timeoutMs: 30_000 },
    );
    expect(r.stdout).toMatch(/3 passed, 0 failed \(of 3\)/);
    expect(r.code).toBe(0);
  }, 40_000);

  it("the echo profile runs within 10 s", async () => {
    const started = performance.now();
    const r = await runLab(["check", "echo", "--", "python3", `${FIXTURES}echo_server.py`, "{port}"], {
      timeoutMs: 20_000,
    });
    expect(r.stdout).toMatch(/8 passed, 0 failed/);
    expect(performance.now() - started).toBeLessThan(10_000);
  }, 25_000);
});

// Not concurrent: startLab kills its process when "the current test" ends, which concurrency blurs.
describe("#18: lab check's command line", () => {
  it("a failing server exits 1, with expected, observed, a hex excerpt and a hint; --transcript writes each test", async () => {
    const dir = await tempDir(onTestFinished);
    const r = await runLab(
      [
        "check",
        "line",
        "--only",
        "line.partial-line,line.crlf",
        "--transcript",
        dir,
        "--",
        "python3",
        `${FIXTURES}line_server.py`,
        "{port}",
        "no-line-buffering",
      ],
      { timeoutMs: 20_000 },
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL line\.partial-line/);
    expect(r.stdout).toMatch(/expected: .*\n\s+observed: the line /);
    expect(r.stdout).toMatch(/hint: +buffer bytes until the newline/);
    expect(r.stdout).toMatch(/00000000 {2}[0-9a-f]{2} /);
    expect(r.stdout).toMatch(/1 passed, 1 failed \(of 2\)/);
    expect((await readdir(dir)).sort()).toEqual(["line.crlf.txt", "line.partial-line.txt"]);
  }, 30_000);

  it("--format junit writes valid XML to stdout", async () => {
    const r = await runLab(
      [
        "check",
        "line",
        "--format",
        "junit",
        "--",
        "python3",
        `${FIXTURES}line_server.py`,
        "{port}",
        "crash-on-long-line",
      ],
      { timeoutMs: 30_000 },
    );
    expect(r.code).toBe(1);
    const counts = execFileSync(
      "python3",
      [
        "-c",
        "import sys, xml.dom.minidom as m; d = m.parse(sys.stdin); print(len(d.getElementsByTagName('testcase')), len(d.getElementsByTagName('failure')))",
      ],
      { input: r.stdout, encoding: "utf8" },
    );
    expect(counts.trim()).toBe("8 1");
  }, 40_000);

  it.each([
    [
      ["check", "ecco", "5001"],
      2,
      /^lab: unknown profile "ecco"\nhint: choose one of: echo, line, chat, transfer, http\n$/,
    ],
    [
      ["check", "127.0.0.1:5001", "line"],
      2,
      /^lab: unknown profile "127\.0\.0\.1:5001"\nhint: the profile comes first: lab check line 127\.0\.0\.1:5001\n$/,
    ],
    [
      ["check", "--", "python3", "server.py", "{port}"],
      2,
      /^lab: unknown profile "python3"\nhint: name the profile before --: lab check PROFILE -- python3 server\.py \{port\} \(PROFILE: echo, line, chat, transfer, http\)\n$/,
    ],
    [
      ["check", "line", "--only", "line.nope", "5001"],
      2,
      /^lab: profile line has no test "line\.nope"\nhint: its tests: line\.partial-line/,
    ],
    [
      ["check", "line", "--", "python3", "server.py"],
      2,
      /^lab: the command has no \{port\}.*\nhint: write \{port\}/,
    ],
    [
      ["check", "line", "--transcript", `${FIXTURES}seed_upper.py`, "5001"],
      2,
      /^lab: --transcript .*seed_upper\.py: cannot make that folder \(a file is in the way\)\nhint: give a folder/,
    ],
    [
      // Node 20's recursive mkdir never returns under /proc: this once hung until killed.
      ["check", "line", "--transcript", "/proc/netlab-transcripts", "5001"],
      2,
      /^lab: --transcript \/proc\/netlab-transcripts: cannot make that folder \(ENOENT\)\nhint: give a folder/,
    ],
    [
      // The address grammar of every other command, with its hints.
      ["check", "line", "::1:5001"],
      2,
      /^lab: target "::1:5001" is ambiguous: an IPv6 address with a port needs brackets\nhint: write it as \[::1\]:5001\n$/,
    ],
    [
      ["check", "line", "127.0.0.1:70000"],
      2,
      /^lab: target port must be a number from 1 to 65535, got "70000"\n/,
    ],
    [
      ["check", "line", "--format", "xml", "5001"],
      2,
      /^lab: unknown --format "xml"\nhint: choose one of: human, tap, junit, json\n$/,
    ],
    [["check", "transfer", "5001"], 2, /^lab: the transfer profile needs the file the server sends\nhint: /],
    [
      [
        "check",
        "line",
        "--",
        "python3",
        "-c",
        "import sys; sys.stderr.write('Traceback: boom\\n'); sys.exit(1)",
        "{port}",
      ],
      3,
      /^lab: python3 exited with code 1 before listening on port \d+; its stderr ends: Traceback: boom\nhint: /,
    ],
  ])(
    "lab %j exits %i with one lab: line and a hint",
    async (args, code, stderr) => {
      const r = await runLab(args as string[], { timeoutMs: 20_000 });
      expect(r.stderr).toMatch(stderr as RegExp);
      expect(r.code).toBe(code);
    },
    25_000,
  );

  it("a reader that goes away (| head -1) ends lab check, and the program it started with it", async () => {
    const dir = await tempDir(onTestFinished);
    const pidFile = path.join(dir, "server.pid");
    // An upper-casing line server that says where it runs: its pid, for the check below.
    const server = [
      "import os, socketserver, sys",
      "open(sys.argv[2], 'w').write(str(os.getpid()))",
      "class H(socketserver.StreamRequestHandler):",
      "    def handle(self):",
      "        for line in self.rfile: self.wfile.write(line.upper())",
      "socketserver.ThreadingTCPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()",
    ].join("\n");
    const child = spawn(
      process.execPath,
      [LAB_BIN, "check", "line", "--", "python3", "-c", server, "{port}", pidFile],
      {
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Like head -1: read the header line, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    await exited;
    const pid = Number(await readFile(pidFile, "utf8"));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    onTestFinished(() => {
      if (alive()) process.kill(pid, "SIGKILL");
    });
    const deadline = performance.now() + 3_000;
    while (alive() && performance.now() < deadline) await delay(50);
    expect(alive()).toBe(false);
  }, 30_000);

  it("--role client grades a client against netlab's misbehaving server", async () => {
    const r = await runLab(
      ["check", "line", "--role", "client", "--", "python3", `${FIXTURES}line_client.py`, "{host}", "{port}"],
      {
        timeoutMs: 40_000,
      },
    );
    expect(r.stdout).toMatch(/4 passed, 0 failed \(of 4\)/);
    expect(r.code).toBe(0);
  }, 45_000);

  it("a target that never listened exits 3", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["check", "echo", String(port)], { timeoutMs: 20_000 });
    expect(r.stderr).toMatch(
      new RegExp(`^lab: connection to 127\\.0\\.0\\.1:${port} refused: nothing listens there\\nhint: `),
    );
    expect(r.stdout).toBe("");
    expect(r.code).toBe(3);
  }, 25_000);
});
