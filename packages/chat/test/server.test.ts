import { describe, expect, it, onTestFinished } from "vitest";
import { type ChatEvent, type ChatEventOf, ChatServer, type ChatServerOptions } from "../src/index.js";
import { lineClient } from "./line-client.js";

async function startChat(opts: ChatServerOptions = {}) {
  // drainTimeoutMs: clients vanish at the same moment as the server closes in teardown.
  const server = new ChatServer({ port: 0, helloGraceMs: 30, drainTimeoutMs: 200, ...opts });
  const { port } = await server.listen();
  onTestFinished(() => server.close());
  return { server, port };
}

/** A text-mode client that has joined #lobby; returns it with its nick. */
async function textClient(port: number) {
  const c = await lineClient(port);
  const welcome = await c.waitFor("netlab chat/1");
  const nick = /you are (\S+)\./.exec(welcome)?.[1] ?? "";
  await c.waitFor(`* ${nick} joined #lobby`);
  return Object.assign(c, { nick });
}

/** A JSON-mode client; `events()` parses every line received so far. */
async function jsonClient(port: number, nick?: string) {
  const c = await lineClient(port);
  await c.waitFor("netlab chat/1");
  c.send(JSON.stringify({ type: "hello", proto: 1, ...(nick ? { nick } : {}) }));
  await c.waitFor(/"type":"join"/);
  const events = () =>
    c.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ChatEvent & Record<string, unknown>);
  return Object.assign(c, { events });
}

