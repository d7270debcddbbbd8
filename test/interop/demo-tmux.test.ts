import { execFileSync, spawnSync } from "node:child_process";
import dgram from "node:dgram";
import { existsSync } from "node:fs";
import net from "node:net";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { runProcess } from "../helpers/lab.js";

const LAB_BIN = fileURLToPath(new URL("../../apps/cli/dist/bin.js", import.meta.url));
/** A private tmux server per test, so tests never touch a person's sessions (or each other's). */
let SOCKET = `netlab-demo-test-${process.pid}`;
let sockets = 0;
const SESSION = "demo";

/** Starts `lab demo ARGS` in a fresh tmux server (120×40 unless told); killed when the test ends. Returns its pid. */
function startDemo(args: string, size = { columns: 120, rows: 40 }): number {
  SOCKET = `netlab-demo-test-${process.pid}-${++sockets}`;
  const socket = SOCKET;
  onTestFinished(() => {
    spawnSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore" });
  });
  // CI is unset inside: a real terminal gets real frames even on a CI machine.
  const command = `env -u CI NO_COLOR=1 ${process.execPath} ${LAB_BIN} demo ${args}`;
  tmux("new-session", "-d", "-s", SESSION, "-x", String(size.columns), "-y", String(size.rows), command);
  return Number(tmux("list-panes", "-t", SESSION, "-F", "#{pane_pid}").trim());
}

function tmux(...args: string[]): string {
  return execFileSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8" });
}

function hasSession(): boolean {
  return spawnSync("tmux", ["-L", SOCKET, "has-session", "-t", SESSION], { stdio: "ignore" }).status === 0;
}

function capture(): string {
  return tmux("capture-pane", "-p", "-t", SESSION);
}

