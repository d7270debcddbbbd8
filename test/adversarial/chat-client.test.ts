// Issue 13, the chat client's slice: a hostile or hung server never reaches the user's terminal as
// live control codes, never hangs `lab client`, and one Ctrl-C or SIGTERM always ends it.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ChatClient, type ChatEvent, ChatServer } from "../../packages/chat/src/index.js";
import {
  LAB_BIN,
  type LabProcess,
  runLab,
  SIGNAL_EXIT_MS,
  shellQuote,
  startLab,
  startProcess,
} from "../helpers/lab.js";
import { connectsWithin, serve } from "../helpers/tcp.js";

/** Everything issue 13 names: OSC title, clear screen, a CR that fakes a notice, BS, NUL, DEL, C1, bidi, separators. */
const ATTACK =
  "hi \x1b]0;PWNED\x07\x1b[2J\r* server is shutting down \x08\x00\x7f \u009b31m \u202egnp.exe \u2066x\u2069 a\u2028b\u2029c";
/** The attack as a terminal must show it. */
const ATTACK_SHOWN =
  "hi ^[]0;PWNED^G^[[2J^M* server is shutting down ^H^@^? <U+009B>31m <U+202E>gnp.exe <U+2066>x<U+2069> a<U+2028>b<U+2029>c";

/**
 * What may never reach a terminal from a peer. `lab client` on a TTY writes its own cursor moves
 * (ESC [ … G/J) and the pty turns each \n into \r\n, so those two are checked separately.
 */
