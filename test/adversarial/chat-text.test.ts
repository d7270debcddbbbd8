import { describe, expect, it } from "vitest";
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { UNSAFE_TEXT } from "../../packages/core/src/index.js";
import { startServer } from "../helpers/lab.js";

// Issue 13, "terminal safety" and "nicks are unique as people read them", for the chat server:
// hostile peers over real sockets against the real `lab server`.

/** The attack line of the issue, as `printf '…' | nc` sends it. */
const ATTACK = "hi \x1b]0;PWNED\x07\x1b[2J\r* server is shutting down\n";
/** Every character a terminal may act on, except the newline that ends each line. */
const LIVE = new RegExp(UNSAFE_TEXT.source.replace("\\u0000-\\u001f", "\\u0000-\\u0009\\u000b-\\u001f"));

async function chatServer() {
  return startServer(
    (p) => ["server", "--port", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );
}

/** A raw text-mode client (what `nc` sees) that has joined #lobby; `raw()` is every byte so far. */
async function ncClient(port: number) {
  const c = await lineClient(port, { timeoutMs: 8_000 });
  let raw = "";
  c.socket.on("data", (d: string) => {
    raw += d;
  });
  const welcome = await c.waitFor("netlab chat/1");
  const nick = /you are (\S+)\./.exec(welcome)?.[1] ?? "";
  c.send(""); // any first line joins at once, rather than after the JSON hello's grace
  await c.waitFor(`* ${nick} joined #lobby`);
  return Object.assign(c, { nick, raw: () => raw });
}

/** A JSON-mode client; `events()` parses every line received so far. */
async function jsonClient(port: number, nick: string) {
  const c = await lineClient(port, { timeoutMs: 8_000 });
  await c.waitFor("netlab chat/1");
  c.send(JSON.stringify({ type: "hello", proto: 1, nick }));
  await c.waitFor(/"type":"join"/);
  const events = () =>
    c.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
  return Object.assign(c, { events });
}

/** No byte a terminal would obey, and no line a peer made look like the server's. */
function expectInert(victim: { raw(): string; lines: string[] }) {
  expect(victim.raw()).not.toMatch(LIVE);
  for (const l of victim.lines) expect(l).not.toMatch(/^(\* (the )?server|<server>|! )/);
}

/** Sends `line` and waits for the error line it earns. */
async function refused(c: LineClient, line: string, code: string): Promise<string> {
  const from = c.lines.length;
  c.send(line);
  return c.waitFor(`[${code}]`, { from });
}

describe("#13 chat server: text from peers never reaches an nc user live", () => {
  it("#13: the issue's OSC/clear-screen/CR line shows as visible text to every other nc user", async () => {
    const { port } = await chatServer();
    const victim = await ncClient(port);
    const attacker = await ncClient(port);
    attacker.socket.write(ATTACK);
    const got = await victim.waitFor(`<${attacker.nick}> hi`);
    expect(got).toBe(`<${attacker.nick}> hi ^[]0;PWNED^G^[[2J^M* server is shutting down`);
    // History replay to a later joiner is escaped the same way.
    const late = await ncClient(port);
    expect(await late.waitFor(`<${attacker.nick}> hi`)).toBe(got);
    expectInert(victim);
    expectInert(late);
  }, 20_000);

  it("#13: a JSON client's newline, C1, bidi, NUL and DEL in messages, /me and /msg stay visible text", async () => {
    const { port } = await chatServer();
    const victim = await ncClient(port);
    const eve = await jsonClient(port, "eve");
    await victim.waitFor("* eve joined #lobby");
    const nasty = "a\n* server is shutting down\r\u009b2J\u202egnp.exe\u2028\u0000\u007f\b";
    eve.send(JSON.stringify({ type: "message", text: nasty }));
    eve.send(JSON.stringify({ type: "me", text: nasty }));
    eve.send(JSON.stringify({ type: "private", to: victim.nick, text: nasty }));
    const shown = "a^J* server is shutting down^M<U+009B>2J<U+202E>gnp.exe<U+2028>^@^?^H";
    expect(await victim.waitFor("<eve>")).toBe(`<eve> ${shown}`);
    expect(await victim.waitFor("* eve a")).toBe(`* eve ${shown}`);
    expect(await victim.waitFor("*eve*")).toBe(`*eve* ${shown}`);
    expectInert(victim);
  }, 20_000);

  it("#13: a JSON client receives the exact text, control characters and all", async () => {
    const { port } = await chatServer();
    const reader = await jsonClient(port, "reader");
    const attacker = await ncClient(port);
    attacker.socket.write(ATTACK);
    await reader.waitFor(/"type":"message"/);
    const message = reader.events().find((e) => e.type === "message");
    expect(message).toMatchObject({ from: attacker.nick, text: ATTACK.slice(0, -1) });
  }, 20_000);

  it("#13: nicks and rooms with control or bidi characters are refused with a clear error line", async () => {
    const { port } = await chatServer();
    const victim = await ncClient(port);
    const attacker = await ncClient(port);
    expect(await refused(attacker, "/nick a\x1b[2Jb", "NICK_INVALID")).toBe(
      '! nick "a^[[2Jb" is not allowed: it contains control or text-direction characters [NICK_INVALID]',
    );
    expect(await refused(attacker, "/nick bob\u202e", "NICK_INVALID")).toContain('"bob<U+202E>"');
    expect(await refused(attacker, "/nick \u3164", "NICK_INVALID")).toContain("invisible");
    expect(await refused(attacker, "/join #x\u0085y", "ROOM_INVALID")).toContain('"#x<U+0085>y"');
    attacker.send("/who");
    await attacker.waitFor("* in #lobby:");
    expect(victim.lines.join("\n")).not.toContain("known as");
    expectInert(victim);
    expect(attacker.raw()).not.toMatch(LIVE);
  }, 20_000);
});

describe("#13 chat server: nicks are unique as people read them", () => {
  it("#13: Alice, alice and fullwidth ａｌｉｃｅ are one nick", async () => {
    const { port } = await chatServer();
    const a = await ncClient(port);
    const b = await ncClient(port);
    a.send("/nick Alice");
    await b.waitFor("is now known as Alice");
    expect(await refused(b, "/nick alice", "NICK_TAKEN")).toContain('"alice" is already taken');
    expect(await refused(b, "/nick ａｌｉｃｅ", "NICK_TAKEN")).toContain("already taken");
    // /msg finds her by any of them.
    b.send("/msg ａｌｉｃｅ psst");
    expect(await a.waitFor("psst")).toBe(`*${b.nick}* psst`);
  }, 20_000);

  it("#13: a nick that looks like one in use (b0b, Cyrillic bоb) is refused", async () => {
    const { port } = await chatServer();
    const a = await ncClient(port);
    const b = await ncClient(port);
    a.send("/nick bob");
    await b.waitFor("is now known as bob");
    expect(await refused(b, "/nick b0b", "NICK_TAKEN")).toContain('"b0b" looks too much like "bob"');
    expect(await refused(b, "/nick b\u043eb", "NICK_TAKEN")).toContain('looks too much like "bob"');
  }, 20_000);

  it("#13: a guest name is never one somebody took with /nick", async () => {
    const { port } = await chatServer();
    const a = await ncClient(port);
    const id = Number(/^guest-(\d+)$/.exec(a.nick)?.[1]);
    const next = `guest-${id + 1}`;
    a.send(`/nick ${next}`);
    await a.waitFor(`is now known as ${next}`);
    const b = await ncClient(port);
    expect(b.nick).not.toBe(next);
    b.send(`/msg ${next} hello`);
    expect(await a.waitFor("hello")).toBe(`*${b.nick}* hello`);
  }, 20_000);

  it("#13: reserved names cannot be taken or imitated, so no peer line reads like the server's", async () => {
    const { port } = await chatServer();
    const victim = await ncClient(port);
    const attacker = await ncClient(port);
    for (const fake of [
      "server",
      "SERVER",
      "\u0455erver",
      "ѕеrvеr",
      "𝐬𝐞𝐫𝐯𝐞𝐫",
      "ｓｅｒｖｅｒ",
      "the",
      "netlab",
    ]) {
      expect(await refused(attacker, `/nick ${fake}`, "NICK_INVALID")).toContain("reserved");
    }
    attacker.send("/me server is shutting down");
    await victim.waitFor(`* ${attacker.nick} server is shutting down`);
    expect(victim.lines.join("\n")).not.toContain("known as");
    expectInert(victim);
  }, 20_000);

  it("#13: a room name that looks like an existing room's (case, width, Cyrillic) joins that room", async () => {
    const { port } = await chatServer();
    const a = await ncClient(port);
    const b = await ncClient(port);
    a.send("/join #games");
    await a.waitFor(`* ${a.nick} joined #games`);
    for (const look of ["#GAMES", "#ｇａｍｅｓ", "#g\u0430mes"]) {
      const from = b.lines.length;
      b.send(`/join ${look}`);
      await b.waitFor(`* ${b.nick} joined #games`, { from });
      b.send("/join #lobby");
      await b.waitFor(`* ${b.nick} joined #lobby`, { from });
    }
    b.send("/rooms");
    expect(await b.waitFor("* rooms:")).toBe("* rooms: #games (1), #lobby (1)");
  }, 20_000);
});