describe("ChatServer text mode", () => {
  it("#16: /nodes without a cluster lists this server alone; hello.since is ignored there", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    a.send("/nodes");
    await a.waitFor("* nodes: netlab (1 client, this node)");
    const j = await lineClient(port);
    await j.waitFor("netlab chat/1");
    j.send(JSON.stringify({ type: "hello", proto: 1, room: "#lobby", since: "1-0" }));
    await j.waitFor(/"type":"join","room":"#lobby"/);
    expect(j.lines.some((l) => l.includes('"kind":"gap"'))).toBe(false);
  });

  it("greets with the protocol name and a guest nick, and announces the join", async () => {
    const { port } = await startChat();
    const c = await lineClient(port);
    expect(await c.waitFor("netlab chat/1")).toMatch(
      /^\* netlab chat\/1 — welcome to netlab, you are guest-\d+\. \/help for commands$/,
    );
    await c.waitFor(/^\* guest-\d+ joined #lobby$/);
  });

  it("sends each line to everyone else in the room as <nick> text, not back to the sender", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    const b = await textClient(port);
    a.send("hello there");
    expect(await b.waitFor("hello there")).toBe(`<${a.nick}> hello there`);
    b.send("/me waves");
    expect(await a.waitFor("waves")).toBe(`* ${b.nick} waves`);
    expect(a.lines).not.toContain(`<${a.nick}> hello there`);
  });

  it("changes nicks, announces it, and rejects taken or invalid ones with a coded error line", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    const b = await textClient(port);
    a.send("/nick alice");
    await b.waitFor(`* ${a.nick} is now known as alice`);
    b.send("/nick ALICE");
    expect(await b.waitFor("[NICK_TAKEN]")).toBe('! nick "ALICE" is already taken [NICK_TAKEN]');
    b.send("/nick bad nick");
    await b.waitFor("[BAD_ARGUMENTS]");
    b.send("/nick x!");
    await b.waitFor("[NICK_INVALID]");
    b.send(`/nick ${"n".repeat(33)}`);
    expect(b.lines.filter((l) => l.includes("[NICK_INVALID]"))).toHaveLength(1);
    await b.waitUntil((ls) => ls.filter((l) => l.includes("[NICK_INVALID]")).length === 2, "second error");
  });

  it("keeps rooms apart and lists rooms and members", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    const b = await textClient(port);
    const c = await textClient(port);
    a.send("/join games");
    await a.waitFor(`* ${a.nick} joined #games`);
    await b.waitFor(`* ${a.nick} left #lobby (joined #games)`);
    b.send("/join #games");
    await a.waitFor(`* ${b.nick} joined #games`);
    a.send("in games");
    await b.waitFor(`<${a.nick}> in games`);
    c.send("/rooms");
    expect(await c.waitFor("* rooms:")).toBe("* rooms: #games (2), #lobby (1)");
    a.send("/who");
    expect(await a.waitFor("* in #games")).toBe(`* in #games: ${[a.nick, b.nick].sort().join(", ")}`);
    c.send("/join #bad room");
    await c.waitFor("[BAD_ARGUMENTS]");
    expect(c.lines.join("\n")).not.toContain("in games");
  });

  it("delivers private messages across rooms and says when the nick does not exist", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    const b = await textClient(port);
    b.send("/join #elsewhere");
    await b.waitFor("joined #elsewhere");
    a.send(`/msg ${b.nick} psst`);
    expect(await b.waitFor("psst")).toBe(`*${a.nick}* psst`);
    expect(await a.waitFor("psst")).toBe(`-> *${b.nick}* psst`);
    a.send("/msg nobody hi");
    expect(await a.waitFor("[NO_SUCH_NICK]")).toMatch(/^! no one called "nobody" is here/);
  });

  it("shows a joiner the room's last --history messages", async () => {
    const { port } = await startChat({ historySize: 3 });
    const a = await textClient(port);
    for (let i = 1; i <= 5; i++) a.send(`line ${i}`);
    const b = await textClient(port);
    const seen = b.lines.filter((l) => l.startsWith(`<${a.nick}>`));
    expect(seen).toEqual([`<${a.nick}> line 3`, `<${a.nick}> line 4`, `<${a.nick}> line 5`]);
  });

  it("stops announcing joins and leaves in a room over maxAnnounceMembers", async () => {
    const { port } = await startChat({ maxAnnounceMembers: 2 });
    const a = await textClient(port);
    const b = await textClient(port);
    await a.waitFor(`* ${b.nick} joined #lobby`);
    const c = await textClient(port); // the third member: told of its own join only
    const d = await textClient(port);
    b.send("/who");
    await b.waitFor("* in #lobby");
    expect(a.lines.join("\n")).not.toContain(`${c.nick} joined`);
    expect(a.lines.join("\n")).not.toContain(`${d.nick} joined`);
    d.send("/quit");
    await d.closed;
    c.send("/quit");
    await c.closed;
    b.send("/join #elsewhere"); // a room of 2 again: announced
    await a.waitFor(`* ${b.nick} left #lobby (joined #elsewhere)`);
    expect(a.lines.join("\n")).not.toContain(`${c.nick} left`);
  });

  it("lists the commands for /help and answers unknown ones with UNKNOWN_COMMAND", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    a.send("/help");
    await a.waitFor("/msg NICK text");
    a.send("/frobnicate");
    expect(await a.waitFor("[UNKNOWN_COMMAND]")).toBe("! unknown command /frobnicate [UNKNOWN_COMMAND]");
  });

  it("says goodbye on /quit and tells the room why", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    const b = await textClient(port);
    a.send("/quit");
    await a.closed;
    await b.waitFor(`* ${a.nick} left #lobby (quit)`);
  });
});

