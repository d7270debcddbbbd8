import net from "node:net";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { serve } from "../../../test/helpers/tcp.js";
import {
  ChatClient,
  type ChatEvent,
  ChatServer,
  type ClientState,
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

async function startChat(port = 0) {
  const server = new ChatServer({ port, helloGraceMs: HELLO_GRACE_MS, drainTimeoutMs: 200 });
  const address = await server.listen();
  onTestFinished(() => server.close());
  return { server, port: address.port };
}

function newClient(
  port: number,
  nick?: string,
  extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {},
) {
  const client = new ChatClient({ port, nick, ...extra });
  const events: ChatEvent[] = [];
  const lines: string[] = [];
  client.on("event", (e: ChatEvent) => events.push(e));
  client.on("line", (l: string) => lines.push(l));
  onTestFinished(() => client.close());
  return { client, events, lines };
}

/** Waits until `check()` is true, polling each 5 ms, for at most `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A plain line server that records every byte it gets and answers `echo: LINE`. */
async function plainServer(greeting?: string) {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    if (greeting) socket.write(`${greeting}\n`);
    let rest = "";
    socket.on("data", (d) => {
      received.push(d);
      const parts = (rest + d.toString("utf8")).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) socket.write(`echo: ${p}\n`);
    });
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  return { port, received: () => Buffer.concat(received).toString("utf8") };
}

