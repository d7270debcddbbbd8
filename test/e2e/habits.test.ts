// Issue #20: lab behaves as the tools people already know (nc, curl, ping) and in one style.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { LAB_BIN, runLab, runProcess, startServer } from "../helpers/lab.js";
import { serve } from "../helpers/tcp.js";

const upper = () =>
  startServer(
    (p) => ["server", "--mode", "upper", "-p", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );

describe("#20 nc habits", () => {
  it("#20: lab client HOST PORT talks to a server, as nc HOST PORT does", async () => {
    const { port } = await upper();
    const r = await runLab(["client", "127.0.0.1", String(port), "--wait", "200ms"], { input: "hello\n" });
    expect(r).toMatchObject({ code: 0, stdout: "HELLO\n" });
  });

  it("lab client HOST PORT: a bad PORT word is named as the word it is, and an address with its own port takes no PORT word", async () => {
    const cases: Array<[string[], string]> = [
      [
        ["client", "127.0.0.1", "0"],
        'lab: port must be a number from 1 to 65535, got "0"\nhint: the server\'s port, such as 5001\n',
      ],
      [
        ["client", "127.0.0.1:5000", "6000"],
        'lab: "127.0.0.1:5000" already has a port, and 6000 is another\nhint: write lab client 127.0.0.1:5000 or lab client HOST 6000\n',
      ],
      [
        ["client", "unix:/tmp/netlab-none.sock", "6000"],
        'lab: "unix:/tmp/netlab-none.sock" is a Unix socket, which has no port (6000)\nhint: write lab client unix:/tmp/netlab-none.sock\n',
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await runLab(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toBe(stderr);
    }
  });

  it("#20: -p PORT works for --port on the client and the server", async () => {
    const { port } = await upper();
    const r = await runLab(["client", "-p", String(port), "--wait", "0.2"], { input: "hi\n" });
    expect(r).toMatchObject({ code: 0, stdout: "HI\n" });
  });

  it("#20: time options take units and a bare number is seconds, on every command", async () => {
    for (const args of [
      ["client", "--wait", "soon"],
      ["client", "--connect-timeout", "5x"],
      ["transfer", "x", "--stall-timeout", "-1"],
      ["udp", "ping", "-W", "1d"],
      ["udp", "send", "127.0.0.1:9", "x", "--wait", "later"],
      ["udp", "echo", "--delay", "fast"],
      ["get", "http://127.0.0.1:9/", "-m", "1y"],
      ["server", "--idle-timeout", "never"],
      ["files", "--header-timeout", "x"],
    ]) {
      const r = await runLab(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(
        /^lab: \S+ must be a time .*\(500ms, 2s, 1m; bare numbers are seconds\), got "/,
      );
    }
  });

  it("#20: help shows defaults as numbers with units, never as quoted strings", async () => {
    const commands = [
      ["server"],
      ["client"],
      ["files"],
      ["transfer"],
      ["udp", "echo"],
      ["udp", "ping"],
      ["udp", "listen"],
      ["udp", "send"],
      ["get"],
      ["demo"],
      ["url"],
    ];
    for (const cmd of commands) {
      const r = await runLab([...cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout, cmd.join(" ")).not.toMatch(/default: "/);
    }
    const client = (await runLab(["client", "--help"])).stdout.replace(/\s+/g, " ");
    expect(client).toContain("(default: 500ms)");
    expect(client).toContain("(default: 5001)");
    expect(client).toContain("(default: 1m)");
    const server = (await runLab(["server", "--help"])).stdout.replace(/\s+/g, " ");
    expect(server).toContain("(default: 10m)");
    expect(server).toContain("echo hello | nc -N 127.0.0.1 9000");
  });
});

const chatServer = () =>
  startServer(
    (p) => ["server", "--port", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );

describe("#20 wrong-protocol detection", () => {
  it("#20: lab transfer pointed at a chat port says it reached a chat server", async () => {
    const { port } = await chatServer();
    const r = await runLab(["transfer", "--list", "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^lab: reached a chat server, not a 'lab files' server \(it said '\* netlab chat\/1 /,
    );
    expect(r.stderr).toContain("hint: join a chat with 'lab client'");
    expect(r.stderr).not.toMatch(/exceeds|bytes exceeds/);
  });

  it("#20: lab client pointed at a file server says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-habits-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const { port } = await startServer(
      (p) => ["files", dir, "--port", String(p)],
      (p) => `127.0.0.1:${p}`,
    );
    const r = await runLab(["client", "127.0.0.1", String(port)], { input: "hello\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(
        `^lab: reached a netlab file server \\(lab files\\) at 127\\.0\\.0\\.1:${port}, not a chat or line server`,
      ),
    );
    expect(r.stderr).toContain("hint: send and fetch files with 'lab transfer'");
  });

  it("#20: lab get at a non-HTTP port exits 8 with what it reached", async () => {
    const { port } = await chatServer();
    const r = await runLab(["get", `http://127.0.0.1:${port}/`]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(
      new RegExp(
        `^lab: 127\\.0\\.0\\.1:${port} answered with something that is not HTTP: a netlab chat server`,
      ),
    );
  });

  it("#20: lab get quotes a non-HTTP answer safely: escaped, one line, cut", async () => {
    const port = await serve((s) => s.end("SSH-2.0-x\x1b]0;PWNED\x07 then more\r\nsecond line\n"));
    const r = await runLab(["get", `http://127.0.0.1:${port}/`]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("an SSH server (it sent 'SSH-2.0-x^[]0;PWNED^G then more^M')");
    expect(r.stderr).not.toContain("\x1b");
    expect(r.stderr).not.toContain("second line");
  });
});

describe("#20 one style", () => {
  it("#20: lab examples run X | head ends quietly, without an EPIPE trace", async () => {
    const r = await runProcess("bash", [
      "-c",
      `"${process.execPath}" "${LAB_BIN}" examples run event | head -n 1`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("light: RED\n");
    expect(r.stderr).not.toMatch(/EPIPE|at .*\.js:\d+/);
  });

  it("#20: an unknown chat /command gets a did-you-mean", async () => {
    const { port } = await chatServer();
    const r = await runLab(["client", "-p", String(port)], { input: "/hwo\n" });
    expect(r.stdout).toContain("! unknown command /hwo: did you mean /who? [UNKNOWN_COMMAND]");
  });

  it("#20: an unknown option gets commander's suggestion as a hint", async () => {
    const r = await runLab(["client", "--nik", "bob"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lab: unknown option '--nik'\nhint: did you mean --nick? run 'lab client --help' for usage\n",
    );
  });

  it("#20: a transfer reports sizes and rates in binary units", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-habits-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "one.bin"), Buffer.alloc(1024 * 1024, 7));
    mkdirSync(join(dir, "srv"));
    const { port } = await startServer(
      (p) => ["files", join(dir, "srv"), "--port", String(p)],
      (p) => `127.0.0.1:${p}`,
    );
    const r = await runLab(["transfer", join(dir, "one.bin"), "-p", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^uploaded one\.bin \(1\.0 MiB\) in [\d.]+ s, [\d.]+ (B|KiB|MiB|GiB)\/s, sha256 /,
    );
  });
});