describe("ChatServer JSON mode", () => {
  it("upgrades on a hello first line: welcome with the nick, then NDJSON events", async () => {
    const { port } = await startChat();
    const c = await jsonClient(port, "alice");
    const [welcome, join] = c.events();
    expect(welcome).toMatchObject({ type: "welcome", proto: 1, nick: "alice", room: "#lobby" });
    expect(join).toMatchObject({ type: "join", nick: "alice", room: "#lobby" });
  });

  it("echoes a message to its sender with id, room, from and timestamp, and sends it to text clients", async () => {
    const { port } = await startChat();
    const t = await textClient(port);
    const c = await jsonClient(port, "alice");
    c.send(JSON.stringify({ type: "message", text: "hi" }));
    await c.waitFor(/"type":"message"/);
    const m = c.events().find((e) => e.type === "message");
    expect(m).toMatchObject({ type: "message", room: "#lobby", from: "alice", text: "hi" });
    expect(typeof m?.id).toBe("number");
    expect(Math.abs(Number(m?.ts) - Date.now())).toBeLessThan(10_000);
    await t.waitFor("<alice> hi");
  });

  it("answers a bad JSON line with an error event and keeps the connection", async () => {
    const { port } = await startChat();
    const c = await jsonClient(port, "alice");
    c.send("not json");
    c.send(JSON.stringify({ type: "message" }));
    c.send(JSON.stringify({ type: "launch", missiles: true }));
    c.send(JSON.stringify({ type: "ping", id: 1 }));
    await c.waitFor('"type":"pong"');
    const errors = c.events().filter((e) => e.type === "error");
    expect(errors.map((e) => e.code)).toEqual(["BAD_MESSAGE", "BAD_MESSAGE", "BAD_MESSAGE"]);
    expect(errors[0]?.message).toMatch(/not JSON/);
    expect(errors[1]?.message).toMatch(/text/);
  });

  it("keeps the guest nick and reports NICK_TAKEN when hello asks for a taken nick", async () => {
    const { port } = await startChat();
    await jsonClient(port, "alice");
    const c = await jsonClient(port, "alice");
    const [welcome, error] = c.events();
    expect(welcome).toMatchObject({ type: "welcome", nick: expect.stringMatching(/^guest-/) });
    expect(error).toMatchObject({ type: "error", code: "NICK_TAKEN" });
  });

  it("joins a hello with a free nick under that nick: the room sees one join and no rename", async () => {
    const { port } = await startChat();
    const t = await textClient(port);
    const c = await jsonClient(port, "alice");
    c.send(JSON.stringify({ type: "ping", id: "sync" }));
    await c.waitFor('"id":"sync"');
    expect(c.events().map((e) => e.type)).toEqual(["welcome", "join", "pong"]);
    t.send("/who");
    await t.waitFor("* in #lobby:");
    expect(t.lines.filter((l) => l.includes("alice"))).toEqual([
      "* alice joined #lobby",
      `* in #lobby: ${[t.nick, "alice"].sort().join(", ")}`,
    ]);
    expect(t.lines.join("\n")).not.toContain("known as");
  });

  it("joins under the hello's nick even when the server's event loop was blocked past the grace", async () => {
    const { port } = await startChat({ helloGraceMs: 50 });
    const t = await textClient(port);
    const c = await lineClient(port);
    await c.waitFor("netlab chat/1");
    c.send(JSON.stringify({ type: "hello", proto: 1, nick: "busy" }));
    // Block this process (server and clients alike) well past the grace, as loading a UI does:
    // the grace timer then fires before the hello, already here, is read.
    const until = Date.now() + 300;
    while (Date.now() < until) {}
    await c.waitFor(/"type":"join"/);
    expect(JSON.parse(c.lines.find((l) => l.includes('"type":"join"')) ?? "{}")).toMatchObject({
      nick: "busy",
    });
    await t.waitFor("* busy joined #lobby");
    expect(t.lines.filter((l) => l.includes("joined") || l.includes("known as"))).toEqual([
      `* ${t.nick} joined #lobby`,
      "* busy joined #lobby",
    ]);
  });

  it.each([
    ["an invalid", "bad nick!", "NICK_INVALID"],
    ["a reserved", "server", "NICK_INVALID"],
    ["an over-long", "n".repeat(100), "NICK_INVALID"],
  ])(
    "joins a hello with %s nick as a guest, in JSON mode, with an error that says why",
    async (_what, nick, code) => {
      const { port } = await startChat();
      const c = await jsonClient(port, nick);
      const [welcome, error, join] = c.events();
      expect(welcome).toMatchObject({ type: "welcome", nick: expect.stringMatching(/^guest-\d+$/) });
      expect(error).toMatchObject({ type: "error", code, message: expect.stringContaining("nick") });
      expect(String(error?.message).length).toBeLessThan(200);
      expect(join).toMatchObject({ type: "join", nick: welcome?.nick, room: "#lobby" });
    },
  );

  it("rejects a hello that is not the first line with HELLO_TOO_LATE", async () => {
    const { port } = await startChat();
    const c = await jsonClient(port);
    c.send(JSON.stringify({ type: "hello", proto: 1 }));
    await c.waitFor("HELLO_TOO_LATE");
  });

  it("upgrades a client whose hello arrives after the grace period, replaying the history as JSON", async () => {
    const { port } = await startChat({ helloGraceMs: 1 });
    const a = await textClient(port);
    a.send("before you came");
    const c = await lineClient(port);
    await c.waitFor(/joined #lobby/);
    c.send(JSON.stringify({ type: "hello", proto: 1, nick: "late" }));
    await c.waitFor('"type":"welcome"');
    await c.waitFor('"history":true');
    await a.waitFor(/is now known as late/);
    // The client only ever knew itself as "late": it gets a join under that nick, not a rename.
    await c.waitFor('"type":"join"', { from: c.lines.findIndex((l) => l.includes('"type":"welcome"')) });
    const json = c.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ChatEvent);
    expect(json.map((e) => e.type)).toEqual(["welcome", "message", "join"]);
    expect(json.at(-1)).toMatchObject({ type: "join", nick: "late", room: "#lobby" });
  });
});