describe("ChatClient against a netlab chat server", () => {
  it("upgrades to JSON mode, gets its nick and room, and talks to text clients", async () => {
    const { port } = await startChat();
    const text = await lineClient(port);
    text.send(""); // any first line joins at once
    await text.waitFor("joined #lobby");
    const { client, events } = newClient(port, "alice");
    await client.connect();
    await until(() => client.room === "#lobby", "the join");
    expect(client.mode).toBe("json");
    expect(client.nick).toBe("alice");
    client.send("hello text world");
    await text.waitFor("<alice> hello text world");
    text.send("hi alice");
    await until(() => events.some((e) => e.type === "message" && e.text === "hi alice"), "the reply");
  });

  it("still upgrades when the event loop was busy past detectMs while the banner arrived", async () => {
    const { port } = await startChat();
    const { client } = newClient(port, undefined, { detectMs: 20 });
    await client.connect();
    const start = Date.now();
    while (Date.now() - start < 200) {
      // Busy, as a first Ink render can be: the banner and the detect timer are both due.
    }
    await until(() => client.mode !== "unknown", "a decision");
    expect(client.mode).toBe("json");
  });

  it("turns typed commands into JSON commands and tracks nick changes", async () => {
    const { port } = await startChat();
    const { client, events } = newClient(port, "alice");
    await client.connect();
    client.send("/nick alicia");
    client.send("/join #side");
    client.send("/who");
    await client.settle();
    expect(client.nick).toBe("alicia");
    expect(client.room).toBe("#side");
    expect(events.find((e) => e.type === "who")).toEqual({ type: "who", room: "#side", nicks: ["alicia"] });
  });

  it("reports a mistyped command as a local error event without sending it", async () => {
    const { port } = await startChat();
    const { client, events } = newClient(port);
    await client.connect();
    client.send("/msg");
    await until(() => events.some((e) => e.type === "error"), "the error");
    expect(events.find((e) => e.type === "error")).toMatchObject({ code: "BAD_ARGUMENTS" });
  });

  it("settle() resolves once the server answered everything sent before it", async () => {
    const { port } = await startChat();
    const { client, events } = newClient(port);
    await client.connect();
    for (let i = 0; i < 10; i++) client.send(`n${i}`);
    await client.settle();
    expect(events.filter((e) => e.type === "message").map((e) => (e as { text: string }).text)).toEqual(
      Array.from({ length: 10 }, (_, i) => `n${i}`),
    );
  });

  it("paces its lines under the flood limit the server announced, so a long script is not cut off", async () => {
    const server = new ChatServer({
      port: 0,
      helloGraceMs: HELLO_GRACE_MS,
      drainTimeoutMs: 200,
      floodMessages: 10,
      floodWindowMs: 300,
    });
    const { port } = await server.listen();
    onTestFinished(() => server.close());
    const { client, events } = newClient(port);
    await client.connect();
    for (let i = 0; i < 24; i++) client.send(`line ${i}`);
    await client.settle();
    expect(client.state).toBe("connected");
    const texts = events.filter((e) => e.type === "message").map((e) => (e as { text: string }).text);
    expect(texts).toEqual(Array.from({ length: 24 }, (_, i) => `line ${i}`));
    expect(events.some((e) => e.type === "notice" && e.kind === "warning")).toBe(false);
  });

  it("emits the raw bytes it reads and writes as wire chunks", async () => {
    const { port } = await startChat();
    const { client } = newClient(port);
    const wire: WireChunk[] = [];
    client.on("wire", (w: WireChunk) => wire.push(w));
    await client.connect();
    await client.settle();
    const text = (d: "in" | "out") =>
      Buffer.concat(wire.filter((w) => w.direction === d).map((w) => w.bytes)).toString("utf8");
    expect(text("in")).toContain("netlab chat/1");
    expect(text("out")).toContain('{"type":"hello","proto":1}');
  });

  it("masks its reclaim token in wire chunks (one * a byte), unless redact is false", async () => {
    const { port } = await startChat();
    const heard = async (extra: { redact?: boolean }) => {
      const { client } = newClient(port, `nick${extra.redact === false ? "b" : "a"}`, extra);
      let text = "";
      client.on("wire", (w: WireChunk) => {
        if (w.direction === "in") text += Buffer.from(w.bytes).toString("utf8");
      });
      await client.connect();
      await client.settle();
      client.close();
      return text;
    };
    expect(await heard({})).toMatch(/"reclaim":"\*{32}"/);
    expect(await heard({ redact: false })).toMatch(/"reclaim":"[A-Za-z0-9_-]{32}"/);
  });

  it("reconnects with backoff when the server restarts on the same port, back in its room under its nick", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const first = new ChatServer({ port, helloGraceMs: HELLO_GRACE_MS, drainTimeoutMs: 200 });
    await first.listen();
    const { client, events } = newClient(port, "alice", { reconnect: true, reconnectDelayMs: 20 });
    const states: ClientState[] = [];
    client.on("state", (s: ClientState) => states.push(s));
    const reconnects: Reconnected[] = [];
    client.on("reconnected", (r: Reconnected) => reconnects.push(r));
    await client.connect();
    client.send("/join #ops");
    await until(() => client.room === "#ops", "the join to #ops");
    await first.close();
    await until(() => client.state === "reconnecting", "the drop");
    const { server } = await startChat(port);
    await until(() => reconnects.length === 1, "the reconnect");
    expect(reconnects).toEqual([{ from: `127.0.0.1:${port}`, to: `127.0.0.1:${port}`, room: "#ops" }]);
    // The new server has the client in #ops at once: no visit to #lobby on the way.
    await until(
      () => events.filter((e) => e.type === "join" && e.room === "#ops").length === 2,
      "the rejoin",
    );
    expect(client.nick).toBe("alice");
    expect(server.hub.rooms()).toEqual([{ name: "#ops", clients: 1 }]);
    expect(states).toContain("reconnecting");
  });
});

