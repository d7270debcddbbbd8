import net from "node:net";
import { lines, type ProtocolError } from "@netlab/protocol";
import { describe, expect, it } from "vitest";
import { type ConnectionInfo, FramedReader, StreamRequestHandler, TCPServer } from "../src/index.js";
import { LineClient, serve, within } from "./helpers.js";

/** Upper-cases each line; `quit` ends the connection, `boom` throws. */
class UpperFrames extends StreamRequestHandler {
  static finished = 0;
  protected override handleFrame(line: string): boolean | Promise<void> | undefined {
    if (line === "quit") return false;
    if (line === "boom") throw new Error("boom from handleFrame");
    return this.wfile.write(`${line.toUpperCase()}\n`);
  }
  override finish(): void {
    UpperFrames.finished++;
  }
}

describe("StreamRequestHandler.handleFrame", () => {
  it("gets every line in order: those that arrived together, and one after an idle wait", async () => {
    const { port } = await serve(UpperFrames);
    const c = await LineClient.open(port);
    c.socket.write("a\nb\nc\n");
    expect([await c.readLine(), await c.readLine(), await c.readLine()]).toEqual(["A", "B", "C"]);
    c.send("later");
    expect(await c.readLine()).toBe("LATER");
  }, 10_000);

  it("holds the next line until the promise it returned settles, so replies keep their order", async () => {
    class Slow extends StreamRequestHandler {
      protected override handleFrame(line: string): Promise<void> {
        // The first line's answer comes late; the second must still follow it.
        const ms = line === "first" ? 100 : 0;
        return new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() =>
          this.wfile.write(`${line} done\n`),
        );
      }
    }
    const { port } = await serve(Slow);
    const c = await LineClient.open(port);
    c.socket.write("first\nsecond\n");
    expect([await c.readLine(), await c.readLine()]).toEqual(["first done", "second done"]);
  }, 10_000);

  it("ends the connection when it returns false, and at the end of the input; finish() runs", async () => {
    const { server, port } = await serve(UpperFrames);
    const closes: ConnectionInfo[] = [];
    server.on("close", (info: ConnectionInfo) => closes.push(info));
    const before = UpperFrames.finished;
    const a = await LineClient.open(port);
    a.socket.write("x\nquit\nnot read\n");
    expect(await a.readAll()).toEqual(["X"]);
    const b = await LineClient.open(port);
    b.socket.end("y\n");
    expect(await b.readAll()).toEqual(["Y"]);
    await within(
      (async () => {
        while (closes.length < 2) await new Promise((r) => server.once("close", r));
      })(),
      5_000,
      "both connections closed",
    );
    expect(closes.map((i) => i.closeReason)).toEqual(["closed", "closed"]);
    expect(UpperFrames.finished - before).toBe(2);
  }, 10_000);

  it("reports what it throws as handle() throwing would be, and closes that connection only", async () => {
    const { server, port } = await serve(UpperFrames);
    const reported = new Promise<unknown>((resolve) => server.once("error", resolve));
    const bad = await LineClient.open(port);
    const good = await LineClient.open(port);
    bad.send("boom");
    expect(await bad.readAll()).toEqual([]);
    // Reported once the connection is closed, as for handle().
    expect(((await within(reported, 5_000, "the error event")) as Error).message).toBe(
      "boom from handleFrame",
    );
    good.send("still here");
    expect(await good.readLine()).toBe("STILL HERE");
  }, 10_000);

  it("passes bad frames to onProtocolError and goes on with the next line", async () => {
    class Short extends UpperFrames {
      protected override createDecoder() {
        return lines({ maxLineBytes: 8 });
      }
      protected override async onProtocolError(err: ProtocolError): Promise<void> {
        await this.wfile.write(`ERR ${err.code}\n`);
      }
    }
    const { port } = await serve(Short);
    const c = await LineClient.open(port);
    c.socket.write("much too long a line\nok\n");
    expect([await c.readLine(), await c.readLine()]).toEqual(["ERR FRAME_TOO_LARGE", "OK"]);
  }, 10_000);

  it("ends idle connections at shutdown", async () => {
    const { server, port } = await serve(UpperFrames);
    const before = UpperFrames.finished;
    const c = await LineClient.open(port);
    c.send("hi");
    expect(await c.readLine()).toBe("HI");
    await within(server.shutdown(), 5_000, "shutdown");
    expect(await c.readAll()).toEqual([]);
    expect(UpperFrames.finished - before).toBe(1);
    expect(server.connections.size).toBe(0);
  }, 10_000);

  it("is run to its end by handleRequest()", async () => {
    const server = new TCPServer({}, UpperFrames);
    await server.listen();
    const c = await LineClient.open(server.address.port);
    c.socket.end("one\n");
    await within(server.handleRequest(), 5_000, "handleRequest");
    expect(server.connections.size).toBe(0);
    expect(await c.readAll()).toEqual(["ONE"]);
    await server.shutdown();
  }, 10_000);

  it("is not called when the handler overrides handle()", async () => {
    class Both extends UpperFrames {
      override async handle(): Promise<void> {
        for await (const line of this.rfile) await this.wfile.write(`handle: ${line}\n`);
      }
    }
    const { port } = await serve(Both);
    const c = await LineClient.open(port);
    c.send("x");
    expect(await c.readLine()).toBe("handle: x");
  }, 10_000);
});

describe("FramedReader.readFrameCallback", () => {
  it("calls back with each frame, then undefined at the end, never before it returns", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    const socket = await within(accepted, 5_000, "accept");
    try {
      const reader = new FramedReader(socket, lines());
      const got: Array<string | undefined> = [];
      const read = () =>
        within(
          new Promise<string | undefined>((resolve, reject) => {
            let hasReturned = false;
            reader.readFrameCallback((tag: string, frame, failure) => {
              if (!hasReturned) reject(new Error("called back before readFrameCallback returned"));
              if (failure !== undefined) reject(failure);
              expect(tag).toBe("tag");
              resolve(frame);
            }, "tag");
            hasReturned = true;
          }),
          5_000,
          "a frame",
        );
      const first = read();
      expect(reader.isWaiting).toBe(true);
      client.write("one\ntwo\n");
      got.push(await first);
      expect(reader.takeFrame()).toBe("two");
      const end = read();
      client.end();
      got.push(await end);
      got.push(await read());
      expect(got).toEqual(["one", undefined, undefined]);
    } finally {
      client.destroy();
      socket.destroy();
      server.close();
    }
  }, 10_000);
});

describe("FramedReader options", () => {
  it("a NaN, zero or negative limit is INVALID_OPTION when the reader is made, not an unbounded queue later", () => {
    const socket = new net.Socket();
    try {
      for (const highWaterBytes of [Number.NaN, 0, -1, Number.POSITIVE_INFINITY]) {
        expect(() => new FramedReader(socket, lines(), { highWaterBytes })).toThrow(
          expect.objectContaining({
            code: "INVALID_OPTION",
            message: expect.stringContaining("highWaterBytes"),
          }),
        );
      }
      expect(() => new FramedReader(socket, lines(), { maxReadBytes: 1.5 })).toThrow(/maxReadBytes/);
      expect(() => new FramedReader(socket, lines(), { frameTimeoutMs: -1 })).toThrow(/frameTimeoutMs/);
      // The documented "off" spellings stay valid.
      new FramedReader(socket, lines(), {
        frameTimeoutMs: Number.POSITIVE_INFINITY,
        maxReadBytes: Number.POSITIVE_INFINITY,
      });
    } finally {
      socket.destroy();
    }
  });
});