describe("#20: a reconnecting JSON client", () => {
  it("is joined straight to the room its hello names, and is replayed its history with the times the lines were said", async () => {
    const { port } = await startChat();
    const a = await textClient(port);
    a.send("/join #ops");
    await a.waitFor(`* ${a.nick} joined #ops`);
    const before = Date.now();
    a.send("said earlier");
    a.send("/who"); // a text client's own line is not echoed: the answer to the next one says it was taken
    await a.waitFor("* in #ops");
    const c = await lineClient(port);
    await c.waitFor("netlab chat/1");
    c.send(JSON.stringify({ type: "hello", proto: 1, nick: "back", room: "#ops" }));
    await c.waitFor('"type":"join"');
    const json = c.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ChatEvent);
    expect(json.map((e) => e.type)).toEqual(["welcome", "message", "join"]);
    expect(json[0]).toMatchObject({ type: "welcome", room: "#ops", nick: "back" });
    const replayed = json[1] as ChatEventOf<"message">;
    expect(replayed).toMatchObject({ room: "#ops", text: "said earlier", history: true });
    expect(replayed.ts).toBeGreaterThanOrEqual(before);
    expect(replayed.ts).toBeLessThan(Date.now());
    expect(json[2]).toMatchObject({ type: "join", room: "#ops", nick: "back" });
    await a.waitFor("* back joined #ops");
    expect(a.lines.join("\n")).not.toContain("back joined #lobby");
  });

  it("asking for a room with a bad name gets an error and #lobby", async () => {
    const { port } = await startChat();
    const c = await lineClient(port);
    await c.waitFor("netlab chat/1");
    c.send(JSON.stringify({ type: "hello", proto: 1, room: "#not a room" }));
    await c.waitFor('"type":"join"');
    const json = c.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ChatEvent);
    expect(json.map((e) => e.type)).toEqual(["welcome", "error", "join"]);
    expect(json[2]).toMatchObject({ room: "#lobby" });
  });
});

