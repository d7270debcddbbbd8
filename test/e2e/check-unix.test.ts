import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { LAB_BIN, runLab, runProcess, startLab } from "../helpers/lab.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/check/", import.meta.url));
const lab = [process.execPath, LAB_BIN];

/** A private folder for this test's sockets, removed when it ends. */
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-check-unix-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A raw Node echo server that is wrong on purpose: it decodes what comes as UTF-8 and sends the
 * text back, so bytes 0x80–0xff come back as U+FFFD (echo.all-bytes fails; printable data passes).
 * Listens on argv[1]; writes that path to argv[2] if given, for the test to look at afterwards.
 */
const TEXT_ECHO = [
  "const net = require('node:net');",
  "const [where, record] = process.argv.slice(1);",
  "if (record) require('node:fs').writeFileSync(record, where);",
  "net.createServer((s) => { s.setEncoding('utf8'); s.on('data', (t) => s.write(t)); s.on('error', () => {}); })",
  "  .listen(where);",
].join("\n");

/** Listens on `where` (a Unix socket path) with `handler`; closed when the test ends. */
async function listenUnix(where: string, handler: (s: net.Socket) => void): Promise<void> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    handler(s);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, resolve);
  });
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });
}

describe("lab check grades servers on Unix sockets", () => {
  it("lab server --mode upper on unix:/path passes line, the reset lesson graded as a hang-up", async () => {
    const dir = await tempDir();
    const sock = path.join(dir, "upper.sock");
    const server = startLab(["server", "--mode", "upper", "--host", `unix:${sock}`]);
    await server.waitForOutput(`listening on unix:${sock}`);
    const r = await runLab(["check", "line", `unix:${sock}`], { timeoutMs: 30_000 });
    expect(r.stdout).toContain(`lab check line unix:${sock} (seed 1`);
    expect(r.stdout).toMatch(
      /ok {3}line\.reset-mid-line +a client that hangs up in the middle of a line \(a Unix socket has no RST\)/,
    );
    expect(r.stdout).toMatch(/8 passed, 0 failed \(of 8\)/);
    expect(r.code).toBe(0);
  }, 40_000);

  it("lab server (chat) started with unix:{socket} passes chat", async () => {
    const r = await runLab(
      ["check", "chat", "--", ...lab, "server", "--host", "unix:{socket}", "--flood", "0"],
      { timeoutMs: 40_000 },
    );
    expect(r.stdout).toMatch(/10 passed, 0 failed \(of 10\)/);
    expect(r.code).toBe(0);
  }, 45_000);

  it("the python fixtures take {socket} for echo, transfer and http, with JSON naming the command", async () => {
    for (const [profile, script, ...rest] of [
      ["echo", "echo_server.py"],
      ["transfer", "file_sender.py", "{file}"],
      ["http", "http_server.py", "{dir}"],
    ] as string[][]) {
      const r = await runLab(
        ["check", profile as string, "--json", "--", "python3", `${FIXTURES}${script}`, "{socket}", ...rest],
        { timeoutMs: 30_000 },
      );
      const report = JSON.parse(r.stdout) as { target: string; summary: { failed: number; total: number } };
      expect(report.summary.failed, `${profile}: ${r.stdout}`).toBe(0);
      expect(report.summary.total).toBeGreaterThan(2);
      expect(report.target).toContain("{socket}");
      expect(r.code).toBe(0);
    }
  }, 90_000);

  it("a deliberately wrong raw server fails on {socket}, and its socket folder is gone afterwards", async () => {
    const dir = await tempDir();
    const record = path.join(dir, "where.txt");
    const r = await runLab(
      [
        "check",
        "echo",
        "--only",
        "echo.all-bytes,echo.one-mib",
        "--",
        process.execPath,
        "-e",
        TEXT_ECHO,
        "{socket}",
        record,
      ],
      { timeoutMs: 30_000 },
    );
    expect(r.stdout).toMatch(/FAIL echo\.all-bytes/);
    expect(r.stdout).toMatch(/ok {3}echo\.one-mib/);
    expect(r.stdout).toMatch(/1 passed, 1 failed \(of 2\)/);
    expect(r.code).toBe(1);
    const used = await readFile(record, "utf8");
    expect(used).toMatch(/\/netlab-check-socket-[^/]+\/server\.sock$/);
    // The private folder {socket} was made in, socket file and all, is removed with the program.
    await expect(stat(path.dirname(used))).rejects.toMatchObject({ code: "ENOENT" });
  }, 40_000);

  it("Ctrl-C mid-run stops the program and removes its {socket} folder", async () => {
    const dir = await tempDir();
    const record = path.join(dir, "where.txt");
    // Reads and never answers: the run is still in its first test when Ctrl-C comes.
    const silent = [
      "const [where, record] = process.argv.slice(1);",
      "require('node:net').createServer((s) => { s.on('error', () => {}); s.resume(); }).listen(where, () =>",
      "  require('node:fs').writeFileSync(record, where));",
    ].join("\n");
    const check = startLab(["check", "echo", "--", process.execPath, "-e", silent, "{socket}", record]);
    await check.waitForOutput(/lab check echo .*\(seed 1/);
    const used = await readFile(record, "utf8");
    expect((await stat(used)).isSocket()).toBe(true);
    expect(await check.stop("SIGINT")).toBe(130);
    await expect(stat(path.dirname(used))).rejects.toMatchObject({ code: "ENOENT" });
  }, 30_000);

  it("the same wrong server given as unix:/path fails the same test", async () => {
    const dir = await tempDir();
    const sock = path.join(dir, "text-echo.sock");
    await listenUnix(sock, (s) => {
      s.setEncoding("utf8");
      s.on("data", (t: string) => s.write(t));
    });
    const r = await runLab(["check", "echo", "--only", "echo.all-bytes", `unix:${sock}`], {
      timeoutMs: 20_000,
    });
    expect(r.stdout).toMatch(/FAIL echo\.all-bytes/);
    expect(r.stdout).toMatch(/observed: /);
    expect(r.code).toBe(1);
  }, 30_000);

  it("an abstract socket (@name) is a target too", async () => {
    const name = `netlab-check-${process.pid}-${Date.now()}`;
    await listenUnix(`\0${name}`, (s) => s.pipe(s));
    const r = await runLab(["check", "echo", "--only", "echo.all-bytes,echo.half-close", `@${name}`], {
      timeoutMs: 20_000,
    });
    expect(r.stdout).toContain(`lab check echo @${name} (seed 1`);
    expect(r.stdout).toMatch(/2 passed, 0 failed \(of 2\)/);
    expect(r.code).toBe(0);
  }, 30_000);
});

describe("lab check on a Unix socket that cannot be graded: one line each, non-zero exit", () => {
  it("a path with nothing there exits 3", async () => {
    const dir = await tempDir();
    const r = await runLab(["check", "line", `unix:${dir}/none.sock`]);
    expect(r.stderr).toBe(
      `lab: no socket at unix:${dir}/none.sock: nothing listens there\nhint: is the server running? it makes the socket file when it listens (check the path)\n`,
    );
    expect(r.stdout).toBe("");
    expect(r.code).toBe(3);
  });

  it("a path that is a regular file, or a folder, is a usage mistake (exit 2)", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "notes.txt");
    await writeFile(file, "not a socket\n");
    const r = await runLab(["check", "line", `unix:${file}`]);
    expect(r.stderr).toMatch(
      new RegExp(`^lab: unix:${file} is a regular file, not a socket\\nhint: give the path`),
    );
    expect(r.code).toBe(2);
    const d = await runLab(["check", "line", `unix:${dir}`]);
    expect(d.stderr).toMatch(/^lab: unix:.* is a folder, not a socket\n/);
    expect(d.code).toBe(2);
  });

  it("a socket file nobody listens on (a server that died) is refused: exit 3", async () => {
    const dir = await tempDir();
    const sock = path.join(dir, "stale.sock");
    // Bound, never listening, and the process gone: the file a crashed server leaves behind.
    const made = await runProcess("python3", [
      "-c",
      "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      sock,
    ]);
    expect(made.code).toBe(0);
    expect((await stat(sock)).isSocket()).toBe(true);
    const r = await runLab(["check", "line", `unix:${sock}`]);
    expect(r.stderr).toMatch(
      new RegExp(
        `^lab: connection to unix:${sock} refused: the socket file is there, but nothing listens on it\\nhint: a server that exited`,
      ),
    );
    expect(r.code).toBe(3);
  });

  it("an abstract name nobody listens on is refused: exit 3", async () => {
    const r = await runLab(["check", "line", `@netlab-check-nobody-${process.pid}`]);
    expect(r.stderr).toMatch(/^lab: connection to @netlab-check-nobody-\d+ refused: nothing listens there\n/);
    expect(r.code).toBe(3);
  });

  it("a socket the user may not write to is permission denied: exit 1", async () => {
    const dir = await tempDir();
    const sock = path.join(dir, "private.sock");
    await listenUnix(sock, (s) => s.pipe(s));
    // Root may connect to any socket: then the check runs as nobody, through a folder it may enter.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) await chmod(dir, 0o755);
    await chmod(sock, 0o600);
    const argv = [LAB_BIN, "check", "echo", `unix:${sock}`];
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, argv, {
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
        env: { PATH: process.env.PATH ?? "", NO_COLOR: "1", HOME: dir },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
    expect(r.stderr).toMatch(
      new RegExp(
        `^lab: cannot connect to unix:${sock}: permission denied\\nhint: connecting needs write permission`,
      ),
    );
    expect(r.code).toBe(1);
  }, 20_000);

  it("a path without unix: is told how to write it; {port} and {socket} together are refused", async () => {
    const r = await runLab(["check", "line", "/tmp/netlab-check.sock"]);
    expect(r.stderr).toMatch(
      /looks like a path, not HOST:PORT\nhint: for a Unix socket write unix:\/tmp\/netlab-check\.sock\n$/,
    );
    expect(r.code).toBe(2);
    const both = await runLab(["check", "line", "--", "python3", "server.py", "{port}", "{socket}"]);
    expect(both.stderr).toMatch(/^lab: the command has both \{port\} and \{socket\}: netlab grades one\n/);
    expect(both.code).toBe(2);
  });

  it("--role client with {socket} is told the client is served over TCP, with nothing on stdout", async () => {
    const r = await runLab(["check", "line", "--role", "client", "--", "python3", "client.py", "{socket}"]);
    expect(r.stderr).toBe(
      "lab: --role client serves your client over TCP: {socket} is for grading a server\nhint: give the client {host} and {port}: lab check line --role client -- python3 client.py {host} {port}\n",
    );
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("--help tells how: unix:/path as a target, {socket} in a command", async () => {
    const r = await runLab(["check", "--help"]);
    expect(r.stdout).toContain("unix:/path");
    expect(r.stdout).toContain("{socket}");
    expect(r.stdout).toMatch(/lab check echo -- python3 unix_echo\.py \{socket\}/);
  });
});
