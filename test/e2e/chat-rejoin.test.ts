import getPort from "get-port";
import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../packages/chat/src/index.js";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startLab, startLabOnTerminal, startServer } from "../helpers/lab.js";

/** `lab server` (chat) on `port`, once it listens. */
async function serverOn(port: number) {
  const lab = startLab(["server", "--port", String(port)]);
  await lab.waitForOutput(`listening on 127.0.0.1:${port}`);
  return lab;
}

/** `lab ARGS` on a pseudo-terminal, times in UTC. */
const startOnTty = (args: string[]) => startLabOnTerminal(args, { envWords: ["TZ=UTC"] });

/** HH:MM of `ts` in UTC, as the client shows a time said today. */
const hhmm = (ts: number) => new Date(ts).toISOString().slice(11, 16);

describe("#20: lab client after a reconnect", () => {
  it("rejoins the room it was in, under its nick, when the server restarts on the same port", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const first = await serverOn(port);
    const ann = startOnTty(["client", "--port", String(port), "--nick", "ann"]);
    await ann.waitForOutput("* ann joined #lobby");
    ann.write("/join #ops\r");
    await ann.waitForOutput("* ann joined #ops");
    expect(await first.stop("SIGTERM")).toBe(0);
    await ann.waitForOutput("reconnecting (Ctrl-D to leave)");
    await serverOn(port);
    await ann.waitForOutput(`* reconnected to 127.0.0.1:${port}, back in #ops`);
    // The new server has ann in #ops, under her nick, without a detour through #lobby.
    const raw = await lineClient(port, { timeoutMs: 10_000 });
    await raw.waitFor("joined #lobby");
    raw.send("/who");
    await raw.waitFor(/^\* in #lobby: guest-\d+$/);
    raw.send("/join #ops");
    await raw.waitFor(/^\* in #ops: ann, guest-\d+$|^\* guest-\d+ joined #ops$/);
    raw.send("/who");
    await raw.waitFor(/^\* in #ops: (ann, guest-\d+|guest-\d+, ann)$/);
    raw.send("back again?");
    await ann.waitForOutput(/<guest-\d+> back again\?/);
    ann.write("q\r");
    expect(await ann.exited).toBe(0);
  });
});

describe("#20: history lines in lab client", () => {
  it("show the time they were said and are marked as history: text, --json and a terminal; escaped as ever", async () => {
    const { port } = await startServer(
      (p) => ["server", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const raw = await lineClient(port, { timeoutMs: 10_000 });
    const nick = /you are (\S+)\./.exec(await raw.waitFor("netlab chat/1"))?.[1] ?? "";
    await raw.waitFor(`* ${nick} joined #lobby`);
    raw.send("said before you came \x1b[31mred");
    raw.send("/who"); // answered after the line above was taken
    await raw.waitFor("* in #lobby");

    const json = await runLab(["client", "--json", "--port", String(port)], { input: "" });
    expect(json.code).toBe(0);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ChatEvent);
    const replayed = events.find((e) => e.type === "message") as Extract<ChatEvent, { type: "message" }>;
    expect(replayed).toMatchObject({ from: nick, text: "said before you came \x1b[31mred", history: true });
    expect(json.stdout).toContain("\\u001b[31m"); // never a raw ESC on stdout
    const said = replayed.ts;
    expect(said).toBeLessThanOrEqual(Date.now());

    const text = await runLab(["client", "--port", String(port)], { input: "", env: { TZ: "UTC" } });
    expect(text.code).toBe(0);
    // Piped to a program, the exact text, as for live lines; a terminal gets it escaped (below).
    expect(text.stdout).toContain(`[${hhmm(said)}] (history) <${nick}> said before you came \x1b[31mred\n`);

    const tty = startOnTty(["client", "--port", String(port)]);
    await tty.waitForOutput(`${hhmm(said)} (history) <${nick}> said before you came ^[[31mred`);
    raw.send("live now");
    const live = await tty.waitForOutput(/\d\d:\d\d <[^>]+> live now/);
    expect(live).not.toContain("(history)");
    tty.write("q\r");
    expect(await tty.exited).toBe(0);
  });
});

describe("#16: lab client --node", () => {
  it("refuses a Unix socket or an address without a port, with one lab: line and a hint", async () => {
    const unix = await runLab(["client", "--node", "unix:/tmp/chat.sock"], { input: "" });
    expect(unix.code).toBe(2);
    expect(unix.stderr).toBe(
      "lab: --node names a chat server over TCP, not a Unix socket\nhint: give each node as HOST:PORT, such as --node 10.0.0.12:5001\n",
    );
    const portless = await runLab(["client", "--node", "10.0.0.12"], { input: "" });
    expect(portless.code).toBe(2);
    expect(portless.stderr).toMatch(/^lab: "10\.0\.0\.12" has no port\nhint: write HOST:PORT/);
  });

  it("piped: moves to the next node when its node stops, back in its room; gives up naming every node", async () => {
    const chat = () =>
      startServer(
        (p) => ["server", "--port", String(p)],
        (p) => `listening on 127.0.0.1:${p}`,
      );
    const [a, b] = [await chat(), await chat()];
    const client = startLab([
      "client",
      "--nick",
      "fay",
      "--reconnect-timeout",
      "1s",
      "--node",
      `127.0.0.1:${a.port}`,
      "--node",
      `127.0.0.1:${b.port}`,
    ]);
    client.write("/join #ops\n");
    await client.waitForOutput("* fay joined #ops", { stream: "stdout" });
    expect(await a.lab.stop("SIGTERM")).toBe(0);
    await client.waitForOutput(
      `* connection to 127.0.0.1:${a.port} lost; now on 127.0.0.1:${b.port}, back in #ops\n`,
      { stream: "stderr" },
    );
    client.write("/who\n");
    await client.waitForOutput("* in #ops: fay\n", { stream: "stdout" });
    expect(await b.lab.stop("SIGTERM")).toBe(0);
    expect(await client.exited).toBe(1);
    expect(client.stderr()).toMatch(
      new RegExp(
        `^lab: gave up reconnecting to 127\\.0\\.0\\.1:${a.port} or 127\\.0\\.0\\.1:${b.port} after 1 s: .*\nhint: `,
        "m",
      ),
    );
  });

  it("connects to the next node when the first does not answer", async () => {
    const down = await getPort({ host: "127.0.0.1" });
    const { port } = await startServer(
      (p) => ["server", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const r = await runLab(["client", "--node", `127.0.0.1:${down}`, "--node", `127.0.0.1:${port}`], {
      input: "/who\n",
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\* in #lobby: guest-\d+$/m);
  });
});
