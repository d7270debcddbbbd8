import net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  ChatClient,
  type ChatEvent,
  ChatServer,
  type ClientState,
  chatChannel,
  type Reconnected,
  type WireChunk,
} from "../src/index.js";
import { lineClient } from "./line-client.js";

/**
 * How long a test server waits for a JSON hello. The ChatClients here send theirs after reading the
 * banner, a round trip through this one busy process: at load 13 on 2 cores that passed 30 ms and
 * alice joined as a guest, renamed. Raw text clients send a first line to join at once instead.
 */
const HELLO_GRACE_MS = 2_000;

async function startChat() {
  const server = new ChatServer({ port: 0, helloGraceMs: HELLO_GRACE_MS, drainTimeoutMs: 200 });
  const address = await server.listen();
  onTestFinished(() => server.close());
  return { server, port: address.port };
}

/** Waits until `check()` is true, polling each 5 ms, for at most `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A relay between clients and the server whose `cut()` kills every connection the way a dead link
 * or a NAT box does: the client gets a reset, and the server nothing at all (no FIN, no RST; what it
 * sends is read and dropped), so it still holds the session. `upstream` collects what the server
 * sent on each cut connection afterwards, and whether it closed it.
 */
async function deadLinkRelay(serverPort: number) {
  const pairs: { client: net.Socket; up: net.Socket }[] = [];
  const cutOff: { after: string; closed: boolean }[] = [];
  const relay = net.createServer((client) => {
    const up = net.connect({ host: "127.0.0.1", port: serverPort });
    client.on("error", () => {});
    up.on("error", () => {});
    client.pipe(up);
    up.pipe(client);
    pairs.push({ client, up });
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    for (const p of pairs) {
      p.client.destroy();
      p.up.destroy();
    }
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return {
    port: (relay.address() as net.AddressInfo).port,
    cutOff,
    cut(): void {
      for (const { client, up } of pairs.splice(0)) {
        client.unpipe(up);
        up.unpipe(client);
        const seen = { after: "", closed: false };
        cutOff.push(seen);
        up.on("data", (d: Buffer) => {
          seen.after += d.toString("utf8");
        });
        up.on("close", () => {
          seen.closed = true;
        });
        up.resume();
        client.resetAndDestroy();
      }
    },
  };
}

describe("reclaim tokens: a nick back at once after a reconnect", () => {
  it("a client whose connection died without a FIN reconnects and has its nick within 2 s; the old session is closed with NICK_RECLAIMED and the room sees one leave and one join", async () => {
    const { server, port } = await startChat();
    const relay = await deadLinkRelay(port);
    const observer = await lineClient(port, { timeoutMs: 5_000 });
    observer.send(""); // any first line joins at once
    await observer.waitFor(/^\* guest-\d+ joined #lobby$/);

    const client = new ChatClient({ port: relay.port, nick: "alice", reconnect: true, reconnectDelayMs: 20 });
    onTestFinished(() => client.close());
    const events: ChatEvent[] = [];
    client.on("event", (e: ChatEvent) => events.push(e));
    const reconnects: Reconnected[] = [];
    client.on("reconnected", (r: Reconnected) => reconnects.push(r));
    await client.connect();
    await observer.waitFor("* alice joined #lobby");
    expect(server.hub.size).toBe(2);

    const cutAt = Date.now();
    relay.cut();
    await until(() => reconnects.length === 1, "the reconnect");
    await until(
      () => events.filter((e) => e.type === "join" && e.nick === "alice").length === 2,
      "alice's second join",
      2_000,
    );
    expect(Date.now() - cutAt).toBeLessThan(2_000);
    expect(client.nick).toBe("alice");
    // The welcome of the new connection names alice: the nick came back before the room's history.
    const welcomes = events.filter((e) => e.type === "welcome");
    expect(welcomes.map((w) => w.type === "welcome" && w.nick)).toEqual(["alice", "alice"]);
    // No error on the way (no NICK_TAKEN), and the token never reaches the caller.
    expect(events.filter((e) => e.type === "error")).toEqual([]);
    expect(JSON.stringify(events)).not.toContain('"reclaim"');

    // The old session: told why (in JSON, what its client would have read), then closed by the server.
    await until(() => relay.cutOff[0]?.closed === true, "the old session's close", 2_000);
    expect(relay.cutOff[0]?.after).toContain('"code":"NICK_RECLAIMED"');
    expect(relay.cutOff[0]?.after).toContain("your nick was reclaimed by a new connection");
    expect(server.hub.size).toBe(2);

    await observer.waitFor("* alice joined #lobby", {
      from: observer.lines.indexOf("* alice joined #lobby") + 1,
    });
    const about = observer.lines.filter((l) => l.includes("alice"));
    expect(about).toEqual([
      "* alice joined #lobby",
      "* alice left #lobby (reclaimed by a new connection)",
      "* alice joined #lobby",
    ]);
    observer.send("/who");
    expect(await observer.waitFor(/^\* in #lobby:/)).toMatch(
      /^\* in #lobby: (alice, guest-\d+|guest-\d+, alice)$/,
    );
  });

  it("a wrong token gets the same NICK_TAKEN as none, a token over 64 characters BAD_MESSAGE; the holder stays", async () => {
    const { server, port } = await startChat();
    const alice = await lineClient(port, { timeoutMs: 5_000 });
    await alice.waitFor("netlab chat/1");
    alice.send(JSON.stringify({ type: "hello", proto: 1, nick: "alice" }));
    const welcome = JSON.parse(await alice.waitFor(/"type":"welcome"/)) as { nick: string; reclaim: string };
    expect(welcome.nick).toBe("alice");
    expect(welcome.reclaim).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const granted = { token: welcome.reclaim };

    const errorOf = async (hello: object) => {
      const c = await lineClient(port, { timeoutMs: 5_000 });
      await c.waitFor("netlab chat/1");
      c.send(JSON.stringify(hello));
      const e = JSON.parse(await c.waitFor(/"type":"error"/)) as { code: string; message: string };
      expect(c.lines.some((l) => l.includes('"reclaim"'))).toBe(false); // a guest gets none
      return e;
    };
    const none = await errorOf({ type: "hello", proto: 1, nick: "alice" });
    const wrong = await errorOf({
      type: "hello",
      proto: 1,
      nick: "alice",
      reclaim: `${granted.token.slice(0, -1)}${granted.token.endsWith("x") ? "y" : "x"}`,
    });
    expect(wrong).toEqual(none);
    expect(wrong.code).toBe("NICK_TAKEN");
    const long = await errorOf({ type: "hello", proto: 1, nick: "alice", reclaim: "x".repeat(65) });
    expect(long.code).toBe("BAD_MESSAGE");
    expect(long.message).toContain("at most 64 characters");
    alice.send(JSON.stringify({ type: "ping", id: "still-here" }));
    await alice.waitFor(/"id":"still-here"/);
    expect(server.hub.peers().filter((p) => p.nick === "alice")).toHaveLength(1);
  });

  it("the token changes with each grant, reaches only its holder, and is in no room line, /who, hub event or chat channel", async () => {
    const { server, port } = await startChat();
    const heard: unknown[] = [];
    for (const name of ["join", "leave", "nick", "message", "connect", "disconnect"]) {
      server.hub.on(name, (...args: unknown[]) => heard.push(args));
    }
    const tap = (m: unknown) => heard.push(m);
    chatChannel.subscribe(tap);
    onTestFinished(() => chatChannel.unsubscribe(tap));
    const observer = await lineClient(port, { timeoutMs: 5_000 });
    observer.send(""); // any first line joins at once
    await observer.waitFor(/joined #lobby$/);

    const bob = await lineClient(port, { timeoutMs: 5_000 });
    await bob.waitFor("netlab chat/1");
    bob.send(JSON.stringify({ type: "hello", proto: 1, nick: "bob" }));
    const first = {
      token: (JSON.parse(await bob.waitFor(/"type":"welcome"/)) as { reclaim: string }).reclaim,
    };
    bob.send(JSON.stringify({ type: "nick", nick: "bob2" }));
    const renamed = JSON.parse(await bob.waitFor(/"type":"nick"/)) as { to: string; reclaim: string };
    expect(renamed.to).toBe("bob2");
    const second = { token: renamed.reclaim };
    expect(second.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(second.token).not.toBe(first.token);
    // The old nick's token reclaims nothing now.
    bob.send(JSON.stringify({ type: "who" }));
    await bob.waitFor(/"type":"who"/);
    observer.send("/who");
    await observer.waitFor(/^\* in #lobby: /);
    await observer.waitFor("* bob is now known as bob2");

    const everything = [...observer.lines, JSON.stringify(heard)].join("\n");
    for (const t of [first.token, second.token]) expect(everything).not.toContain(t);
    // The holder got each token once.
    expect(bob.lines.filter((l) => l.includes('"reclaim"'))).toHaveLength(2);

    // A reconnect with the first token (granted for bob) cannot take bob2.
    const thief = await lineClient(port, { timeoutMs: 5_000 });
    await thief.waitFor("netlab chat/1");
    thief.send(JSON.stringify({ type: "hello", proto: 1, nick: "bob2", reclaim: first.token }));
    expect(await thief.waitFor(/"type":"error"/)).toContain("NICK_TAKEN");
  });

  it("a ChatClient whose nick another connection reclaimed with its token closes with NICK_RECLAIMED and does not reconnect (no tug of war)", async () => {
    const { port } = await startChat();
    const client = new ChatClient({
      port,
      nick: "carol",
      reconnect: true,
      reconnectDelayMs: 20,
      redact: false,
    });
    onTestFinished(() => client.close());
    // The raw bytes, unredacted, are the one place a caller can see the token.
    let heard = "";
    client.on("wire", (w: WireChunk) => {
      if (w.direction === "in") heard += Buffer.from(w.bytes).toString("utf8");
    });
    const states: [ClientState, string | undefined][] = [];
    client.on("state", (state: ClientState, err?: { code?: string }) => states.push([state, err?.code]));
    await client.connect();
    await until(() => /"reclaim":"[^"]+"/.test(heard), "carol's welcome");
    const token = /"reclaim":"([^"]+)"/.exec(heard)?.[1] ?? "";

    const other = await lineClient(port, { timeoutMs: 5_000 });
    await other.waitFor("netlab chat/1");
    other.send(JSON.stringify({ type: "hello", proto: 1, nick: "carol", reclaim: token }));
    expect(await other.waitFor(/"type":"welcome"/)).toContain('"nick":"carol"');
    await until(() => client.state === "closed", "the client's close");
    expect(states.at(-1)).toEqual(["closed", "NICK_RECLAIMED"]);
    expect(states.some(([state]) => state === "reconnecting")).toBe(false);
  });

  it("onReclaim tells each granted token; a new ChatClient given it as reclaimToken takes the nick from a dead session at once", async () => {
    const { port } = await startChat();
    const relay = await deadLinkRelay(port);
    const grants: { nick: string; token: string }[] = [];
    const first = new ChatClient({ port: relay.port, nick: "alice", onReclaim: (g) => grants.push(g) });
    onTestFinished(() => first.close());
    const firstEvents: ChatEvent[] = [];
    first.on("event", (e: ChatEvent) => firstEvents.push(e));
    await first.connect();
    await until(() => grants.length === 1, "the first grant");
    expect(grants[0]?.nick).toBe("alice");
    expect(grants[0]?.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(JSON.stringify(firstEvents)).not.toContain(grants[0]?.token);
    relay.cut();
    await until(() => first.state === "closed", "the first client's close");

    const later: { nick: string; token: string }[] = [];
    const second = new ChatClient({
      port,
      nick: "alice",
      reclaimToken: grants[0]?.token,
      onReclaim: (g) => later.push(g),
    });
    onTestFinished(() => second.close());
    await second.connect();
    await until(() => later.length === 1, "the second grant");
    expect(second.nick).toBe("alice");
    expect(later[0]?.token).not.toBe(grants[0]?.token);
    await until(() => relay.cutOff[0]?.closed === true, "the old session's close");
    expect(relay.cutOff[0]?.after).toContain('"code":"NICK_RECLAIMED"');
  });
});
