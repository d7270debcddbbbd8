import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";

const LAB_BIN = fileURLToPath(new URL("../../apps/cli/dist/bin.js", import.meta.url));
let count = 0;

/** A private tmux server for one test (killed when it ends), with one window per command. */
function tmuxServer() {
  const socket = `netlab-chat-test-${process.pid}-${++count}`;
  onTestFinished(() => {
    spawnSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore" });
  });
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  let windows = 0;
  return {
    /** Runs `lab ARGS` in a new 100×20 terminal, then prints `[exit N]`; returns its target name. */
    lab(args: string, env = "NO_COLOR=1"): string {
      const name = `w${++windows}`;
      const command = `env -u CI ${env} ${process.execPath} ${LAB_BIN} ${args}; echo "[exit $?]"; sleep 30`;
      if (windows === 1)
        tmux("new-session", "-d", "-s", "chat", "-n", name, "-x", "100", "-y", "20", command);
      else tmux("new-window", "-d", "-t", "chat", "-n", name, command);
      return `chat:${name}`;
    },
    /** An interactive bash (job control on) in a new 100×20 terminal; returns its target name. */
    shell(): string {
      const name = `w${++windows}`;
      const command = "env -u CI NO_COLOR=1 PS1='$ ' bash --norc --noprofile -i";
      if (windows === 1)
        tmux("new-session", "-d", "-s", "chat", "-n", name, "-x", "100", "-y", "20", command);
      else tmux("new-window", "-d", "-t", "chat", "-n", name, command);
      return `chat:${name}`;
    },
    keys(target: string, ...keys: string[]): void {
      tmux("send-keys", "-t", target, ...keys);
    },
    /** Polls the screen every 50 ms (at most `timeoutMs`) until `check` holds; returns it. */
    async screen(target: string, check: (s: string) => boolean, what: string, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      let screen = "";
      while (Date.now() < deadline) {
        screen = tmux("capture-pane", "-p", "-t", target);
        if (check(screen)) return screen;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; screen:\n${screen}`);
    },
  };
}

/**
 * A tmux server with `lab server` on a free port in its first window, listening; with `tokens`,
 * the server takes them as its --token-file (plaintext /auth allowed, as a learner's nc needs).
 */
async function chatServer(tokens?: string) {
  const port = await getPort({ host: "127.0.0.1" });
  let args = `server --port ${port}`;
  if (tokens !== undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-chat-tmux-"));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, "tokens.txt");
    writeFileSync(file, tokens, { mode: 0o600 });
    args += ` --token-file ${file} --allow-plaintext-auth`;
  }
  const t = tmuxServer();
  const server = t.lab(args);
  await t.screen(server, (s) => s.includes(`listening on 127.0.0.1:${port}`), "the server");
  return { port, t, server };
}

describe("chat on a terminal (tmux)", () => {
  it("lab client keeps the line being typed while messages arrive above it", async () => {
    const { port, t } = await chatServer();
    const alice = t.lab(`client --port ${port} --nick alice`);
    await t.screen(alice, (s) => s.includes("* alice joined #lobby"), "alice's join");
    const raw = await lineClient(port);
    await raw.waitFor("joined #lobby");

    t.keys(alice, "half a sente");
    await t.screen(alice, (s) => s.includes("#lobby> half a sente"), "the typed text");
    raw.send("message from nc");
    const screen = await t.screen(alice, (s) => /<guest-\d+> message from nc/.test(s), "the message");
    // The message is above the prompt, and the half-typed line is still there, intact.
    const rows = screen.trimEnd().split("\n");
    expect(rows.at(-1)).toBe("#lobby> half a sente");
    expect(rows.at(-2)).toMatch(/^\d\d:\d\d <guest-\d+> message from nc$/);
    t.keys(alice, "nce", "Enter");
    await raw.waitFor("<alice> half a sentence");
    t.keys(alice, "C-d");
    await raw.waitFor("* alice left #lobby");
  });

  it("lab client shows a wrapping message whole while the line being typed wraps too", async () => {
    const { port, t } = await chatServer();
    const alice = t.lab(`client --port ${port} --nick alice`);
    await t.screen(alice, (s) => s.includes("* alice joined #lobby"), "alice's join");
    const raw = await lineClient(port);
    await raw.waitFor("joined #lobby");

    // 8 + 119 columns typed: the prompt's line takes two rows of the 100-column window.
    const typed = Array(20).fill("typed").join(" ");
    t.keys(alice, "-l", typed);
    const unwrapped = (s: string) => s.replace(/\n/g, "");
    await t.screen(alice, (s) => unwrapped(s).includes(`#lobby> ${typed}`), "the typed text");
    const said = `start ${"said ".repeat(30)}end`;
    raw.send(said);
    raw.send("and a second line");
    // Every row of both messages is on the screen, above the typed line, which is intact.
    const screen = await t.screen(alice, (s) => s.includes("and a second line"), "the second message");
    expect(unwrapped(screen)).toContain(`> ${said}`);
    expect(unwrapped(screen.trimEnd()).endsWith(`#lobby> ${typed}`)).toBe(true);
    t.keys(alice, "C-u", "C-d");
    await raw.waitFor("* alice left #lobby");
  });

  it("lab client shows a sent line once, also one that fills the prompt's row exactly", async () => {
    const { port, t } = await chatServer();
    const alice = t.lab(`client --port ${port} --nick alice`);
    await t.screen(alice, (s) => s.includes("* alice joined #lobby"), "alice's join");
    const raw = await lineClient(port);
    await raw.waitFor("joined #lobby");
    // "#lobby> " and 92 more: the 100-column row is full, and the cursor has wrapped below it.
    for (const typed of ["f".repeat(92), "g".repeat(91), "h".repeat(150)]) {
      t.keys(alice, "-l", typed);
      t.keys(alice, "Enter");
      await raw.waitFor(`<alice> ${typed}`);
      const screen = await t.screen(
        alice,
        (s) => s.replace(/\n/g, "").includes(`<alice> ${typed}`),
        "the echo",
      );
      // The server's echo replaces the typed copy: no row of it is left.
      expect(screen).not.toContain(`#lobby> ${typed[0]}`);
    }
    t.keys(alice, "C-d");
    await raw.waitFor("* alice left #lobby");
  });

  it("the server's operator console sends each typed line to every client as <server> text", async () => {
    const { port, t, server } = await chatServer();
    const a = await lineClient(port);
    const b = await lineClient(port);
    await Promise.all([a.waitFor("joined #lobby"), b.waitFor("joined #lobby")]);
    t.keys(server, "maintenance at noon", "Enter");
    await a.waitFor("<server> maintenance at noon");
    await b.waitFor("<server> maintenance at noon");
    await t.screen(server, (s) => s.includes("<server> maintenance at noon (to 2 clients)"), "the log line");
    b.close();
    await a.waitFor("left #lobby");
    t.keys(server, "back soon", "Enter");
    await a.waitFor("<server> back soon");
    // Counted as every count is: 1 client, not "1 clients".
    await t.screen(server, (s) => s.includes("<server> back soon (to 1 client)"), "the log line for one");
    t.keys(server, "C-c");
    await a.waitFor("* the server is shutting down");
  });

  it("Ctrl-C at the prompt exits 130 and leaves what follows on a line of its own", async () => {
    const { port, t } = await chatServer();
    const alice = t.lab(`client --port ${port} --nick alice`);
    await t.screen(alice, (s) => s.includes("* alice joined #lobby"), "alice's join");
    t.keys(alice, "C-c");
    const screen = await t.screen(alice, (s) => s.includes("[exit "), "the exit status");
    // As at a shell's own prompt: Ctrl-C ends the prompt's line, so the next output starts a new one.
    expect(screen).toMatch(/^\[exit 130\]$/m);
  });

  it("Ctrl-C at the token prompt exits 130 without drawing the chat prompt first", async () => {
    const { port, t } = await chatServer("0123456789abcdef0123\n");
    const client = t.lab(`client --port ${port}`);
    await t.screen(client, (s) => s.includes(`token for 127.0.0.1:${port}:`), "the token prompt");
    t.keys(client, "C-c");
    const screen = await t.screen(client, (s) => s.includes("[exit "), "the exit status");
    expect(screen).toMatch(/^\[exit 130\]$/m);
    expect(screen).not.toContain(`127.0.0.1:${port}> `);
  });

  it("--json on a terminal prints JSON events and sends typed lines, as it does piped", async () => {
    const { port, t } = await chatServer();
    const client = t.lab(`client --port ${port} --nick jo --json`);
    await t.screen(client, (s) => s.includes('{"type":"welcome"'), "the welcome as JSON");
    t.keys(client, "hi there", "Enter");
    await t.screen(client, (s) => /"from":"jo","text":"hi there"/.test(s), "the echo as JSON");
    t.keys(client, "C-d");
    await t.screen(client, (s) => s.includes("[exit 0]"), "a clean exit");
  });

  it("--json on a terminal: Ctrl-C in a half-typed line exits 130 and ends that line", async () => {
    const { port, t } = await chatServer();
    const client = t.lab(`client --port ${port} --json`);
    await t.screen(client, (s) => s.includes('{"type":"join"'), "the join as JSON");
    t.keys(client, "half typ");
    await t.screen(client, (s) => s.includes("half typ"), "the typed text");
    t.keys(client, "C-c");
    const screen = await t.screen(client, (s) => s.includes("[exit "), "the exit status");
    // The terminal echoes ^C after the typed text; a process killed by SIGINT gets its newline from
    // the shell, one that exits 130 itself must write it.
    expect(screen).toMatch(/^\[exit 130\]$/m);
  });

  it("lab server & in a shell keeps serving while the shell reads the keyboard (no SIGTTIN stop)", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const t = tmuxServer();
    const sh = t.shell();
    const lab = `${process.execPath} ${LAB_BIN}`;
    t.keys(sh, `${lab} server --port ${port} &`, "Enter");
    await t.screen(sh, (s) => s.includes(`listening on 127.0.0.1:${port}`), "the server in the background");
    // Typing at the shell gives the background server's terminal reads something to take: a read
    // from the terminal by a background process stops it (SIGTTIN), and the whole server with it.
    // Twice: the first line typed may reach the shell before the server's read is under way.
    for (const run of [1, 2]) {
      t.keys(
        sh,
        `echo hi${run} | ${lab} client --port ${port} --stall-timeout 3; echo "[client${run} $?]"`,
        "Enter",
      );
      const exit = new RegExp(`^\\[client${run} (\\d+)\\]$`, "m");
      const screen = await t.screen(sh, (s) => exit.test(s), `client ${run}'s exit`, 20_000);
      expect(exit.exec(screen)?.[1], screen).toBe("0");
    }
    t.keys(sh, "jobs", "Enter");
    await t.screen(sh, (s) => /Running\s+.*server --port/.test(s), "the server still running");
    t.keys(sh, "kill %1", "Enter");
  }, 30_000);
  it("piped to a program, the token typed at the prompt goes to the server only, never to the room", async () => {
    const secret = "alice-secret-0123456789";
    const { port, t } = await chatServer(`alice:${secret}\nwatcher-token-0123456789:ro\n`);
    const watcher = await lineClient(port);
    watcher.send("/auth watcher-token-0123456789");
    await watcher.waitFor("joined #lobby");
    // stdin is the terminal, stdout a pipe: the client reads lines, and asks for the token there.
    const client = t.lab(`client --port ${port} | cat`);
    await t.screen(client, (s) => s.includes(`token for 127.0.0.1:${port}:`), "the token prompt");
    t.keys(client, secret, "Enter");
    await watcher.waitFor("* alice joined #lobby");
    t.keys(client, "after the token", "Enter");
    await watcher.waitFor("<alice> after the token");
    expect(watcher.lines.join("\n")).not.toContain(secret);
    t.keys(client, "C-d");
    await t.screen(client, (s) => s.includes("[exit 0]"), "a clean exit");
  });
});