describe("ChatClient against other servers", () => {
  it("stays plain against a server that does not announce netlab chat/1, sending only what it is given", async () => {
    const plain = await plainServer("+OK some other server");
    const { client, lines } = newClient(plain.port, "alice");
    await client.connect();
    client.send("hello");
    client.send("/join #x");
    await client.settle();
    expect(client.mode).toBe("plain");
    expect(plain.received()).toBe("hello\n/join #x\n");
    expect(lines).toEqual(["+OK some other server", "echo: hello", "echo: /join #x"]);
  });

  it("treats a silent server as plain after detectMs, and sends queued input then", async () => {
    const plain = await plainServer();
    const { client, lines } = newClient(plain.port, undefined, { detectMs: 50 });
    await client.connect();
    client.send("first");
    await client.settle({ quietMs: 100 });
    expect(plain.received()).toBe("first\n");
    expect(lines).toEqual(["echo: first"]);
  });

  it("drained() waits while a server that stopped reading leaves the socket's buffer full", async () => {
    let peer: net.Socket | undefined;
    const server = net.createServer((socket) => {
      peer = socket;
      socket.pause(); // takes nothing until the test says so
      socket.write("+OK a server that will stop reading\n");
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => {
      peer?.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const { client, lines } = newClient((server.address() as net.AddressInfo).port);
    await client.connect();
    await until(() => lines.length > 0, "the banner");
    const line = "x".repeat(64 * 1024);
    // More than the kernel's buffers on both ends hold: some of it must wait in the client.
    for (let i = 0; i < 256; i++) client.send(line);
    let isDrained = false;
    const drained = client.drained().then(() => {
      isDrained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(isDrained).toBe(false);
    peer?.resume();
    await drained;
    expect(client.state).toBe("connected");
    await client.close();
    await client.drained(); // closed: at once
  });

  it("#16: connect() goes on to the next failover address when the first does not answer", async () => {
    const down = await getPort({ host: "127.0.0.1" });
    const { port } = await startChat();
    const { client } = newClient(down, "fay", { failover: [{ port }] });
    await client.connect();
    expect(client.port).toBe(port);
    await until(() => client.room === "#lobby", "the join");
    const none = new ChatClient({ port: down, failover: [{ port: down }] });
    const err = await none.connect().then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string },
    );
    expect(err?.code).toBe("CONNECTION_REFUSED");
    expect(err?.message).toBe(`cannot connect to 127.0.0.1:${down}: connection refused`);
  });

  it("rejects connect() with CONNECTION_REFUSED and a hint when nothing listens", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const client = new ChatClient({ port });
    const err = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({
      code: "CONNECTION_REFUSED",
      message: `cannot connect to 127.0.0.1:${port}: connection refused`,
      hint: "is 'lab server' running?",
    });
    expect(client.state).toBe("closed");
  });
});

describe("a stall and close() in the same turn", () => {
  it("close() right after the stall cut still reports STALLED, not a clean close", async () => {
    const port = await serve(() => {}, net.createServer({ allowHalfOpen: true }));
    const client = new ChatClient({ port, stallTimeoutMs: 50, detectMs: 10 });
    const closes: (string | undefined)[] = [];
    client.on("state", (state: ClientState, err?: { code?: string }) => {
      if (state === "closed") closes.push(err?.code);
    });
    await client.connect();
    await until(() => client.mode === "plain", "plain mode");
    client.send("hello?");
    // Same duration, created after the stall timer: fires right after it, before the socket's
    // "close" event, as a busy event loop can order them.
    await new Promise<void>((resolve) => setTimeout(() => void client.close().then(resolve), 50));
    expect(closes[0]).toBe("STALLED");
    await until(() => client.state === "closed", "closed");
    expect(closes).toEqual(["STALLED"]);
  });
});

describe("a server that starts a line and never ends it", () => {
  /** A server that sends the netlab banner, then `then` on the same socket; closed at test end. */
  async function hostile(then: (socket: net.Socket) => void) {
    return serve(
      (s) => {
        s.write("* welcome to netlab chat/1\n");
        then(s);
      },
      net.createServer({ allowHalfOpen: true }),
    );
  }

  async function closedWith(port: number, frameTimeoutMs: number) {
    const client = new ChatClient({ port, frameTimeoutMs, maxLineBytes: 4096 });
    onTestFinished(() => client.close());
    let closedBy: { code?: string; message?: string } | undefined;
    client.on("state", (state: ClientState, err?: { code?: string; message?: string }) => {
      if (state === "closed") closedBy = err ?? {};
    });
    client.on("event", () => {});
    await client.connect();
    await until(() => closedBy !== undefined, "the client to give up", 15_000);
    return closedBy;
  }

  it("closes with STALLED when the welcome trickles in a byte at a time for frameTimeoutMs", async () => {
    const port = await hostile((s) => {
      const timer = setInterval(() => s.write("{"), 100);
      s.on("close", () => clearInterval(timer));
    });
    const started = Date.now();
    const err = await closedWith(port, 1_000);
    expect(err).toMatchObject({ code: "STALLED" });
    expect(err?.message).toMatch(/sent part of a line and no end to it in 1 s/);
    // Each byte came well inside the 10 s stall timeout: only the line timeout ended it.
    expect(Date.now() - started).toBeLessThan(9_000);
  }, 20_000);

  it("closes with STALLED when the server sends an endless line, past maxLineBytes", async () => {
    const port = await hostile((s) => {
      const chunk = Buffer.alloc(16 * 1024, 0x61);
      const pump = () => {
        while (!s.destroyed && s.write(chunk));
      };
      s.on("drain", pump);
      pump();
    });
    const err = await closedWith(port, 1_000);
    expect(err).toMatchObject({ code: "STALLED" });
  }, 20_000);
});

describe("a server that greets and then reads nothing", () => {
  it("closes with STALLED once what we sent sits unread for stallTimeoutMs", async () => {
    const port = await serve(
      (s) => {
        // A plain line server's greeting: from then on it owes us nothing, and it reads nothing.
        s.write("hello there\n");
        s.pause();
      },
      net.createServer({ allowHalfOpen: true }),
    );
    const client = new ChatClient({ port, stallTimeoutMs: 1_000, detectMs: 50 });
    onTestFinished(() => client.close());
    let closedBy: { code?: string; message?: string } | undefined;
    client.on("state", (state: ClientState, err?: { code?: string; message?: string }) => {
      if (state === "closed") closedBy = err ?? {};
    });
    client.on("line", () => {});
    await client.connect();
    await until(() => client.mode === "plain", "plain mode");
    // More than the kernel's buffers on both sides hold, a line at a time as lab client sends them.
    const line = "x".repeat(64 * 1024);
    for (let i = 0; i < 1_000 && client.state === "connected"; i++) {
      client.send(line);
      await Promise.race([client.drained(), new Promise((r) => setTimeout(r, 50))]);
    }
    await until(() => closedBy !== undefined, "the client to give up", 15_000);
    expect(closedBy).toMatchObject({ code: "STALLED" });
    expect(closedBy?.message).toMatch(/read nothing of what we sent in 1 s/);
  }, 30_000);
});

describe("a server that announces an absurd flood limit", () => {
  it("paces to maxPaceWindowMs at most: lines are not parked for the window it announced", async () => {
    const received: string[] = [];
    const port = await serve((s) => {
      s.write("* netlab chat/1 — welcome\n");
      let rest = "";
      s.setEncoding("utf8").on("data", (d: string) => {
        const parts = (rest + d).split("\n");
        rest = parts.pop() ?? "";
        for (const line of parts) {
          const m = JSON.parse(line) as { type: string; text?: string };
          if (m.type === "hello") {
            // One message a day: paced to that, the second line would wait 24 hours.
            const limits = { floodMessages: 1, floodWindowMs: 86_400_000 };
            s.write(
              `${JSON.stringify({ type: "welcome", proto: 1, server: "x", nick: "eve", room: "#lobby", text: "hi", limits })}\n`,
            );
          } else if (m.type === "message") {
            received.push(m.text ?? "");
          }
        }
      });
    });
    const { client } = newClient(port, "eve", { maxPaceWindowMs: 500, stallTimeoutMs: Infinity });
    await client.connect();
    client.send("one");
    client.send("two");
    // One is sent now, two once the capped window passes (1.1 × 500 ms), not a day later.
    await until(() => received.length === 2, "both lines to arrive", 10_000);
    expect(received).toEqual(["one", "two"]);
  }, 20_000);
});

describe("a plain line server that leaves a prompt unended", () => {
  it("is not cut by frameTimeoutMs: a person may take their time to answer a prompt", async () => {
    const port = await serve(
      (s) => {
        s.write("Name: ");
      },
      net.createServer({ allowHalfOpen: true }),
    );
    const { client } = newClient(port, undefined, { frameTimeoutMs: 300, detectMs: 50 });
    await client.connect();
    await until(() => client.mode === "plain", "plain mode");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(client.state).toBe("connected");
  }, 10_000);
});