const LIVE_CONTROLS = /[\x00\x07\x08\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\x1b\]|\x1b\[2J/;

function expectNoLiveControls(output: string): void {
  const hit = LIVE_CONTROLS.exec(output);
  expect(
    hit,
    `live control ${JSON.stringify(hit?.[0])} in ${JSON.stringify(output.slice(0, 2000))}`,
  ).toBeNull();
  // A CR not followed by LF would rewrite the line; the pty's own \r\n and our ESC sequences are fine.
  expect(output).not.toMatch(/\r(?![\n\r\x1b])/);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "netlab-chat-client-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A TCP server on 127.0.0.1 that plays the peer; closed (its sockets destroyed) when the test ends. */
function hostileServer(onConnection: (socket: net.Socket) => void): Promise<number> {
  // allowHalfOpen: our half-close must not make it answer by closing; it stays as silent as it is told.
  return serve(onConnection, net.createServer({ allowHalfOpen: true }));
}

/** Calls `onLine` with each line a socket sends. */
function readLines(socket: net.Socket, onLine: (line: string) => void): void {
  let rest = "";
  socket.setEncoding("utf8").on("data", (d: string) => {
    const parts = (rest + d).split("\n");
    rest = parts.pop() ?? "";
    for (const line of parts) onLine(line);
  });
}

/**
 * A netlab-looking chat server that puts ATTACK everywhere a client renders: the welcome, a
 * history replay, a notice, a /who answer, an error, and every live message.
 */
function hostileChat(): Promise<number> {
  const send = (socket: net.Socket, event: object) => socket.write(`${JSON.stringify(event)}\n`);
  return hostileServer((socket) => {
    socket.write("* netlab chat/1 — welcome\n");
    readLines(socket, (line) => {
      const m = JSON.parse(line) as { type: string; id?: string; text?: string };
      if (m.type === "hello") {
        send(socket, { type: "welcome", proto: 1, server: "x", nick: "eve", room: "#lobby", text: ATTACK });
        send(socket, {
          type: "message",
          id: 1,
          room: "#lobby",
          from: "mal",
          text: ATTACK,
          ts: 0,
          history: true,
        });
        send(socket, { type: "notice", kind: "info", text: ATTACK, ts: 0 });
        send(socket, { type: "error", code: "BAD", message: ATTACK });
      } else if (m.type === "who") {
        send(socket, { type: "who", room: "#lobby", nicks: ["eve", ATTACK] });
      } else if (m.type === "message") {
        send(socket, { type: "message", id: 2, room: "#lobby", from: "mal", text: `${ATTACK} live`, ts: 0 });
      } else if (m.type === "ping") {
        send(socket, { type: "pong", id: m.id });
      }
    });
  });
}

/** A plain line server (not netlab) that greets with ATTACK and answers every line with it. */
function hostileLineServer(): Promise<number> {
  return hostileServer((socket) => {
    socket.write(`${ATTACK}\n`);
    readLines(socket, () => socket.write(`${ATTACK} again\n`));
  });
}

/** Accepts and never sends a byte, never closes. */
function silentServer(): Promise<number> {
  return hostileServer(() => {});
}

/**
 * `lab ARGS` on a pseudo-terminal (util-linux `script`), as a person runs it; what we write is
 * typed, what it prints is what their terminal receives. `pid()` is the lab process itself.
 */
function startOnTty(args: string[], { stdinPipe }: { stdinPipe?: string } = {}) {
  const pidFile = join(dir, `pid-${Math.random().toString(36).slice(2)}`);
  const lab = `env -u LAB_TOKEN NO_COLOR=1 COLUMNS=120 LINES=40 ${[process.execPath, LAB_BIN, ...args].map(shellQuote).join(" ")}`;
  const command = stdinPipe
    ? `echo $$ > ${shellQuote(pidFile)}; printf %s ${shellQuote(stdinPipe)} | ${lab}`
    : `echo $$ > ${shellQuote(pidFile)}; exec ${lab}`;
  const proc = startProcess("script", ["-qfec", command, "/dev/null"]);
  return Object.assign(proc, { pid: () => Number(readFileSync(pidFile, "utf8")) });
}

/** Resolves with the exit code and how long after `start` the process ended. */
async function timedExit(proc: LabProcess, start: number): Promise<{ code: number; ms: number }> {
  const code = await proc.exited;
  return { code, ms: Date.now() - start };
}

describe("#13 terminal safety: lab client", () => {
  it("on a terminal, shows a hostile server's welcome, history, notices, /who, errors and live messages escaped", async () => {
    const port = await hostileChat();
    const client = startOnTty(["client", "--port", String(port)]);
    await client.waitForOutput("<mal> ");
    client.write("/who\n");
    await client.waitForOutput("* in #lobby: eve, ");
    client.write("hello\n");
    await client.waitForOutput(`${ATTACK_SHOWN} live`);
    client.write("q\n");
    expect(await client.exited).toBe(0);
    const out = client.stdout();
    expectNoLiveControls(out);
    expect(out).toContain(`* ${ATTACK_SHOWN}`); // welcome and notice
    expect(out).toContain(`<mal> ${ATTACK_SHOWN}`); // history replay
    expect(out).toContain(`! ${ATTACK_SHOWN} [BAD]`);
    expect(out).toContain(`* in #lobby: eve, ${ATTACK_SHOWN}`);
  });

  it("on a terminal, shows a plain line server's lines escaped", async () => {
    const port = await hostileLineServer();
    const client = startOnTty(["client", "--port", String(port)]);
    await client.waitForOutput(ATTACK_SHOWN);
    client.write("anything\n");
    await client.waitForOutput(`${ATTACK_SHOWN} again`);
    client.write("q\n");
    expect(await client.exited).toBe(0);
    expectNoLiveControls(client.stdout());
  });

  it("with piped input but a terminal for output, escapes too", async () => {
    const port = await hostileChat();
    const client = startOnTty(["client", "--port", String(port)], { stdinPipe: "hello\n" });
    expect(await client.exited).toBe(0);
    expectNoLiveControls(client.stdout());
    expect(client.stdout()).toContain(`<mal> ${ATTACK_SHOWN} live`);
  });

  it("piped to a file keeps the text byte-exact; --json carries it exactly with every control as a \\u escape", async () => {
    const port = await hostileChat();
    const text = await runLab(["client", "--port", String(port)], { input: "hello\n" });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`<mal> ${ATTACK}\n`);
    expect(text.stdout).toContain(`<mal> ${ATTACK} live\n`);

    const json = await runLab(["client", "--port", String(port), "--json"], { input: "hello\n" });
    expect(json.code).toBe(0);
    expect(json.stdout).not.toMatch(LIVE_CONTROLS);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as ChatEvent);
    expect(events.filter((e) => e.type === "message").map((e) => e.text)).toEqual([ATTACK, `${ATTACK} live`]);
    const plain = await runLab(["client", "--port", String(await hostileLineServer()), "--json"], {
      input: "x\n",
    });
    expect(plain.stdout).not.toMatch(LIVE_CONTROLS);
    expect(JSON.parse(plain.stdout.split("\n")[0]!)).toEqual({ type: "line", text: ATTACK });
  });

  it("escapes a server's refusal in the lab: line", async () => {
    const port = await hostileServer((socket) =>
      socket.end("! full\x1b]0;PWNED\x07\x1b[2J\u202e [SERVER_FULL]\n"),
    );
    const r = await runLab(["client", "--port", String(port)], { input: "hi\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("lab: full^[]0;PWNED^G^[[2J<U+202E>\n");
    expectNoLiveControls(r.stderr);
  });
});

describe("#13 nothing hangs: lab client", () => {
  it("piped, against a server that accepts and never answers: lab: + hint:, exit 1, after --stall-timeout", async () => {
    const port = await silentServer();
    const start = Date.now();
    const r = await runLab(["client", "--port", String(port), "--stall-timeout", "1"], { input: "hi\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: no answer from 127.0.0.1:${port} in 1 s\nhint: the server accepted the connection but does not answer; check it, or raise --stall-timeout\n`,
    );
    expect(Date.now() - start).toBeLessThan(8_000);
  });

  it("piped, against a server that announces netlab chat/1 and then never welcomes: exit 1, no hang", async () => {
    const port = await hostileServer((socket) => socket.write("* netlab chat/1 — welcome\n"));
    const r = await runLab(["client", "--port", String(port), "--stall-timeout", "1"], {
      input: "hi\n",
      timeoutMs: 10_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`lab: no answer from 127.0.0.1:${port} in 1 s`);
    expect(r.stderr).toContain("hint: ");
  });

  it("piped, against a server that trickles a line and never ends it: exit 1 after --line-timeout", async () => {
    const port = await hostileServer((socket) => {
      socket.write("* netlab chat/1 — welcome\n");
      // A byte each 200 ms: well inside the stall timeout, so only the line timeout can end it.
      const timer = setInterval(() => socket.write("{"), 200);
      socket.on("close", () => clearInterval(timer));
    });
    const start = Date.now();
    const r = await runLab(["client", "--port", String(port), "--line-timeout", "2s"], {
      input: "hi\n",
      timeoutMs: 30_000,
    });
    expect(r.stderr).toBe(
      `lab: the server at 127.0.0.1:${port} sent part of a line and no end to it in 2 s\nhint: the server is stuck or is not a line server; check it, or raise --line-timeout\n`,
    );
    expect(r.code).toBe(1);
    expect(Date.now() - start).toBeLessThan(9_000);
  });

  it("piped, against a server that sends one endless line: dropped at the line limit, exit 1 after --line-timeout", async () => {
    const port = await hostileServer((socket) => {
      socket.write("* netlab chat/1 — welcome\n");
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk));
      };
      socket.on("drain", pump);
      pump();
    });
    const r = await runLab(["client", "--port", String(port), "--line-timeout", "2s"], {
      input: "hi\n",
      timeoutMs: 30_000,
    });
    expect(r.stdout).toMatch(/exceeds maxLineBytes \(1048576\); it was dropped/);
    expect(r.stderr).toMatch(/^lab: the server at .* sent part of a line and no end to it in 2 s$/m);
    expect(r.code).toBe(1);
  });

  it("piped, against a line server that greets and then reads nothing: exit 1 after --stall-timeout", async () => {
    const port = await hostileServer((socket) => {
      socket.write("hello there\n");
      socket.pause();
    });
    const start = Date.now();
    // 32 MiB of lines: more than the kernel's buffers on both sides of a loopback connection hold.
    const r = await runLab(["client", "--port", String(port), "--stall-timeout", "1"], {
      input: `${"x".repeat(1023)}\n`.repeat(32 * 1024),
      timeoutMs: 30_000,
    });
    expect(r.stderr).toBe(
      `lab: the server at 127.0.0.1:${port} read nothing of what we sent in 1 s\nhint: the server accepted the connection but does not read; check it, or raise --stall-timeout\n`,
    );
    expect(r.code).toBe(1);
    expect(Date.now() - start).toBeLessThan(20_000);
  });

  it("piped to a stdout nobody reads, against a server that floods: reads only as stdout drains", {
    timeout: 30_000,
  }, async () => {
    let sent = 0;
    const port = await hostileServer((socket) => {
      const chunk = Buffer.from("flood line of some text\n".repeat(4096));
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk)) sent += chunk.length;
      };
      socket.on("drain", pump);
      pump();
    });
    // stdout is a pipe this test never reads: once it is full, lab client must stop reading too.
    const lab = spawn(process.execPath, [LAB_BIN, "client", "--port", String(port), "--wait", "60s"], {
      stdio: ["pipe", "pipe", "ignore"],
    });
    onTestFinished(() => {
      lab.kill("SIGKILL");
    });
    const deadline = Date.now() + 10_000;
    while (sent < 1024 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(sent, "the client connected and read").toBeGreaterThanOrEqual(1024 * 1024);
    await new Promise((r) => setTimeout(r, 3_000));
    // Kernel buffers both ways and the 64 KiB pipe and read queue: a few MiB. Unpaused, the client
    // took 150 MiB a second into memory.
    expect(sent).toBeLessThan(48 * 1024 * 1024);
    expect(lab.exitCode).toBeNull();
  });

  it("piped to a stdout read late, against an echo server: no stall is blamed on the server", {
    timeout: 40_000,
  }, async () => {
    // An echo server with backpressure: while we do not read its echo, it does not read our lines.
    const port = await hostileServer((socket) => socket.pipe(socket));
    const input = "hello\n".repeat(2 * 1024 * 1024);
    const lab = spawn(process.execPath, [LAB_BIN, "client", "--port", String(port), "--stall-timeout", "1"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    onTestFinished(() => {
      lab.kill("SIGKILL");
    });
    lab.stdin.end(input);
    let stderr = "";
    lab.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    // Nobody reads stdout for three stall timeouts: the client pauses, the server blocks, and our
    // lines sit unread, which is our doing, not the server's.
    await new Promise((r) => setTimeout(r, 3_000));
    let got = 0;
    lab.stdout.on("data", (d: Buffer) => {
      got += d.length;
    });
    const code = await new Promise<number | null>((resolve) => lab.on("exit", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(got).toBe(input.length);
  });

  it("on a terminal, against a server that never answers what was typed: lab: + hint:, exit 1", async () => {
    const port = await silentServer();
    const client = startOnTty(["client", "--port", String(port), "--stall-timeout", "1"]);
    await client.waitForOutput(`127.0.0.1:${port}> `);
    client.write("anyone there?\n");
    expect(await client.exited).toBe(1);
    expect(client.stdout()).toContain(`lab: no answer from 127.0.0.1:${port} in 1 s`);
    expect(client.stdout()).toContain("hint: ");
  });

  it("--connect-timeout: a server whose accept queue is full (the SYN goes unanswered) fails within the timeout", async () => {
    // A listener with a backlog of 1 whose event loop is blocked (Atomics.wait: no CPU) never
    // accepts; once its queue is full, the kernel drops further SYNs and a connect just waits.
    const blocked = startProcess(process.execPath, [
      "-e",
      `const s = require("node:net").createServer();
       s.listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
         console.log("port " + s.address().port);
         setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
       });`,
    ]);
    const port = Number((await blocked.waitForOutput(/port \d+/)).split(" ")[1]);
    const fillers: net.Socket[] = [];
    onTestFinished(() => {
      for (const f of fillers) f.destroy();
    });
    for (let i = 0; i < 20; i++) {
      const filler = net.connect(port, "127.0.0.1").on("error", () => {});
      fillers.push(filler);
      // On localhost a handshake the kernel completes takes microseconds.
      if (!(await connectsWithin(filler, 1_000))) break; // the queue is full: the next connect hangs too
    }
    const start = Date.now();
    const r = await runLab(["client", "--port", String(port), "--connect-timeout", "1"], { input: "hi\n" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: cannot connect to 127.0.0.1:${port}: timed out\nhint: check the host and port, or raise the timeout\n`,
    );
    // The whole run, lab's start included (5.2 s at load 13 on 2 cores): under the 10 s default
    // connect timeout, which a run that ignored --connect-timeout 1 would wait out on top of that.
    expect(Date.now() - start).toBeLessThan(10_000);
  });

  it("a quiet chat is not a stall: nothing owed, no disconnect", async () => {
    const server = new ChatServer({ port: 0 });
    const { port } = await server.listen();
    onTestFinished(() => server.close());
    const client = new ChatClient({ port, stallTimeoutMs: 200 });
    onTestFinished(() => client.close());
    await client.connect();
    await client.settle();
    await new Promise((resolve) => setTimeout(resolve, 600)); // three stall timeouts of silence
    expect(client.state).toBe("connected");
  });

  it("rejects bad --connect-timeout and --stall-timeout values with exit 2", async () => {
    const r = await runLab(["client", "--connect-timeout", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--connect-timeout must be a time from 100ms to 1h");
    const s = await runLab(["client", "--stall-timeout", "soon"]);
    expect(s.code).toBe(2);
    expect(s.stderr).toContain("--stall-timeout must be a time");
  });

  it("reconnecting stops after reconnectTimeoutMs with RECONNECT_FAILED", async () => {
    const server = new ChatServer({ port: 0 });
    const { port } = await server.listen();
    const client = new ChatClient({ port, reconnect: true, reconnectDelayMs: 50, reconnectTimeoutMs: 500 });
    onTestFinished(() => client.close());
    await client.connect();
    await client.settle();
    const closed = new Promise<{ code?: string; message: string }>((resolve) =>
      client.on("state", (state: string, err?: { code?: string; message: string }) => {
        if (state === "closed" && err) resolve(err);
      }),
    );
    const start = Date.now();
    await server.close();
    const err = await closed;
    expect(err.code).toBe("RECONNECT_FAILED");
    expect(err.message).toContain(`gave up reconnecting to 127.0.0.1:${port}`);
    expect(Date.now() - start).toBeLessThan(3_000);
  });
});

describe("#13 one Ctrl-C or SIGTERM: lab client and lab demo", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "%s ends a piped lab client waiting on a silent server within 1 s, exit 130",
    async (signal) => {
      let connected!: () => void;
      const isConnected = new Promise<void>((resolve) => {
        connected = resolve;
      });
      const port = await hostileServer((socket) => {
        socket.write("* netlab chat/1 — welcome\n");
        readLines(socket, connected); // the hello arrived: the client is waiting for a welcome
      });
      const client = startLab(["client", "--port", String(port)]);
      client.write("hi\n"); // stdin stays open: the client is busy with the server, not done
      await isConnected;
      const start = Date.now();
      client.child.kill(signal);
      const { code, ms } = await timedExit(client, start);
      expect(code).toBe(130);
      expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
    },
  );

  it("Ctrl-C ends an interactive lab client within 1 s, exit 130, even when the server never closes", async () => {
    const port = await silentServer();
    const client = startOnTty(["client", "--port", String(port)]);
    await client.waitForOutput(`127.0.0.1:${port}> `);
    const start = Date.now();
    client.write("\x03");
    const { code, ms } = await timedExit(client, start);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });

  it("SIGTERM ends an interactive lab client stuck reconnecting within 1 s, exit 130", async () => {
    const server = new ChatServer({ port: await getPort({ host: "127.0.0.1" }) });
    const { port } = await server.listen();
    const client = startOnTty(["client", "--port", String(port), "--nick", "rita"]);
    await client.waitForOutput("* rita joined #lobby");
    await server.close();
    await client.waitForOutput("reconnecting");
    const start = Date.now();
    process.kill(client.pid(), "SIGTERM");
    const { code, ms } = await timedExit(client, start);
    expect(code).toBe(130);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });

  it("SIGTERM ends lab demo within 1 s (Ctrl-C: in the hostile peer test below)", async () => {
    const demo = startOnTty(["demo", "--clients", "2"]);
    await demo.waitForOutput("bob joined #lobby", { timeoutMs: 15_000 });
    const start = Date.now();
    process.kill(demo.pid(), "SIGTERM");
    const { code, ms } = await timedExit(demo, start);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });
});

describe("#13 terminal safety: lab demo", () => {
  it("a hostile nc peer in the demo's chat reaches every pane escaped, never live; one Ctrl-C ends it within 1 s", async () => {
    const demo = startOnTty(["demo", "--clients", "2"]);
    const address = await demo.waitForOutput(/chat server 127\.0\.0\.1:\d+/, { timeoutMs: 15_000 });
    const port = Number(address.split(":")[1]);
    const peer = net.connect(port, "127.0.0.1");
    onTestFinished(() => {
      peer.destroy();
    });
    peer.on("error", () => {});
    peer.setEncoding("utf8");
    let seen = "";
    await new Promise<void>((resolve) =>
      peer.on("data", (d: string) => {
        seen += d;
        if (seen.includes("joined #lobby")) resolve();
      }),
    );
    const before = demo.stdout().length;
    peer.write(`${ATTACK} from nc\n`);
    // The server may relay the line (the panes must then show it escaped) or refuse it (an error
    // line to the peer); either way nothing may reach the demo's terminal live.
    const isRefused = new Promise<boolean>((resolve) =>
      peer.on("data", () => {
        if (/^! /m.test(seen)) resolve(true);
      }),
    );
    const isShown = demo.waitForOutput(/from nc[\s\S]*from nc/).then(() => false); // both client panes
    const refused = await Promise.race([isRefused, isShown]);
    const start = Date.now();
    demo.write("\x03");
    const { code, ms } = await timedExit(demo, start);
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
    const frames = demo.stdout().slice(before);
    // Ink draws with its own ESC sequences (cursor, clear screen); nothing from the peer may be live.
    expect(frames).not.toMatch(
      /[\x00\x07\x08\x7f\u0080-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]|\x1b\]/,
    );
    if (!refused) expect(frames).toContain("^[]0;PWNED^G");
  });
});

describe("#13 a refused nick is not reclaimed on reconnect", () => {
  it("/nick alice refused as taken, then a server restart: the client does not come back as alice", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    let server = new ChatServer({ port });
    await server.listen();
    onTestFinished(() => server.close());
    const alice = new ChatClient({ port, nick: "alice" });
    onTestFinished(() => alice.close());
    await alice.connect();
    await alice.settle();
    const bob = new ChatClient({ port, nick: "bob", reconnect: true, reconnectDelayMs: 50 });
    onTestFinished(() => bob.close());
    const events: ChatEvent[] = [];
    bob.on("event", (e: ChatEvent) => events.push(e));
    await bob.connect();
    bob.send("/nick alice");
    await bob.settle();
    expect(events.some((e) => e.type === "error" && e.code === "NICK_TAKEN")).toBe(true);
    expect(bob.nick).toBe("bob");

    await alice.close();
    await server.close();
    server = new ChatServer({ port });
    await server.listen();
    const welcomed = new Promise<void>((resolve) =>
      bob.on("event", (e: ChatEvent) => {
        if (e.type === "welcome") resolve();
      }),
    );
    await welcomed;
    expect(bob.nick).toBe("bob");
  });

  it("a --nick refused at hello is not asked for again on reconnect", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    let server = new ChatServer({ port });
    await server.listen();
    onTestFinished(() => server.close());
    const holder = new ChatClient({ port, nick: "alice" });
    onTestFinished(() => holder.close());
    await holder.connect();
    await holder.settle();
    const late = new ChatClient({ port, nick: "alice", reconnect: true, reconnectDelayMs: 50 });
    onTestFinished(() => late.close());
    await late.connect();
    await late.settle();
    expect(late.nick).not.toBe("alice");

    await holder.close();
    await server.close();
    server = new ChatServer({ port });
    await server.listen();
    await new Promise<void>((resolve) =>
      late.on("event", (e: ChatEvent) => {
        if (e.type === "welcome") resolve();
      }),
    );
    expect(late.nick).not.toBe("alice");
  });
});
