import { parseTokenFile, TokenSet } from "@netlab/core";
import { describe, expect, it, onTestFinished } from "vitest";
import { ChatClient, type ChatEvent, ChatServer, type ChatServerOptions } from "../src/index.js";
import { lineClient } from "./line-client.js";

const RW = "rw-token-0123456789abcdef";
const RO = "ro-token-0123456789abcdef";
const BOB = "bob-token-0123456789abcde";
const tokens = new TokenSet(parseTokenFile(`${RW}\n${RO}:ro\nbob:${BOB}\n`));

/**
 * How long a test server waits for a JSON hello: sent after reading the banner, a round trip
 * through this one busy process, which passed 30 ms at load 13 on 2 cores (see reclaim.test.ts).
 */
const HELLO_GRACE_MS = 2_000;

async function startChat(opts: ChatServerOptions = {}) {
  const server = new ChatServer({
    port: 0,
    helloGraceMs: HELLO_GRACE_MS,
    drainTimeoutMs: 200,
    tokens,
    allowPlaintextAuth: true,
    ...opts,
  });
  const { port } = await server.listen();
  onTestFinished(() => server.close());
  return { server, port };
}

function events(lines: string[]): ChatEvent[] {
  return lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as ChatEvent);
}

describe("ChatServer with tokens", () => {
  it("refuses to start with tokens over plaintext unless allowed (PLAINTEXT_AUTH)", () => {
    expect(() => new ChatServer({ tokens })).toThrow(expect.objectContaining({ code: "PLAINTEXT_AUTH" }));
    expect(() => new ChatServer({ tokens, allowPlaintextAuth: true })).not.toThrow();
  });

  it("refuses a token name that could never be a nick, naming its line", () => {
    const bad = new TokenSet(parseTokenFile("ok-token-0123456789\nno.dots:tok-0123456789abcdef\n"));
    expect(() => new ChatServer({ tokens: bad, allowPlaintextAuth: true })).toThrow(/token file, line 2: /);
  });

  it("JSON mode: hello.token joins; the name binds the nick over hello.nick", async () => {
    const { port } = await startChat();
    const c = await lineClient(port);
    await c.waitFor("[AUTH_REQUIRED]");
    c.send(JSON.stringify({ type: "hello", proto: 1, nick: "mallory", token: BOB }));
    await c.waitFor(/"type":"join"/);
    expect(events(c.lines).find((e) => e.type === "welcome")).toMatchObject({ nick: "bob" });
  });

  it("JSON mode: a hello without a token gets AUTH_REQUIRED and is closed", async () => {
    const { port } = await startChat();
    const c = await lineClient(port);
    await c.waitFor("[AUTH_REQUIRED]");
    c.send(JSON.stringify({ type: "hello", proto: 1 }));
    await c.closed;
    expect(events(c.lines)).toEqual([expect.objectContaining({ type: "error", code: "AUTH_REQUIRED" })]);
  });

  it("cuts a connection that sends no token within authTimeoutMs", async () => {
    const { port } = await startChat({ authTimeoutMs: 200 });
    const c = await lineClient(port);
    await c.closed;
    expect(c.lines.at(-1)).toMatch(/no token within 200 ms, disconnected \[AUTH_REQUIRED\]/);
  });

  it("a server without tokens ignores hello.token", async () => {
    const { port } = await startChat({ tokens: undefined });
    const c = await lineClient(port);
    await c.waitFor("welcome to netlab");
    c.send(JSON.stringify({ type: "hello", proto: 1, token: "anything" }));
    await c.waitFor(/"type":"join"/);
  });
});

describe("ChatClient with a token", () => {
  it("sends the token only to a server that asks, and joins", async () => {
    const { port } = await startChat();
    const client = new ChatClient({ port, token: RW });
    onTestFinished(() => client.close());
    await client.connect();
    await client.settle();
    expect(client.state).toBe("connected");
    expect(client.nick).toMatch(/^guest-/);
  });

  it("asks requestToken when the server wants a token and none was given", async () => {
    const { port } = await startChat();
    let asked = 0;
    const client = new ChatClient({
      port,
      requestToken: async () => {
        asked++;
        return BOB;
      },
    });
    onTestFinished(() => client.close());
    await client.connect();
    await client.settle();
    expect(asked).toBe(1);
    expect(client.nick).toBe("bob");
  });

  it("closes with AUTH_FAILED, and does not reconnect, when the token is refused", async () => {
    const { port } = await startChat();
    const client = new ChatClient({ port, token: "wrong", reconnect: true });
    const closed = new Promise<Error | undefined>((resolve) =>
      client.on("state", (state: string, err?: Error) => {
        if (state === "closed") resolve(err);
      }),
    );
    await client.connect();
    expect(await closed).toMatchObject({ code: "AUTH_FAILED", message: "the server refused the token" });
  });

  it("an ro token's message gets READ_ONLY and reaches no one", async () => {
    const { port } = await startChat();
    const listener = new ChatClient({ port, token: RO });
    const got: ChatEvent[] = [];
    listener.on("event", (e: ChatEvent) => got.push(e));
    onTestFinished(() => listener.close());
    await listener.connect();
    listener.send("let me speak");
    await listener.settle();
    expect(got).toContainEqual(expect.objectContaining({ type: "error", code: "READ_ONLY" }));
    expect(got.some((e) => e.type === "message")).toBe(false);
  });
});
