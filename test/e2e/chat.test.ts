import getPort from "get-port";
import { describe, expect, it } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startLab, startServer } from "../helpers/lab.js";

/** `lab server` (chat mode, the default) on a free port, with `extra` flags. */
function chatServer(extra: string[] = []) {
  return startServer(
    (p) => ["server", "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p}`,
  );
}

/** A raw socket client that has joined #lobby, as `nc` would. */
async function rawClient(port: number) {
  const c = await lineClient(port, { timeoutMs: 10_000 });
  const welcome = await c.waitFor("netlab chat/1");
  const nick = /you are (\S+)\./.exec(welcome)?.[1] ?? "";
  await c.waitFor(`* ${nick} joined #lobby`);
  return Object.assign(c, { nick });
}

describe("lab server + lab client (chat)", () => {
  it("two lab clients and a raw socket client chat in one room", async () => {
    const { lab: server, port } = await chatServer();
    const alice = startLab(["client", "--port", String(port), "--nick", "alice"]);
    await alice.waitForOutput("* alice joined #lobby", { stream: "stdout" });
    const bob = startLab(["client", "--port", String(port), "--nick", "bob"]);
    await bob.waitForOutput("* bob joined #lobby", { stream: "stdout" });
    const raw = await rawClient(port);

    alice.write("hi from alice\n");
    await bob.waitForOutput("<alice> hi from alice", { stream: "stdout" });
    await raw.waitFor("<alice> hi from alice");
    raw.send("hi from nc");
    await alice.waitForOutput(`<${raw.nick}> hi from nc`, { stream: "stdout" });
    await bob.waitForOutput(`<${raw.nick}> hi from nc`, { stream: "stdout" });
    bob.write("/me waves\n");
    await raw.waitFor("* bob waves");

    bob.endInput();
    expect(await bob.exited).toBe(0);
    await alice.waitForOutput("* bob left #lobby", { stream: "stdout" });
    alice.write("q\n");
    expect(await alice.exited).toBe(0);
    await raw.waitFor("* alice left #lobby");
    // Each lab client joined under its --nick at once: no guest-N, no rename.
    for (const transcript of [alice.stdout(), bob.stdout(), raw.lines.join("\n")]) {
      expect(transcript).not.toContain("known as");
    }
    expect(alice.stdout()).toMatch(
      /^\* netlab chat\/1 — welcome to netlab, you are alice\. .*\n\* alice joined #lobby\n/,
    );
    expect(server.stderr()).toMatch(/connect 127\.0\.0\.1:\d+/);
    expect(server.stderr()).toMatch(/disconnect 127\.0\.0\.1:\d+/);
  });

  it("a piped client sends its lines, prints the replies and exits 0 at end of input", async () => {
    const { port } = await chatServer();
    const r = await runLab(["client", "--port", String(port)], { input: "/nick carol\n/who\n/rooms\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("* in #lobby: carol");
    expect(r.stdout).toContain("* rooms: #lobby (1)");
    expect(r.stderr).toBe("");
  });

  it("stops at a line q and sends nothing after it", async () => {
    const { port } = await chatServer();
    const raw = await rawClient(port);
    const r = await runLab(["client", "--port", String(port), "--nick", "dan"], {
      input: "before\nq\nafter\n",
    });
    expect(r.code).toBe(0);
    await raw.waitFor("* dan left #lobby");
    expect(raw.lines).toContain("<dan> before");
    expect(raw.lines.join("\n")).not.toContain("after");
  });

  it("prints --json events one per line", async () => {
    const { port } = await chatServer();
    const r = await runLab(["client", "--port", String(port), "--nick", "erin", "--json"], { input: "hi\n" });
    expect(r.code).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; text?: string });
    expect(events[0]).toMatchObject({ type: "welcome", nick: "erin" });
    expect(events).toContainEqual(expect.objectContaining({ type: "message", text: "hi", from: "erin" }));
  });

  it("delivers private messages, keeps rooms apart and refuses a taken nick", async () => {
    const { port } = await chatServer();
    const raw = await rawClient(port);
    raw.send("/nick alice");
    await raw.waitFor("is now known as alice");
    const r = await runLab(["client", "--port", String(port), "--nick", "alice"], {
      input: "/msg alice psst\n/join #side\nonly in side\n",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('! nick "alice" is already taken [NICK_TAKEN]');
    expect(r.stdout).toMatch(/-> \*alice\* psst/);
    await raw.waitFor(/^\*guest-\d+\* psst$/);
    expect(raw.lines.join("\n")).not.toContain("only in side");
  });

  it("shows a joining client the room's history", async () => {
    const { port } = await chatServer(["--history", "2"]);
    const raw = await rawClient(port);
    for (const n of [1, 2, 3]) raw.send(`old ${n}`);
    raw.send("/who");
    await raw.waitFor("* in #lobby");
    const r = await runLab(["client", "--port", String(port)], { input: "" });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("old 1");
    // #20: marked as history, with the time each was said.
    expect(r.stdout).toMatch(
      new RegExp(
        `^\\[\\d\\d:\\d\\d\\] \\(history\\) <${raw.nick}> old 2\n\\[\\d\\d:\\d\\d\\] \\(history\\) <${raw.nick}> old 3$`,
        "m",
      ),
    );
  });

  it("refuses the client over --max-clients with one clear line and exit 1", async () => {
    const { port } = await chatServer(["--max-clients", "1"]);
    await rawClient(port);
    const r = await runLab(["client", "--port", String(port)], { input: "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("! server full: 1 clients connected; try again later [SERVER_FULL]\n");
    expect(r.stderr).toContain("lab: server full: 1 clients connected; try again later");
  });

  it("disconnects an idle client after --idle-timeout with a line that says why", async () => {
    const { lab: server, port } = await chatServer(["--idle-timeout", "0.6"]);
    const raw = await rawClient(port);
    await raw.closed;
    expect(raw.lines.at(-1)).toBe("! idle for 600 ms, disconnected [IDLE_TIMEOUT]");
    await server.waitForOutput(`${raw.nick} left: idle for 600 ms`, { stream: "stderr" });
  });

  it("answers garbage with error lines, disconnects repeated abuse and keeps serving", async () => {
    const { lab: server, port } = await chatServer();
    const bad = await rawClient(port);
    bad.socket.write(Buffer.from([0xff, 0x00, 0xfe, 0x0a]));
    await bad.waitFor("[INVALID_UTF8]");
    bad.socket.write(Buffer.alloc(70 * 1024, 0x41));
    bad.socket.write("\n");
    await bad.waitFor("[FRAME_TOO_LARGE]");
    for (let i = 0; i < 20; i++) bad.socket.write(Buffer.from([0x80, 0x81, i, 0x0a]));
    await bad.closed;
    expect(bad.lines.at(-1)).toBe("! too many bad lines, disconnected [TOO_MANY_ERRORS]");
    const good = await rawClient(port);
    good.send("/who");
    await good.waitFor("* in #lobby");
    expect(server.child.exitCode).toBeNull();
  });

  it("cuts off a client that stops reading; everyone else gets every message", async () => {
    const { lab: server, port } = await chatServer(["--flood", "0"]);
    const slow = await rawClient(port);
    slow.socket.pause();
    const reader = await rawClient(port);
    const sender = await rawClient(port);
    const big = "z".repeat(60_000);
    const maxMessages = 900; // 54 MB: far past the kernel buffers on loopback and the 1 MiB queue
    const numbers = () =>
      reader.lines.filter((l) => l.startsWith(`<${sender.nick}> `)).map((l) => Number(l.split(" ")[1]));
    const isCutOff = () =>
      reader.lines.some((l) => l.startsWith(`* ${slow.nick} left #lobby (slow consumer`));
    // In batches of 10 (600 KB) that the reader takes before the next, so that only the client
    // that stopped reading, not a busy test process, can fall 1 MiB behind; until it is cut off,
    // however many that takes. Every wait is on a condition, with room for a loaded machine.
    let sent = 0;
    while (!isCutOff() && sent < maxMessages) {
      for (let j = 0; j < 10; j++) sender.send(`${sent++} ${big}`);
      await reader.waitUntil(() => numbers().length >= sent, `${sent} messages`, 60_000);
    }
    await reader.waitFor(`* ${slow.nick} left #lobby (slow consumer`, { timeoutMs: 60_000 });
    await server.waitForOutput(`${slow.nick} left: slow consumer`, { stream: "stderr", timeoutMs: 60_000 });
    expect(numbers()).toEqual(Array.from({ length: sent }, (_, i) => i));
  }, 180_000);

  it("a piped client reads its input only as fast as the server takes it (yes | lab client)", async () => {
    // --flood 4: the client paces itself to 3 lines, then waits out the 5 s window.
    const { port } = await chatServer(["--flood", "4"]);
    const raw = await rawClient(port);
    const client = startLab(["client", "--port", String(port), "--nick", "gus"]);
    const line = `${"x".repeat(1023)}\n`;
    const input = Buffer.from(line.repeat(64 * 1024)); // 64 MiB: read in well under the window
    let isAllRead = false;
    client.child.stdin?.end(input, () => {
      isAllRead = true;
    });
    const paced = (n: number) => (lines: string[]) =>
      lines.filter((l) => l.startsWith("<gus> x")).length >= n;
    await raw.waitUntil(paced(3), "the first 3 lines", 10_000);
    // The 4th line comes a window later. A client that queued the whole input has read it all by
    // then; one that reads as the server takes its lines holds the pipe's writer back.
    await raw.waitUntil(paced(4), "the 4th line, a flood window later", 15_000);
    expect(isAllRead).toBe(false);
  }, 30_000);

  it("sends every client a shutdown notice on SIGTERM and exits 0", async () => {
    const { lab: server, port } = await chatServer();
    const raw = await rawClient(port);
    const client = startLab(["client", "--port", String(port), "--nick", "fay"]);
    await client.waitForOutput("* fay joined #lobby", { stream: "stdout" });
    expect(await server.stop("SIGTERM")).toBe(0);
    await raw.closed;
    expect(raw.lines.at(-1)).toBe("* the server is shutting down");
    await client.waitForOutput("* the server is shutting down", { stream: "stdout" });
    expect(await client.exited).toBe(1);
    expect(client.stderr()).toMatch(
      /^lab: the server at 127\.0\.0\.1:\d+ closed the connection\nhint: \S.*\n$/,
    );
  });

  it("says the server is not running when nothing listens, exit 1", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["client", "--port", String(port)], { input: "hi\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: cannot connect to 127.0.0.1:${port}: connection refused\nhint: is 'lab server' running?\n`,
    );
    expect(r.stdout).toBe("");
  });

  it("rejects bad options with exit 2", async () => {
    const r = await runLab(["client", "--port", "99999"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--port must be a whole number from 1 to 65535");
    const n = await runLab(["client", "--nick", "no spaces"]);
    expect(n.code).toBe(2);
    expect(n.stderr).toContain("is not allowed");
    // The example in the hint is the option being fixed, not the chat command /nick.
    expect(n.stderr).toMatch(/^hint: .*--nick alice_2/m);
    expect(n.stderr).not.toContain("/nick");
  });
});
