import diagnostics from "node:diagnostics_channel";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type ConnectionInfo,
  EchoHandler,
  type PeerAddress,
  StreamRequestHandler,
  TCPServer,
} from "../src/index.js";
import { LineClient, latch, serve, within } from "./helpers.js";

describe("BaseServer hooks", () => {
  it("calls serviceActions every pollInterval while serving, and stops when shut down", async () => {
    let ticks = 0;
    const [threeTicks, reached] = latch();
    class Ticking extends TCPServer {
      override serviceActions() {
        ticks++;
        if (ticks === 3) reached();
      }
    }
    const server = new Ticking({}, EchoHandler);
    const serving = server.serveForever({ pollInterval: 10 });
    await within(threeTicks, 5_000, "three serviceActions ticks");
    await server.shutdown();
    await serving;
    const after = ticks;
    await new Promise((r) => setTimeout(r, 50)); // asserting that nothing more happens
    expect(ticks).toBe(after);
  });

  it("calls serviceActions after each handleRequest", async () => {
    let ticks = 0;
    class Ticking extends TCPServer {
      override serviceActions() {
        ticks++;
      }
    }
    const server = new Ticking({}, EchoHandler);
    onTestFinished(() => server.shutdown());
    await server.listen();
    const client = await LineClient.open(server.address.port);
    client.socket.end("x\n");
    await within(server.handleRequest(), 5_000, "handleRequest");
    expect(ticks).toBe(1);
  });

  it("orders hooks verifyRequest → setup → handle → finish → close event, then handleError for a throw", async () => {
    const calls: string[] = [];
    class Traced extends StreamRequestHandler {
      override setup() {
        calls.push("setup");
      }
      override handle() {
        calls.push("handle");
        throw new Error("nope");
      }
      override finish() {
        calls.push("finish");
      }
    }
    class Server extends TCPServer {
      override verifyRequest(_peer: PeerAddress) {
        calls.push("verifyRequest");
        return true;
      }
      override handleError(err: unknown) {
        calls.push(`handleError ${(err as Error).message}`);
      }
    }
    const { server, port } = await serve(Traced, {}, Server);
    server.on("open", () => calls.push("open"));
    const closed = new Promise<void>((r) =>
      server.on("close", () => {
        calls.push("close");
        r();
      }),
    );
    const client = await LineClient.open(port);
    await within(closed, 5_000, "close");
    expect(calls).toEqual([
      "verifyRequest",
      "open",
      "setup",
      "handle",
      "finish",
      "handleError nope",
      "close",
    ]);
    client.socket.destroy();
  });

  it("reports a handler whose constructor throws, closes that connection and keeps serving", async () => {
    let calls = 0;
    class Fragile extends EchoHandler {
      constructor(...args: ConstructorParameters<typeof EchoHandler>) {
        super(...args);
        calls++;
        if (calls === 1) throw new Error("constructor failed");
      }
    }
    const errors: string[] = [];
    class Server extends TCPServer {
      override handleError(err: unknown) {
        errors.push((err as Error).message);
      }
    }
    const { port } = await serve(Fragile, {}, Server);
    const first = await LineClient.open(port);
    expect(await first.readLine()).toBeUndefined();
    const second = await LineClient.open(port);
    second.send("still serving");
    expect(await second.readLine()).toBe("still serving");
    expect(errors).toEqual(["constructor failed"]);
  });

  it("emits error with the peer and prints nothing when someone listens", async () => {
    class Faulty extends StreamRequestHandler {
      override handle() {
        throw new Error("bad handler");
      }
    }
    const { server, port } = await serve(Faulty);
    const seen = new Promise<[unknown, PeerAddress | undefined]>((r) =>
      server.on("error", (err, peer) => r([err, peer])),
    );
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await LineClient.open(port);
      const [err, peer] = await within(seen, 5_000, "error event");
      expect((err as Error).message).toBe("bad handler");
      expect(peer?.address).toBe("127.0.0.1");
    } finally {
      process.stderr.write = write;
    }
    expect(writes.filter((w) => w.includes("bad handler"))).toEqual([]);
  });

  it("gives the log option one line from the default handleError when nobody listens", async () => {
    class Faulty extends StreamRequestHandler {
      override handle() {
        throw new Error("bad handler");
      }
    }
    const lines: string[] = [];
    const { server, port } = await serve(Faulty, { log: (line) => lines.push(line) });
    const closed = new Promise((r) => server.once("close", r));
    const client = await LineClient.open(port);
    const localPort = client.socket.localPort;
    await within(closed, 5_000, "close");
    expect(lines).toEqual([`netlab: error handling request from 127.0.0.1:${localPort}: bad handler`]);
  });

  it("never prints: without a log option a handler's error goes nowhere", async () => {
    class Faulty extends StreamRequestHandler {
      override handle() {
        throw new Error("bad handler");
      }
    }
    const { server, port } = await serve(Faulty);
    const closed = new Promise((r) => server.once("close", r));
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => {
      writes.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await LineClient.open(port);
      await within(closed, 5_000, "close");
      expect(writes).toEqual([]);
    } finally {
      process.stderr.write = write;
    }
  });
});

describe("diagnostics_channel", () => {
  it("publishes each connection's open and close on netlab:server:connection", async () => {
    const seen: Array<{ id: number; closed: boolean }> = [];
    const onMessage = (message: unknown) => {
      const m = message as { info: ConnectionInfo; closed?: boolean };
      seen.push({ id: m.info.id, closed: m.closed === true });
    };
    diagnostics.subscribe("netlab:server:connection", onMessage);
    onTestFinished(() => {
      diagnostics.unsubscribe("netlab:server:connection", onMessage);
    });
    const { server, port } = await serve(EchoHandler);
    const closed = new Promise<ConnectionInfo>((r) => server.once("close", r));
    const client = await LineClient.open(port);
    client.socket.end();
    const info = await within(closed, 5_000, "close");
    expect(seen).toEqual([
      { id: info.id, closed: false },
      { id: info.id, closed: true },
    ]);
  });
});

describe("the request queue before serving", () => {
  it("holds up to requestQueueSize connections and closes the next, like a full backlog", async () => {
    const server = new TCPServer({ requestQueueSize: 2 }, EchoHandler);
    onTestFinished(() => server.shutdown());
    await server.listen();
    const port = server.address.port;
    const a = await LineClient.open(port);
    const b = await LineClient.open(port);
    const c = await LineClient.open(port);
    expect(await c.readAll()).toEqual([]);
    void server.serveForever();
    a.send("a");
    b.send("b");
    expect(await a.readLine()).toBe("a");
    expect(await b.readLine()).toBe("b");
  });
});
