import net from "node:net";
import { lines } from "@netlab/protocol";
import { describe, expect, it, onTestFinished } from "vitest";
import { dribble } from "../../../test/helpers/slow-peer.js";
import { serve as servePeer } from "../../../test/helpers/tcp.js";
import {
  connect,
  EchoHandler,
  FramedReader,
  type NetworkError,
  StreamRequestHandler,
  TCPServer,
} from "../src/index.js";
import { LineClient, serve, within } from "./helpers.js";

describe("frameTimeoutMs (slowloris)", () => {
  it("#13: cuts a client that dribbles one byte every 200 ms, with an ERR line saying why", async () => {
    const reasons: unknown[] = [];
    class Watched extends EchoHandler {
      override finish() {
        reasons.push(this.signal.reason);
      }
    }
    const { port } = await serve(Watched, { frameTimeoutMs: 500 });
    const client = await LineClient.open(port);
    const start = Date.now();
    const sending = dribble(client.socket, "x".repeat(100), 200);
    expect(await client.readAll(5_000)).toEqual(["ERR line not completed within 500 ms; closing"]);
    const tookMs = Date.now() - start;
    expect(tookMs).toBeGreaterThanOrEqual(450);
    expect(tookMs).toBeLessThan(4_000);
    await within(sending, 5_000, "the dribble to stop");
    expect((reasons[0] as NetworkError).code).toBe("FRAME_TIMEOUT");
    expect((reasons[0] as NetworkError).message).toMatch(/incomplete after 500 ms/);
  });

  it("leaves a client alone that sends whole lines slowly, and one that completes each line in time", async () => {
    // 800 ms, not 300: a line's halves 100 ms apart once came 300 ms apart at load 13 on 2 cores
    // (the server cut it), so the deadline leaves 700 ms for a busy machine.
    const { port } = await serve(EchoHandler, { frameTimeoutMs: 800 });
    const client = await LineClient.open(port);
    // Whole lines with pauses longer than the deadline between them: nothing is pending meanwhile.
    for (const line of ["one", "two", "three"]) {
      client.send(line);
      expect(await client.readLine()).toBe(line);
      await new Promise((r) => setTimeout(r, 900));
    }
    // A line in two halves 100 ms apart, over and over for longer than the deadline: each line
    // completes in time, so each starts its own deadline.
    for (let i = 0; i < 10; i++) {
      client.socket.write(`par${i}`);
      await new Promise((r) => setTimeout(r, 100));
      client.socket.write("t\n");
      expect(await client.readLine()).toBe(`par${i}t`);
    }
    expect(client.isEnded).toBe(false);
  });

  it("counts the bytes of an over-long line that is being dropped as a pending frame", async () => {
    const { port } = await serve(EchoHandler, { frameTimeoutMs: 400 });
    const client = await LineClient.open(port);
    client.socket.write("y".repeat(70 * 1024));
    expect(await client.readLine()).toMatch(/^ERR line of at least \d+ bytes/);
    const sending = dribble(client.socket, "y".repeat(100), 100);
    expect(await client.readAll(5_000)).toEqual(["ERR line not completed within 400 ms; closing"]);
    await within(sending, 5_000, "the dribble to stop");
  });

  it("is off with frameTimeoutMs Infinity, and rejects a negative one", async () => {
    expect(() => new TCPServer({ frameTimeoutMs: -1 }, EchoHandler)).toThrow(/frameTimeoutMs/);
    expect(new TCPServer({}, EchoHandler).options.frameTimeoutMs).toBe(30_000);
    const { port } = await serve(EchoHandler, { frameTimeoutMs: Number.POSITIVE_INFINITY });
    const client = await LineClient.open(port);
    client.socket.write("slow");
    await new Promise((r) => setTimeout(r, 300));
    client.send(" but whole");
    expect(await client.readLine()).toBe("slow but whole");
  });
});

describe("a last line without its newline", () => {
  class Collect extends StreamRequestHandler {
    static lines: string[] = [];
    static ended: Array<() => void> = [];
    override async handle() {
      for await (const line of this.rfile) Collect.lines.push(line);
    }
    override finish() {
      for (const done of Collect.ended.splice(0)) done();
    }
  }

  async function run(end: (socket: net.Socket) => void): Promise<string[]> {
    Collect.lines = [];
    const { port } = await serve(Collect);
    const finished = new Promise<void>((resolve) => Collect.ended.push(resolve));
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    await within(new Promise((r) => socket.once("connect", r)), 5_000, "connect");
    socket.write("complete\npartial");
    // The server holds "partial" in its decoder once it has read "complete": then end.
    await within(
      (async () => {
        while (Collect.lines.length === 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      5_000,
      "the first line to arrive",
    );
    end(socket);
    await within(finished, 5_000, "the handler to finish");
    return Collect.lines;
  }

  it("#13: is delivered after a clean end of input (FIN), as nc users expect", async () => {
    expect(await run((s) => s.end())).toEqual(["complete", "partial"]);
  });

  it("#13: is dropped after a connection reset, never delivered as if it were whole", async () => {
    expect(await run((s) => s.resetAndDestroy())).toEqual(["complete"]);
  });
});

describe("TCPServer option check", () => {
  it("accepts frameTimeoutMs 0 as off", () => {
    expect(new TCPServer({ frameTimeoutMs: 0 }, EchoHandler).options.frameTimeoutMs).toBe(0);
  });
});

describe("frameTimeoutMs on a client's readBytes(n)", () => {
  /** A server that sends `first`, then dribbles one byte each 100 ms; its sockets die with the test. */
  function tricklingServer(first: string): Promise<number> {
    return servePeer((s) => {
      s.write(first);
      const timer = setInterval(() => s.write("z"), 100);
      s.on("close", () => clearInterval(timer));
    });
  }

  it("ends a readBytes(n) whose bytes trickle in, with onFrameTimeout, after frameTimeoutMs", async () => {
    const port = await tricklingServer("abc");
    const socket = await connect({ port });
    onTestFinished(() => {
      socket.destroy();
    });
    let timedOut = 0;
    const reader = new FramedReader(socket, lines(), {
      frameTimeoutMs: 500,
      onFrameTimeout: () => {
        timedOut++;
        socket.destroy();
      },
    });
    const start = Date.now();
    const err = await within(reader.readBytes(1_000), 5_000, "readBytes to end").catch((e: unknown) => e);
    expect(timedOut).toBe(1);
    // Our own destroy cut the read short: it says so, it does not hang or return a short buffer.
    expect((err as Error).message).toMatch(/ of 1000 bytes/);
    expect(Date.now() - start).toBeLessThan(4_000);
  });

  it("leaves a readBytes(n) alone that completes in time, and fires nothing after it", async () => {
    const port = await tricklingServer("abcdef");
    const socket = await connect({ port });
    onTestFinished(() => {
      socket.destroy();
    });
    let timedOut = 0;
    const reader = new FramedReader(socket, lines(), {
      frameTimeoutMs: 400,
      onFrameTimeout: () => timedOut++,
    });
    expect(Buffer.from(await reader.readBytes(8)).toString()).toBe("abcdefzz");
    // Past the deadline the read had started: a finished read leaves no timer behind.
    await new Promise((r) => setTimeout(r, 800));
    expect(timedOut).toBe(0);
  });
});
