import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { eventLineSchema, sessionHeaderSchema, sessionRecordSchema } from "../../packages/watch/src/index.js";
import { LAB_BIN, runLab, startLab, startServer } from "../helpers/lab.js";
import { serve } from "../helpers/tcp.js";
import { chatServer, hexdumpBytes, jsonLines, twoClientChat, watchTempDir } from "../helpers/watch.js";

/**
 * A recording of one connection where the client sends `ping i` and the server answers `pong i`,
 * `steps` times, then (unless `close` is false) both end; returns its path.
 */
async function pingPongRecording(steps: number, { close = true } = {}): Promise<string> {
  const rec = join(await watchTempDir(), "ping-pong.jsonl");
  const b64 = (text: string) => Buffer.from(text).toString("base64");
  const lines: object[] = [
    { netlab: "session", v: 1, ts: 1, side: "server" },
    { type: "open", t: 0, conn: 1, transport: "tcp", client: "127.0.0.1:1", server: "127.0.0.1:2" },
  ];
  for (let i = 0; i < steps; i++) {
    lines.push({ type: "data", t: 1 + 2 * i, conn: 1, from: "client", b64: b64(`ping ${i}\n`) });
    lines.push({ type: "data", t: 2 + 2 * i, conn: 1, from: "server", b64: b64(`pong ${i}\n`) });
  }
  if (close) lines.push({ type: "close", t: 2 + 2 * steps, conn: 1, reason: "fin" });
  await writeFile(rec, lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  return rec;
}

/** A recording in `dir` by hand: a server-side header, one TCP connection opened, then `records`. */
async function oneConnectionRecording(dir: string, records = ""): Promise<string> {
  const rec = join(dir, "s.jsonl");
  await writeFile(
    rec,
    `{"netlab":"session","v":1,"ts":0,"side":"server"}\n{"type":"open","t":0,"conn":1,"transport":"tcp","client":"127.0.0.1:1","server":"127.0.0.1:2"}\n${records}`,
  );
  return rec;
}
describe("#19 watching and recording", () => {
  it("records a chat session of two clients; every --events and --record line validates; replay lockstep --compare finds 0 differences", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "chat.jsonl");
    const ev = join(dir, "events.jsonl");
    const { lab: server, port } = await chatServer(["--record", rec, "--events", ev, "--events-bodies"]);
    // Plain-text clients, as nc: lab client speaks JSON, whose lines carry the server's clock.
    await twoClientChat(port);
    await server.waitForOutput(/disconnect .*#1/);
    expect(await server.stop("SIGINT")).toBe(0);

    const events = (await jsonLines(ev)).map((l) => eventLineSchema.parse(l));
    const seqs = events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    const names = events.map((e) => e.event);
    for (const n of [
      "server.listen",
      "connection.open",
      "connection.close",
      "chat.join",
      "chat.nick",
      "chat.message",
      "chat.leave",
    ]) {
      expect(names).toContain(n);
    }
    const close = events.find((e) => e.event === "connection.close")!;
    expect(close.attrs["netlab.close.reason"]).toBe("fin");
    expect(events.some((e) => e.attrs["netlab.chat.message.body"] === "hello from a")).toBe(true);

    const [header, ...records] = await jsonLines(rec);
    sessionHeaderSchema.parse(header);
    for (const r of records) sessionRecordSchema.parse(r);

    const { lab: fresh, port: freshPort } = await chatServer([]);
    const same = await runLab(["replay", rec, "--to", `127.0.0.1:${freshPort}`, "--compare"], {
      timeoutMs: 15_000,
    });
    expect(same.stderr).toContain("0 differences");
    expect(same.code).toBe(0);
    await fresh.stop("SIGINT");
  });

  it("replay --compare exits 1 naming the offset when the server's greeting changed", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "one.jsonl");
    const { lab: server, port } = await chatServer(["--record", rec]);
    const c = await lineClient(port);
    await c.waitFor(/welcome/);
    c.send("hi");
    await c.waitFor(/joined/);
    c.socket.end();
    await server.waitForOutput(/disconnect/);
    await server.stop("SIGINT");
    // Replayed twice against one server: the second run is greeted as guest-2, not guest-1.
    const { lab: other, port: otherPort } = await chatServer([]);
    expect((await runLab(["replay", rec, "--to", `127.0.0.1:${otherPort}`, "--compare"])).code).toBe(0);
    const second = await runLab([
      "replay",
      rec,
      "--to",
      `127.0.0.1:${otherPort}`,
      "--compare",
      "--wait",
      "2",
    ]);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/differ from the recording at offset 53\n {2}expected: 31 2e/);
    await other.stop("SIGINT");
  });

  it("--hexdump shows chunks xxd style with direction and connection, control bytes as dots", async () => {
    const { lab: server, port } = await chatServer(["--mode", "echo", "--hexdump"]);
    const r = await runLab(["client", "--port", String(port)], { input: "a\u001b[2Jb\n", timeoutMs: 10_000 });
    expect(r.code).toBe(0);
    await server.waitForOutput(
      /#\d+ < from 127\.0\.0\.1:\d+ 7 B\n00000000 {2}61 1b 5b 32 4a 62 0a +a\.\[2Jb\./,
      {
        stream: "stderr",
      },
    );
    expect(server.stderr()).not.toContain("\u001b");
    await server.stop("SIGINT");
  });

  it("bad inputs say what happened in one line", async () => {
    const dir = await watchTempDir();
    const missing = await runLab(["server", "--port", "0", "--events", join(dir, "nope", "ev.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lab: cannot write .*ev\.jsonl: its folder does not exist\nhint: /);
    // A folder given for the file, and lab session export's --pcap, say so in the same words.
    const folder = await runLab(["server", "--port", "0", "--record", dir]);
    expect(folder).toMatchObject({
      code: 1,
      stderr: `lab: cannot write ${dir}: it is a folder\nhint: give the path of a file, in that folder or another\n`,
    });

    const write = async (name: string, text: string) => {
      const p = join(dir, name);
      await writeFile(p, text);
      return p;
    };
    const head = `${JSON.stringify({ netlab: "session", v: 1, ts: 1, side: "server" })}\n`;
    const open = `${JSON.stringify({ type: "open", t: 0, conn: 1, transport: "tcp", client: "127.0.0.1:1", server: "127.0.0.1:2" })}\n`;
    const cases: Array<[string, string, RegExp]> = [
      [
        "v9.jsonl",
        `${JSON.stringify({ netlab: "session", v: 9, ts: 1, side: "server" })}\n`,
        /record version 9 is not supported/,
      ],
      ["notes.txt", "hello\n", /is not a netlab session/],
      [
        "b64.jsonl",
        `${head}${open}{"type":"data","t":1,"conn":1,"from":"client","b64":"@@@"}\n`,
        /line 3: invalid base64/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const r = await runLab(["session", "export", await write(name, text), "--pcap", join(dir, "x.pcap")]);
      expect(r.code, name).toBe(1);
      expect(r.stderr.split("\n")[0], name).toMatch(message);
    }
    const noFile = await runLab([
      "session",
      "export",
      join(dir, "none.jsonl"),
      "--pcap",
      join(dir, "x.pcap"),
    ]);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toBe(
      `lab: cannot read ${join(dir, "none.jsonl")}: no such file\nhint: give the file a --record FILE wrote\n`,
    );
    const truncated = await write("cut.jsonl", `${head}${open}{"type":"data","t":1,"conn":1,"fr`);
    const cut = await runLab(["session", "export", truncated, "--pcap", join(dir, "cut.pcap")]);
    expect(cut.code).toBe(0);
    for (const [pcap, why, hint] of [
      [
        join(dir, "nope", "x.pcap"),
        "its folder does not exist",
        "create the folder first, or give a path in an existing one",
      ],
      [dir, "it is a folder", `give a file name, such as ${join(dir, "session.pcap")}`],
    ]) {
      const r = await runLab(["session", "export", truncated, "--pcap", pcap!]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(`\nlab: cannot write ${pcap}: ${why}\nhint: ${hint}\n$`.replaceAll("(", "\\(")),
      );
    }
    expect(cut.stderr).toMatch(/warning: .*line 3 is truncated/);

    const speed = await runLab([
      "replay",
      truncated,
      "--to",
      "127.0.0.1:9",
      "--pace",
      "original",
      "--speed",
      "0",
    ]);
    expect(speed.code).toBe(2);
    expect(speed.stderr).toMatch(/^lab: --speed: speed must be a number above 0, got 0\n/);
    const pace = await runLab(["replay", truncated, "--to", "127.0.0.1:9", "--pace", "slow"]);
    expect(pace.code).toBe(2);
    expect(pace.stderr).toMatch(
      /^lab: --pace: unknown pace "slow"\nhint: choose one of: lockstep, original, fast/,
    );
  });
  it("Ctrl-C on lab client with --events and --record: both files end cleanly, every line valid, the close recorded", async () => {
    const dir = await watchTempDir();
    const ev = join(dir, "client-events.jsonl");
    const rec = join(dir, "client.jsonl");
    const { lab: server, port } = await chatServer([]);
    // Piped stdin that stays open: the client runs until the signal.
    const client = startLab(["client", "--port", String(port), "--events", ev, "--record", rec]);
    client.write("hello before ctrl-c\n");
    await client.waitForOutput(/hello before ctrl-c/, { stream: "stdout" });
    expect(await client.stop("SIGINT")).toBe(130);

    const events = (await jsonLines(ev)).map((l) => eventLineSchema.parse(l));
    // The client said goodbye (a quit) before exiting: the connection closed cleanly, and was logged.
    expect(events[0]).toMatchObject({ event: "connection.open", attrs: { "netlab.side": "client" } });
    expect(events.at(-1)).toMatchObject({
      event: "connection.close",
      attrs: { "netlab.close.reason": "fin" },
    });

    const [header, ...records] = await jsonLines(rec);
    expect(sessionHeaderSchema.parse(header).side).toBe("client");
    const parsed = records.map((r) => sessionRecordSchema.parse(r));
    expect(parsed[0]?.type).toBe("open");
    expect(parsed.at(-1)?.type).toBe("close");
    const sent = parsed
      .filter((r) => r.type === "data" && r.from === "client")
      .map((r) => Buffer.from((r as { b64: string }).b64, "base64").toString())
      .join("");
    expect(sent).toContain("hello before ctrl-c");
    await server.stop("SIGINT");
  });
  it("a lab client recording (JSON lines with the server's ts) replays with --compare --ignore-json-fields ts: 0 differences", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "client.jsonl");
    const { lab: server, port } = await chatServer([]);
    const ev = join(dir, "client-events.jsonl");
    // --nick: the welcome grants a reclaim token, and /nick another.
    const r = await runLab(
      ["client", "--port", String(port), "--nick", "alice", "--record", rec, "--events", ev],
      {
        input: "hello\n/nick zed\nbye\n",
        timeoutMs: 15_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    await server.stop("SIGINT");
    // The tokens are masked, one * a byte: the recording holds as many bytes as crossed the socket.
    const records = (await jsonLines(rec)).slice(1) as { type: string; from?: string; b64?: string }[];
    const fromServer = Buffer.concat(
      records
        .filter((x) => x.type === "data" && x.from === "server")
        .map((x) => Buffer.from(x.b64!, "base64")),
    );
    expect(fromServer.toString().match(/"reclaim":"\*{32}"/g)).toHaveLength(2);
    expect(fromServer.toString()).not.toMatch(/"reclaim":"[^*"]/);
    const closed = (await jsonLines(ev)).find(
      (e) => (e as { event: string }).event === "connection.close",
    ) as { attrs: Record<string, number> };
    expect(fromServer.length).toBe(closed.attrs["netlab.bytes_in"]);

    const { lab: fresh, port: freshPort } = await chatServer([]);
    const to = `127.0.0.1:${freshPort}`;
    // The server's clock is in every JSON line: a plain byte comparison fails there …
    const strict = await runLab(["replay", rec, "--to", to, "--compare"], { timeoutMs: 15_000 });
    expect(strict.code).toBe(1);
    expect(strict.stderr).toMatch(/differ from the recording at offset \d+/);
    // … and the hint names the field and the option that leaves it out.
    expect(strict.stderr).toMatch(
      /\nhint: line \d+ is JSON and differs in ts; leave out fields that change on every run \(a time, a token\) with --ignore-json-fields ts\n$/,
    );
    await fresh.stop("SIGINT");
    // … and with ts (and the reclaim token its /nick was granted) left out, a fresh server answers
    // exactly as recorded.
    const { lab: again, port: againPort } = await chatServer([]);
    const masked = await runLab(
      ["replay", rec, "--to", `127.0.0.1:${againPort}`, "--compare", "--ignore-json-fields", "ts,reclaim"],
      { timeoutMs: 15_000 },
    );
    expect(masked.stderr).toContain("0 differences");
    expect(masked.code).toBe(0);
    await again.stop("SIGINT");
  });
  it("replay --compare against a server that hangs up at once says it sent less, and what to check", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "one.jsonl");
    const lines = [
      { netlab: "session", v: 1, ts: 1, side: "server" },
      { type: "open", t: 0, conn: 1, transport: "tcp", client: "127.0.0.1:1", server: "127.0.0.1:2" },
      { type: "data", t: 1, conn: 1, from: "server", b64: Buffer.from("hello\n").toString("base64") },
      { type: "close", t: 2, conn: 1, reason: "fin" },
    ];
    await writeFile(rec, lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;
    const r = await runLab(["replay", rec, "--to", `127.0.0.1:${port}`, "--compare", "--wait", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/got: {6}\(nothing: the server sent less\)\n/);
    expect(r.stderr).toMatch(
      /\nhint: the server sent less than recorded: it closed the connection, or took longer than --wait \(2 s\)\n$/,
    );
  });
  it("replay (no --compare) against a server that answers nothing stops after one silent --wait, exit 1, and says so", async () => {
    const rec = await pingPongRecording(8);
    // Reads everything (the replay's writes never block) and answers nothing.
    const port = await serve((s) => s.resume());
    const started = performance.now();
    const r = await runLab(["replay", rec, "--to", `127.0.0.1:${port}`, "--wait", "1s"], {
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^lab: connection 1: the server said nothing for 1 s \(--wait\) where the recording has it answering \(it sent nothing at all\); replay stopped$/m,
    );
    expect(r.stderr).toMatch(
      /^hint: is this the server that was recorded, and is it running\? raise --wait/m,
    );
    // One silent wait, not one per step (8 s before).
    expect(performance.now() - started).toBeLessThan(6_000);
  }, 40_000);

  it("replay (no --compare) against a server that answers once, then nothing, waits on it once, warns, and ends as before", async () => {
    const rec = await pingPongRecording(8, { close: false });
    const port = await serve((s) => {
      s.once("data", () => s.write("pong 0\n"));
      s.resume();
    });
    const started = performance.now();
    const r = await runLab(["replay", rec, "--to", `127.0.0.1:${port}`, "--wait", "1s"], {
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^lab: warning: connection 1: the server said nothing for 1 s \(--wait\) after 7 of the 14 bytes recorded by then; its later steps were played without waiting for it$/m,
    );
    expect(r.stderr).toMatch(/^replayed 1 connection: 56 B sent, 7 B received$/m);
    // One silent wait, not one per step (7 s before).
    expect(performance.now() - started).toBeLessThan(5_000);
  }, 40_000);

  it("replay --as-server plays a recorded server to a client: the same client finds 0 differences, another input exits 1", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "client.jsonl");
    const { lab: server, port } = await chatServer([]);
    const input = "hello\n/nick zed\nbye\n";
    const recorded = await runLab(["client", "--port", String(port), "--record", rec], {
      input,
      timeoutMs: 15_000,
    });
    expect(recorded.code, recorded.stderr).toBe(0);
    await server.stop("SIGINT");

    const asServer = async (clientInput: string) => {
      const { lab: replayer, port: replayPort } = await startServer(
        (p) => [
          "replay",
          rec,
          "--as-server",
          "--listen",
          `127.0.0.1:${p}`,
          "--compare",
          "--accept-wait",
          "15",
        ],
        (p) => `listening on 127.0.0.1:${p}: playing the server side of 1 connection`,
      );
      const client = await runLab(["client", "--port", String(replayPort)], {
        input: clientInput,
        timeoutMs: 15_000,
      });
      return { client, code: await replayer.exited, stderr: replayer.stderr() };
    };
    const same = await asServer(input);
    // The client sees the recorded server, line for line.
    expect(same.client.stdout).toBe(recorded.stdout);
    expect(same.stderr).toContain("0 differences");
    expect(same.code).toBe(0);

    const other = await asServer("hello\n/nick zed\nbye!\n");
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(
      /connection 1: the client's bytes differ from the recording at offset \d+\n {2}expected: 22 7d 0a\n {2}got: {6}21 22 7d 0a/,
    );
  });

  it("session export --pcap - writes the capture to stdout (tcpdump -w -, curl -o -), not to a file named -", async () => {
    const dir = await watchTempDir();
    const rec = await oneConnectionRecording(
      dir,
      '{"type":"data","t":1,"conn":1,"from":"client","b64":"aGkK"}\n',
    );
    const file = join(dir, "s.pcap");
    expect((await runLab(["session", "export", rec, "--pcap", file])).code).toBe(0);
    const piped = spawnSync(process.execPath, [LAB_BIN, "session", "export", rec, "--pcap", "-"], {
      cwd: dir,
      timeout: 15_000,
    });
    expect(piped.status, piped.stderr.toString()).toBe(0);
    expect(piped.stdout.equals(await readFile(file))).toBe(true);
    expect(existsSync(join(dir, "-"))).toBe(false);
  });

  it("replay --as-server listens as every server does: a port in use and a regular file at the path are one lab: line with a hint; its socket is 0600", async () => {
    const dir = await watchTempDir();
    const rec = await oneConnectionRecording(dir);
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    onTestFinished(() => new Promise<void>((r) => taken.close(() => r())));
    const { port } = taken.address() as net.AddressInfo;
    const inUse = await runLab(["replay", rec, "--as-server", "--listen", `127.0.0.1:${port}`]);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toBe(
      `lab: port ${port} on 127.0.0.1 is already in use\nhint: stop the other server or choose another --port\n`,
    );
    const file = join(dir, "notes.txt");
    await writeFile(file, "keep");
    const onFile = await runLab(["replay", rec, "--as-server", "--listen", `unix:${file}`]);
    expect(onFile.code).toBe(1);
    expect(onFile.stderr).toBe(
      `lab: cannot listen on unix:${file}: a file that is not a socket is there\nhint: it is never replaced: choose another path, or remove it yourself\n`,
    );
    expect(await readFile(file, "utf8")).toBe("keep");

    const sock = join(dir, "r.sock");
    const replayer = startLab([
      "replay",
      rec,
      "--as-server",
      "--listen",
      `unix:${sock}`,
      "--accept-wait",
      "15",
    ]);
    await replayer.waitForOutput(`listening on unix:${sock}`);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });

  it("lab server --record and --hexdump mask /auth and hello tokens (--no-redact keeps them)", async () => {
    const dir = await watchTempDir();
    const tokens = join(dir, "tokens.txt");
    const TEXT_TOKEN = "text-token-0123456789abcdef";
    const JSON_TOKEN = "json-token-0123456789abcdef";
    await writeFile(tokens, `${TEXT_TOKEN}:rw\nalice:${JSON_TOKEN}\n`, { mode: 0o600 });
    const serve = async (extra: string[]) => {
      const rec = join(dir, `server${extra.length}.jsonl`);
      const hex = join(dir, `server${extra.length}.hex`);
      const { lab: server, port } = await chatServer([
        "--token-file",
        tokens,
        "--allow-plaintext-auth",
        "--record",
        rec,
        "--hexdump",
        hex,
        ...extra,
      ]);
      const text = await lineClient(port);
      await text.waitFor(/AUTH_REQUIRED/);
      text.send(`/auth ${TEXT_TOKEN}`);
      await text.waitFor(/token accepted/);
      const json = await runLab(["client", "--port", String(port)], {
        input: "hi\n",
        env: { LAB_TOKEN: JSON_TOKEN },
        timeoutMs: 15_000,
      });
      expect(json.code, json.stderr).toBe(0);
      text.socket.end();
      await server.waitForOutput(/disconnect[\s\S]*disconnect/);
      await server.stop("SIGINT");
      const records = (await jsonLines(rec)).slice(1) as { type: string; b64?: string }[];
      const recorded = records
        .filter((x) => x.type === "data")
        .map((x) => Buffer.from(x.b64!, "base64").toString())
        .join("");
      const dumped = (await hexdumpBytes(hex)).toString();
      return { recorded, dumped };
    };
    const masked = await serve([]);
    for (const bytes of [masked.recorded, masked.dumped]) {
      expect(bytes).toContain(`/auth ${"*".repeat(TEXT_TOKEN.length)}\n`);
      expect(bytes).toContain(`"token":"${"*".repeat(JSON_TOKEN.length)}"`);
      expect(bytes).not.toContain(TEXT_TOKEN);
      expect(bytes).not.toContain(JSON_TOKEN);
    }
    const raw = await serve(["--no-redact"]);
    for (const bytes of [raw.recorded, raw.dumped]) {
      expect(bytes).toContain(`/auth ${TEXT_TOKEN}\n`);
      expect(bytes).toContain(`"token":"${JSON_TOKEN}"`);
    }
  });
});