/** Polls the screen (every 50 ms, at most `timeoutMs`) until `check` holds; returns that screen. */
async function screenMatching(
  check: (screen: string) => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let screen = "";
  while (Date.now() < deadline) {
    screen = hasSession() ? capture() : "";
    if (check(screen)) return screen;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen:\n${screen}`);
}

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canBindUdp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind(port, "127.0.0.1", () => socket.close(() => resolve(true)));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

describe("lab demo in a real terminal (tmux)", () => {
  it("shows a typed line in every client pane, moves focus with Tab, and quits cleanly on Ctrl-C", async () => {
    const pid = startDemo("--clients 3");

    // Generous: on a loaded 2-core CI machine loading Ink alone can take seconds.
    const ready = await screenMatching(
      (s) => count(s, "● connected") === 3 && s.includes("● listening"),
      "3 connected clients",
      30_000,
    );
    const port = Number(/server 127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(ready).toContain("▶ 1 alice");

    tmux("send-keys", "-t", SESSION, "-l", "hello from tmux");
    await screenMatching((s) => s.includes("› hello from tmux"), "the typed line in the input");
    tmux("send-keys", "-t", SESSION, "Enter");
    await screenMatching(
      (s) => count(s, "<alice> hello from tmux") === 3,
      "the line in all three client panes",
    );

    tmux("send-keys", "-t", SESSION, "Tab");
    await screenMatching((s) => s.includes("▶ 2 bob") && !s.includes("▶ 1 alice"), "focus on client 2");
    tmux("send-keys", "-t", SESSION, "-l", "and from bob");
    tmux("send-keys", "-t", SESSION, "Enter");
    await screenMatching((s) => count(s, "<bob> and from bob") === 3, "bob's line in all three panes");

    tmux("send-keys", "-t", SESSION, "C-c");
    await until(() => !hasSession(), "the demo to exit");
    await until(() => !isAlive(pid), "the process to be gone");
    expect(await canListen(port)).toBe(true);
  });

  it("udp scene: pingers get echoes, + raises the loss, Ctrl-C quits and frees the UDP port", async () => {
    const pid = startDemo("--scene udp --clients 2");
    const ready = await screenMatching(
      (s) => count(s, "● running") === 2 && /seq=\d+ [\d.]+ ms/.test(s),
      "echoes",
      30_000,
    );
    const port = Number(/udp echo 127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(ready).toContain("loss 10%  delay 20 ms");
    tmux("send-keys", "-t", SESSION, "+");
    await screenMatching(
      (s) => s.includes("loss 15%  delay 20 ms") && s.includes("· loss 15% ·"),
      "the new loss",
    );
    tmux("send-keys", "-t", SESSION, "C-c");
    await until(() => !hasSession(), "the demo to exit");
    await until(() => !isAlive(pid), "the process to be gone");
    expect(await canBindUdp(port)).toBe(true);
  });

  it("transfer scene: every uploader's file arrives verified, Enter sends another, Ctrl-C removes the folder", async () => {
    const pid = startDemo("--scene transfer --clients 2");
    const ready = await screenMatching((s) => count(s, "sha256") >= 4, "two verified uploads", 30_000);
    const port = Number(/file server 127\.0\.0\.1:(\d+)/.exec(ready)?.[1]);
    const root = /storing into (\S+)/.exec(ready)?.[1] ?? "";
    expect(existsSync(root)).toBe(true);
    tmux("send-keys", "-t", SESSION, "Enter");
    await screenMatching((s) => s.includes("✓ uploader1-2.bin"), "a second upload from uploader 1", 30_000);
    tmux("send-keys", "-t", SESSION, "C-c");
    await until(() => !hasSession(), "the demo to exit");
    await until(() => !isAlive(pid), "the process to be gone");
    expect(existsSync(root)).toBe(false);
    expect(await canListen(port)).toBe(true);
  });

  it("#20: --port fixes the chat server's port, and Debian's nc -N joins the demo's room", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    startDemo(`--clients 2 --port ${port}`);
    await screenMatching(
      (s) => count(s, "● connected") === 2 && s.includes(`server 127.0.0.1:${port}`),
      "the demo on the port given",
      30_000,
    );
    const nc = await runProcess(
      "bash",
      ["-c", `printf '/nick visitor\\nhello from nc\\n' | nc -N 127.0.0.1 ${port}`],
      {
        timeoutMs: 10_000,
      },
    );
    expect(nc.code, nc.stderr).toBe(0);
    expect(nc.stdout).toContain("netlab chat/1");
    await screenMatching((s) => count(s, "<visitor> hello from nc") === 2, "nc's line in both panes");
    tmux("send-keys", "-t", SESSION, "C-c");
    await until(() => !hasSession(), "the demo to exit");
  });

  it.each([
    ["chat", "--clients 1", (s: string) => s.includes("for commands")],
    ["transfer", "--scene transfer --clients 1 --rate 4MiB/s", (s: string) => / ([1-9]|[1-9]\d)%/.test(s)], // midway: --rate makes the progress visible
    ["udp", "--scene udp --clients 1", (s: string) => /seq=\d+ [\d.]+ ms/.test(s)],
    ["proxy", "--scene proxy", (s: string) => s.includes("read 21 B")],
  ])(
    "#20: the %s scene at 80×24 fits, cuts no word at a line's end and says 1 of a thing in the singular",
    async (_name, args, ready) => {
      startDemo(args, { columns: 80, rows: 24 });
      const screen = await screenMatching(ready, "the scene running", 30_000);
      const rows = screen.trimEnd().split("\n");
      expect(rows.length).toBeLessThanOrEqual(24);
      for (const row of rows) expect([...row].length, row).toBeLessThanOrEqual(80);
      expect(rows[0]?.trimEnd()).not.toMatch(/…$/); // the subtitle keeps whole parts
      expect(rows.at(-1)?.trimEnd()).toMatch(/\^C quit$/); // the legend ends whole
      expect(screen).not.toMatch(/\b1 (clients|uploaders|pingers|peers|msgs|connections|files)\b/);
      tmux("send-keys", "-t", SESSION, "C-c");
      await until(() => !hasSession(), "the demo to exit");
    },
  );
});