describe("ChatServer limits and faults", () => {
  it("refuses the client over --max-clients with one SERVER_FULL line", async () => {
    const { port } = await startChat({ maxClients: 2 });
    await textClient(port);
    await textClient(port);
    const third = await lineClient(port);
    await third.closed;
    expect(third.lines).toEqual(["! server full: 2 clients connected; try again later [SERVER_FULL]"]);
  });

  it("tells a TLS client on its plaintext port so and closes, sending the room none of its bytes", async () => {
    const { port } = await startChat();
    const room = await textClient(port);
    const tlsClient = await lineClient(port);
    // A handshake record's start, then bytes that would read as chat lines if taken for text.
    tlsClient.socket.write(
      Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x2a, 0x01]), Buffer.from("\nhello room\n")]),
    );
    await tlsClient.waitFor("[WRONG_PROTOCOL]", { timeoutMs: 5_000 });
    await tlsClient.closed;
    expect(tlsClient.lines.at(-1)).toBe(
      "! this port does not speak TLS; connect without --tls [WRONG_PROTOCOL]",
    );
    // The server answers in order: once /who is answered, whatever it broadcast is in.
    room.send("/who");
    await room.waitFor(`* in #lobby: ${room.nick}`);
    expect(room.lines.join("\n")).not.toContain("hello room");
  });

  it("disconnects an idle client with a line that says why, and tells the room", async () => {
    const { port } = await startChat({ idleTimeoutMs: 300 });
    const idle = await textClient(port);
    const b = await lineClient(port);
    await b.waitFor("joined #lobby");
    const keepAlive = setInterval(() => b.send("/who"), 50);
    onTestFinished(() => clearInterval(keepAlive));
    await idle.closed;
    expect(idle.lines.at(-1)).toBe("! idle for 300 ms, disconnected [IDLE_TIMEOUT]");
    await b.waitFor(`* ${idle.nick} left #lobby`);
  });

  it("counts bytes of an unfinished line as activity, so a slow typist is not idled out", async () => {
    const { port } = await startChat({ idleTimeoutMs: 400 });
    const slow = await textClient(port);
    // Two characters every 80 ms, no newline: 800 ms with nothing but a part of a line.
    for (let i = 0; i < 10; i++) {
      slow.socket.write("ab");
      await new Promise((r) => setTimeout(r, 80));
    }
    slow.send("done");
    slow.send("/who");
    await slow.waitFor(`* in #lobby: ${slow.nick}`);
    expect(slow.lines.join("\n")).not.toContain("IDLE_TIMEOUT");
  });

  it("lists its rooms with their joined clients, without a snapshot per client", async () => {
    const { server, port } = await startChat();
    await textClient(port);
    const b = await textClient(port);
    b.send("/join #games");
    await b.waitFor(`* ${b.nick} joined #games`);
    expect(server.rooms()).toEqual([
      { name: "#games", clients: 1 },
      { name: "#lobby", clients: 1 },
    ]);
  });

  it("answers invalid UTF-8 and over-long lines with error lines and goes on", async () => {
    const { port } = await startChat({ maxLineBytes: 100 });
    const a = await textClient(port);
    const b = await textClient(port);
    a.socket.write(Buffer.from([0xff, 0xfe, 0x41, 0x0a]));
    await a.waitFor("[INVALID_UTF8]");
    a.send("x".repeat(500));
    await a.waitFor("[FRAME_TOO_LARGE]");
    a.send("still here");
    await b.waitFor(`<${a.nick}> still here`);
  });

  it("disconnects a client that keeps sending garbage, and the server keeps serving", async () => {
    const { port } = await startChat();
    const bad = await textClient(port);
    const good = await textClient(port);
    for (let i = 0; i < 20; i++) bad.socket.write(Buffer.from([0xc3, 0x28, i, 0x0a]));
    await bad.closed;
    expect(bad.lines.at(-1)).toBe("! too many bad lines, disconnected [TOO_MANY_ERRORS]");
    await good.waitFor(`* ${bad.nick} left #lobby (too many bad lines, disconnected)`);
    const other = await textClient(port);
    other.send("ok");
    await good.waitFor(`<${other.nick}> ok`);
  });

  it("warns a flooding client, drops its messages, then disconnects it", async () => {
    const { port } = await startChat({ floodMessages: 5, floodWindowMs: 60_000 });
    const flooder = await textClient(port);
    const b = await textClient(port);
    for (let i = 1; i <= 12; i++) flooder.send(`msg ${i}`);
    await flooder.closed;
    expect(flooder.lines.some((l) => l.startsWith("* slow down"))).toBe(true);
    expect(flooder.lines.at(-1)).toBe("! flooding: too many messages, disconnected [FLOOD]");
    await b.waitFor(`${flooder.nick} left #lobby`);
    expect(b.lines.filter((l) => l.startsWith(`<${flooder.nick}>`))).toHaveLength(5);
  });

  it("cuts off a client that stops reading once its queue passes maxQueueBytes; the others keep up", async () => {
    const { server, port } = await startChat({
      maxQueueBytes: 256 * 1024,
      floodMessages: Number.POSITIVE_INFINITY,
    });
    const slow = await textClient(port);
    slow.socket.pause();
    const reader = await textClient(port);
    const sender = await textClient(port);
    const reasons: string[] = [];
    server.on("disconnect", (_p, reason: string) => reasons.push(reason));
    const big = "y".repeat(60_000);
    const maxMessages = 900; // 54 MB: far past what the loopback kernel buffers can hold
    const numbers = () =>
      reader.lines.filter((l) => l.startsWith(`<${sender.nick}> `)).map((l) => Number(l.split(" ")[1]));
    const isCutOff = () => reasons.some((r) => r.startsWith("slow consumer"));
    // Batches of 3 (180 KB, under maxQueueBytes) that the reader takes before the next, so only the
    // paused client can fall behind, until it is cut off: how many that takes depends on the
    // kernel's buffers, not on how fast this machine is. Each wait is on a condition, with room
    // for a loaded machine.
    let sent = 0;
    while (!isCutOff() && sent < maxMessages) {
      for (let j = 0; j < 3; j++) sender.send(`${sent++} ${big}`);
      await reader.waitUntil(() => numbers().length >= sent, `${sent} messages`, 60_000);
    }
    await reader.waitFor(`* ${slow.nick} left #lobby (slow consumer`, { timeoutMs: 60_000 });
    expect(reasons).toContain("slow consumer: more than 262144 bytes queued");
    expect(numbers()).toEqual(Array.from({ length: sent }, (_, i) => i));
  }, 180_000);

  it("#14: counts every line it sends as a frame of the socket server (frameOut, bytesOut, framesOut)", async () => {
    const { server, port } = await startChat();
    const frames: string[] = [];
    let bytesOut = 0;
    server.socketServer.on("frameOut", (_info: unknown, frame: Uint8Array) => frames.push(String(frame)));
    server.socketServer.on("bytesOut", (_info: unknown, n: number) => {
      bytesOut += n;
    });
    const c = await textClient(port);
    c.send("/who");
    await c.waitFor(/^\* in #lobby: /);
    expect(frames[0]).toMatch(/^\* netlab chat\/1 — welcome/);
    expect(frames.at(-1)).toMatch(/^\* in #lobby: /);
    expect(bytesOut).toBe(frames.reduce((sum, f) => sum + Buffer.byteLength(f), 0));
  });

  it("sends every client a shutdown notice on close()", async () => {
    const { server, port } = await startChat();
    const a = await textClient(port);
    const b = await jsonClient(port, "bob");
    await server.close();
    await Promise.all([a.closed, b.closed]);
    expect(a.lines.at(-1)).toBe("* the server is shutting down");
    expect(b.events().at(-1)).toMatchObject({ type: "notice", kind: "shutdown" });
  });

  it("sends the operator's broadcast to everyone as <server> text", async () => {
    const { server, port } = await startChat();
    const a = await textClient(port);
    const b = await jsonClient(port, "bob");
    server.broadcast("maintenance at noon");
    await a.waitFor("<server> maintenance at noon");
    await b.waitFor('"kind":"operator"');
    expect(server.stats().clients).toBe(2);
    expect(
      server
        .peers()
        .map((p) => p.mode)
        .sort(),
    ).toEqual(["json", "text"]);
  });
});
