import net from "node:net";
import { lengthPrefixed, type ProtocolError } from "@netlab/protocol";
import { describe, expect, it } from "vitest";
import {
  type ConnectionInfo,
  DatagramRequestHandler,
  EchoHandler,
  NetworkError,
  type PeerAddress,
  StreamRequestHandler,
  TCPServer,
  UDPServer,
  UpperHandler,
} from "../src/index.js";
import { LineClient, latch, serve, within } from "./helpers.js";

describe("TCPServer with the classic handlers", () => {
  it("echoes each line back", async () => {
    const { port } = await serve(EchoHandler);
    const client = await LineClient.open(port);
    client.send("hello");
    client.send("world");
    expect(await client.readLine()).toBe("hello");
    expect(await client.readLine()).toBe("world");
  });

  it("upper-cases each line", async () => {
    const { port } = await serve(UpperHandler);
    const client = await LineClient.open(port);
    client.send("hello, Wörld");
    expect(await client.readLine()).toBe("HELLO, WÖRLD");
  });

  it("reports the real bound port when asked for port 0", async () => {
    const { server, port } = await serve(EchoHandler);
    expect(port).toBeGreaterThan(0);
    expect(server.address).toMatchObject({ host: "127.0.0.1", port, family: "IPv4" });
    expect(server.state).toBe("running");
  });

  it("still replies to a client that half-closed its side (shutdown SHUT_WR)", async () => {
    const { port } = await serve(UpperHandler);
    const client = await LineClient.open(port);
    client.socket.end("one\ntwo"); // the last line has no newline: it is still a line at EOF
    expect(await client.readAll()).toEqual(["ONE", "TWO"]);
  });

  it("answers a pipelined burst of 2 000 lines in order (writes in one tick leave together)", async () => {
    const { port } = await serve(EchoHandler);
    const client = await LineClient.open(port);
    const lines = Array.from({ length: 2_000 }, (_, i) => `line ${i}`);
    client.socket.end(lines.map((l) => `${l}\n`).join(""));
    expect(await client.readAll()).toEqual(lines);
  });

  it("answers a line it cannot take (too long, not UTF-8) with one ERR line and goes on", async () => {
    const { port } = await serve(EchoHandler);
    const client = await LineClient.open(port);
    client.socket.write(Buffer.concat([Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from("ok\n")]));
    expect(await client.readLine()).toBe("ERR line is not valid UTF-8");
    expect(await client.readLine()).toBe("ok");
    client.send("y".repeat(65 * 1024));
    client.send("after");
    expect(await client.readLine()).toMatch(
      /^ERR line of (at least )?\d+ bytes exceeds maxLineBytes \(65536\); it was dropped$/,
    );
    expect(await client.readLine()).toBe("after");
  });

  it("answers CRLF lines (telnet) without the CR", async () => {
    const { port } = await serve(EchoHandler);
    const client = await LineClient.open(port);
    client.socket.write("hi there\r\n");
    expect(await client.readLine()).toBe("hi there");
  });
});

describe("handler hooks", () => {
  it("runs setup → handle → finish in order, one instance per connection", async () => {
    const calls: string[] = [];
    class Traced extends StreamRequestHandler {
      override setup() {
        calls.push(`setup ${this.info.id}`);
      }
      override async handle() {
        calls.push(`handle ${this.info.id}`);
        for await (const line of this.rfile) await this.wfile.write(`${line}\n`);
      }
      override finish() {
        calls.push(`finish ${this.info.id}`);
      }
    }
    const { server, port } = await serve(Traced);
    const closed = new Promise<ConnectionInfo>((resolve) => server.once("close", resolve));
    const client = await LineClient.open(port);
    client.send("x");
    expect(await client.readLine()).toBe("x");
    client.socket.end();
    const info = await within(closed, 5_000, "close event");
    expect(calls).toEqual([`setup ${info.id}`, `handle ${info.id}`, `finish ${info.id}`]);
  });

  it("runs finish when handle throws, passes the error and peer to handleError, and keeps serving others", async () => {
    const calls: string[] = [];
    const errors: Array<{ message: string; peer?: PeerAddress }> = [];
    class Faulty extends StreamRequestHandler {
      override async handle() {
        for await (const line of this.rfile) {
          if (line === "boom") throw new Error("handler blew up");
          await this.wfile.write(`${line}\n`);
        }
      }
      override finish() {
        calls.push("finish");
      }
    }
    class Server extends TCPServer {
      override handleError(err: unknown, peer?: PeerAddress) {
        errors.push({ message: (err as Error).message, peer });
      }
    }
    const { port } = await serve(Faulty, {}, Server);
    const good = await LineClient.open(port);
    const bad = await LineClient.open(port);
    const badPort = bad.socket.localPort;
    bad.send("boom");
    expect(await bad.readLine()).toBeUndefined(); // closed after the handler failed
    good.send("still here");
    expect(await good.readLine()).toBe("still here");
    expect(calls).toEqual(["finish"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.message).toBe("handler blew up");
    expect(errors[0]?.peer).toMatchObject({ address: "127.0.0.1", family: "IPv4" });
    expect(errors[0]?.peer?.port).toBe(badPort);
  });

  it("closes a connection that verifyRequest refuses before any handler exists", async () => {
    let created = 0;
    const seen: PeerAddress[] = [];
    class Counted extends EchoHandler {
      override setup() {
        created++;
      }
    }
    class Picky extends TCPServer {
      override verifyRequest(peer: PeerAddress) {
        seen.push(peer);
        return seen.length > 1;
      }
    }
    const { port } = await serve(Counted, {}, Picky);
    const refused = await LineClient.open(port);
    expect(await refused.readLine()).toBeUndefined();
    const allowed = await LineClient.open(port);
    allowed.send("ok");
    expect(await allowed.readLine()).toBe("ok");
    expect(created).toBe(1);
    expect(seen[0]?.address).toBe("127.0.0.1");
  });

  it("closes a connection whose verifyRequest is still pending at shutdown, and handleRequest() returns", async () => {
    const [isAsked, asked] = latch();
    class Stuck extends TCPServer {
      override verifyRequest() {
        asked();
        return new Promise<boolean>(() => {}); // an auth look-up that never answers
      }
    }
    const server = new Stuck({ host: "127.0.0.1", port: 0 }, EchoHandler);
    await server.listen();
    const served = server.handleRequest();
    const client = await LineClient.open(server.address.port);
    await within(isAsked, 5_000, "verifyRequest called");
    await within(server.shutdown(), 5_000, "shutdown");
    await within(client.closed, 5_000, "the waiting connection closed");
    await within(served, 5_000, "handleRequest returned");
  });

  it("passes an over-long line to onProtocolError and goes on with the next line", async () => {
    class Strict extends StreamRequestHandler {
      protected override createDecoder() {
        return (EchoHandler.prototype as unknown as { createDecoder(): never }).createDecoder.call(this);
      }
      protected override async onProtocolError(err: ProtocolError) {
        await this.wfile.write(`ERR ${err.code}\n`);
      }
      override async handle() {
        for await (const line of this.rfile) await this.wfile.write(`${line}\n`);
      }
    }
    const { port } = await serve(Strict);
    const client = await LineClient.open(port);
    client.send("x".repeat(70 * 1024));
    client.send("next");
    expect(await client.readLine()).toBe("ERR FRAME_TOO_LARGE");
    expect(await client.readLine()).toBe("next");
  });
});

describe("rfile and wfile", () => {
  it("reads a header line, then exactly N raw bytes, then the next line", async () => {
    class Upload extends StreamRequestHandler {
      override async handle() {
        const header = await this.rfile.readFrame();
        const size = Number(header);
        const body = await this.rfile.readBytes(size);
        const trailer = await this.rfile.readFrame();
        await this.wfile.write(`${size} ${Buffer.from(body).toString("hex")} ${trailer}\n`);
      }
    }
    const { port } = await serve(Upload);
    const client = await LineClient.open(port);
    // Binary body with a newline and a non-UTF-8 byte inside it, all in one chunk with the header.
    client.socket.write(
      Buffer.concat([Buffer.from("3\n"), Buffer.from([0x0a, 0xff, 0x00]), Buffer.from("done\n")]),
    );
    expect(await client.readLine()).toBe("3 0aff00 done");
  });

  it("takeFrame() hands over the lines that arrived together, and keeps a bad one for readFrame() to report in order", async () => {
    class Batches extends StreamRequestHandler {
      protected override onProtocolError(err: ProtocolError) {
        this.wfile.send(Buffer.from(`ERR ${err.code}\n`));
      }
      override async handle() {
        let batch: string[] = [];
        for (let line = await this.rfile.readFrame(); line !== undefined; ) {
          batch.push(line);
          const next = this.rfile.takeFrame();
          if (next !== undefined) {
            line = next;
            continue;
          }
          // Nothing more queued: this batch is over, the next read waits (or reports a bad line).
          this.wfile.send(Buffer.from(`${batch.join(",")}\n`));
          batch = [];
          line = await this.rfile.readFrame();
        }
        if (batch.length > 0) this.wfile.send(Buffer.from(`${batch.join(",")}\n`));
      }
    }
    const { port } = await serve(Batches);
    const client = await LineClient.open(port);
    client.socket.write("a\nb\nc\n");
    expect(await client.readLine()).toBe("a,b,c");
    // A line that is not UTF-8 between two good ones: reported after "d", before "e".
    client.socket.write(Buffer.concat([Buffer.from("d\n"), Buffer.from([0xff, 0x0a]), Buffer.from("e\n")]));
    expect(await client.readLine()).toBe("d");
    expect(await client.readLine()).toBe("ERR INVALID_UTF8");
    expect(await client.readLine()).toBe("e");
    // A last line without its newline, then the end: readFrame() still gets it.
    client.socket.end("f");
    expect(await client.readLine()).toBe("f");
  });

  it("gives raw chunks with readChunk until EOF", async () => {
    class Count extends StreamRequestHandler {
      override async handle() {
        let total = 0;
        for (let c = await this.rfile.readChunk(); c; c = await this.rfile.readChunk()) total += c.length;
        await this.wfile.write(`${total}\n`);
      }
    }
    const { port } = await serve(Count);
    const client = await LineClient.open(port);
    client.socket.end(Buffer.alloc(300_000, 7));
    expect(await client.readLine()).toBe("300000");
  });

  it("caps a raw chunk at maxBytes and keeps the rest for the next read", async () => {
    class Pieces extends StreamRequestHandler {
      override async handle() {
        const sizes: number[] = [];
        for (let c = await this.rfile.readChunk(4); c; c = await this.rfile.readChunk(4))
          sizes.push(c.length);
        await this.wfile.write(`${sizes.join(",")}\n`);
      }
    }
    const { port } = await serve(Pieces);
    const client = await LineClient.open(port);
    client.socket.end("0123456789");
    expect(await client.readLine()).toBe("4,4,2");
  });

  it("rejects readBytes with TRUNCATED when the peer ends early", async () => {
    const seen: string[] = [];
    class Short extends StreamRequestHandler {
      override async handle() {
        try {
          await this.rfile.readBytes(10);
        } catch (err) {
          seen.push((err as ProtocolError).code);
        }
      }
    }
    const { server, port } = await serve(Short);
    const closed = new Promise((resolve) => server.once("close", resolve));
    const client = await LineClient.open(port);
    client.socket.end("abc");
    await within(closed, 5_000, "handler end");
    expect(seen).toEqual(["TRUNCATED"]);
  });

  it.each([
    ["a peer that resets", "CONNECTION_RESET", "reset", {}],
    ["shutdown", "ABORTED", "shutdown", {}],
    ["the idle timeout", "IDLE_TIMEOUT", "idle-timeout", { idleTimeoutMs: 200 }],
  ])(
    "ends a readBytes cut short by %s quietly: %s, not TRUNCATED reported as an error",
    async (cause, code, closeReason, options) => {
      const seen: string[] = [];
      const [isParked, parked] = latch();
      class Body extends StreamRequestHandler {
        override async handle() {
          await this.rfile.readFrame();
          parked();
          await this.rfile.readBytes(1000).catch((err: NetworkError) => {
            seen.push(err.code);
            throw err; // as a handler that does not catch it
          });
        }
      }
      const { server, port } = await serve(Body, options);
      const errors: unknown[] = [];
      server.on("error", (err) => errors.push(err));
      const closed = new Promise<ConnectionInfo>((resolve) => server.once("close", resolve));
      const client = await LineClient.open(port);
      client.socket.write("upload\npart of a body");
      await within(isParked, 5_000, "handler waiting for the body");
      if (cause === "a peer that resets") client.socket.resetAndDestroy();
      if (cause === "shutdown") void server.shutdown();
      expect((await within(closed, 5_000, "connection closed")).closeReason).toBe(closeReason);
      expect(seen).toEqual([code]);
      expect(errors).toEqual([]);
    },
  );

  it("decodes another framing when createDecoder is overridden", async () => {
    class Sizes extends StreamRequestHandler<Uint8Array> {
      protected override createDecoder() {
        return lengthPrefixed({ maxFrameBytes: 1024 });
      }
      override async handle() {
        for await (const frame of this.rfile) await this.wfile.write(`${frame.length}\n`);
      }
    }
    const { port } = await serve(Sizes);
    const client = await LineClient.open(port);
    const codec = lengthPrefixed();
    client.socket.write(Buffer.concat([codec.encode(new Uint8Array(5)), codec.encode(new Uint8Array(1000))]));
    expect(await client.readLine()).toBe("5");
    expect(await client.readLine()).toBe("1000");
  });

  it("keeps the server's send buffer bounded when a client never reads (writes wait for drain)", async () => {
    let maxBuffered = 0;
    let written = 0;
    let handler: StreamRequestHandler | undefined;
    class Firehose extends StreamRequestHandler {
      override async handle() {
        handler = this;
        const chunk = Buffer.alloc(16 * 1024, 0x61);
        while (!this.signal.aborted) {
          await this.wfile.write(chunk);
          written += chunk.length;
          maxBuffered = Math.max(maxBuffered, this.wfile.bufferedBytes);
        }
      }
    }
    const { port } = await serve(Firehose, { drainTimeoutMs: 500 });
    const client = await LineClient.open(port);
    client.socket.pause(); // never reads
    // Wait until the kernel buffers are full and the handler is parked on drain.
    let last = -1;
    for (let i = 0; i < 200 && written !== last; i++) {
      last = written;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(handler).toBeDefined();
    expect(written).toBe(last); // stopped writing: waiting for drain
    expect(written).toBeLessThan(32 * 1024 * 1024); // only what the kernel buffers hold
    expect(maxBuffered).toBeLessThanOrEqual(64 * 1024); // Node's side stays within one write over the high-water mark
  });

  it("pauses the socket while a handler does not read, so a flooding peer waits (read side bounded)", async () => {
    const [gate, release] = latch();
    let handler: StreamRequestHandler | undefined;
    class Lazy extends StreamRequestHandler {
      override async handle() {
        handler = this;
        await gate;
        let total = 0;
        for (let c = await this.rfile.readChunk(); c; c = await this.rfile.readChunk()) total += c.length;
        await this.wfile.write(`${total}\n`);
      }
    }
    const { port } = await serve(Lazy);
    const client = await LineClient.open(port);
    const size = 8 * 1024 * 1024;
    client.socket.end(Buffer.alloc(size, 1));
    // Wait until the flood stalls: the client can no longer hand bytes to the kernel.
    let last = -1;
    for (let i = 0; i < 200 && client.socket.writableLength !== last; i++) {
      last = client.socket.writableLength;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(handler).toBeDefined();
    expect(client.socket.writableLength).toBeGreaterThan(0); // the peer is made to wait
    expect(handler!.info.bytesIn).toBeLessThan(1024 * 1024); // Node read at most ~64 KiB + a chunk
    release();
    expect(await client.readLine(10_000)).toBe(String(size));
  });

  it("refuses readBytes over maxReadBytes with FRAME_TOO_LARGE", async () => {
    const codes: string[] = [];
    class Greedy extends StreamRequestHandler {
      override async handle() {
        this.maxReadBytes = 1024;
        try {
          await this.rfile.readBytes(1025);
        } catch (err) {
          codes.push((err as ProtocolError).code);
        }
        await this.wfile.write("done\n");
      }
    }
    const { port } = await serve(Greedy);
    const client = await LineClient.open(port);
    expect(await client.readLine()).toBe("done");
    expect(codes).toEqual(["FRAME_TOO_LARGE"]);
  });

  it("refuses readBytes of a negative or fractional count with INVALID_OPTION, not as too large", async () => {
    const errors: string[] = [];
    class Clumsy extends StreamRequestHandler {
      override async handle() {
        for (const n of [-1, 1.5]) {
          await this.rfile
            .readBytes(n)
            .catch((err: ProtocolError) => errors.push(`${err.code}: ${err.message}`));
        }
        await this.wfile.write("done\n");
      }
    }
    const { port } = await serve(Clumsy);
    const client = await LineClient.open(port);
    expect(await client.readLine()).toBe("done");
    expect(errors).toEqual([
      "INVALID_OPTION: readBytes(n) needs an integer n ≥ 0, got -1",
      "INVALID_OPTION: readBytes(n) needs an integer n ≥ 0, got 1.5",
    ]);
  });

  it("rejects a write to a peer that reset, without reporting an error", async () => {
    const errors: unknown[] = [];
    let writeFailure: unknown;
    const [parked, ready] = latch();
    class Writer extends StreamRequestHandler {
      override async handle() {
        await this.rfile.readFrame();
        ready();
        try {
          for (let i = 0; i < 10_000; i++) await this.wfile.write(Buffer.alloc(64 * 1024));
        } catch (err) {
          writeFailure = err;
          throw err;
        }
      }
    }
    class Server extends TCPServer {
      override handleError(err: unknown) {
        errors.push(err);
      }
    }
    const { server, port } = await serve(Writer, {}, Server);
    const closed = new Promise((resolve) => server.once("close", resolve));
    const client = await LineClient.open(port);
    client.socket.pause();
    client.send("go");
    await within(parked, 5_000, "handler writing");
    client.socket.resetAndDestroy();
    await within(closed, 5_000, "connection closed");
    expect(writeFailure).toBeInstanceOf(NetworkError);
    expect((writeFailure as NetworkError).code).toBe("CONNECTION_RESET");
    expect(errors).toEqual([]);
  });
  it("#13: after a reset, still hands the handler every byte that arrived before it; only a partial line is dropped", async () => {
    const total = 50_000;
    let received = 0;
    const lines: string[] = [];
    const done = new Promise<void>((resolve) => {
      class LateReader extends StreamRequestHandler {
        override async handle() {
          expect(await this.rfile.readFrame()).toBe("go");
          // Read nothing until the reset has arrived, so every byte waits in the reader's queue.
          if (!this.request.destroyed) await new Promise((r) => this.request.once("close", r));
          for (let i = 0; i < total; i++) {
            const chunk = await this.rfile.readChunk(total - received);
            if (chunk === undefined) break;
            received += chunk.length;
            if (received === total) break;
          }
          for (let i = 0; i < 10; i++) {
            const line = await this.rfile.readFrame();
            if (line === undefined) break;
            lines.push(line as string);
          }
          resolve();
        }
      }
      void serve(LateReader).then(async ({ server, port }) => {
        let bytesIn = 0;
        server.on("bytesIn", (_info: unknown, n: number) => {
          bytesIn += n;
        });
        const client = await LineClient.open(port);
        const tail = "one\ntwo\npartial";
        client.socket.write(Buffer.concat([Buffer.from("go\n"), Buffer.alloc(total, 7), Buffer.from(tail)]));
        const sent = 3 + total + tail.length;
        await within(
          (async () => {
            for (let i = 0; i < 500 && bytesIn < sent; i++) await new Promise((r) => setTimeout(r, 10));
          })(),
          6_000,
          "the server to receive every byte",
        );
        expect(bytesIn).toBe(sent);
        client.socket.resetAndDestroy();
      });
    });
    await within(done, 10_000, "the handler to finish reading");
    expect(received).toBe(total);
    expect(lines).toEqual(["one", "two"]);
  });
});

describe("limits", () => {
  it("refuses the connection over maxConnections with one ERR line and keeps the others working", async () => {
    const { port, server } = await serve(EchoHandler, { maxConnections: 2 });
    const refused: PeerAddress[] = [];
    server.on("refuse", (peer: PeerAddress) => refused.push(peer));
    const a = await LineClient.open(port);
    const b = await LineClient.open(port);
    a.send("a");
    b.send("b");
    expect(await a.readLine()).toBe("a");
    expect(await b.readLine()).toBe("b");
    const c = await LineClient.open(port);
    expect(await c.readAll()).toEqual(["ERR server full (2 connections)"]);
    expect(refused).toHaveLength(1);
    a.send("a2");
    expect(await a.readLine()).toBe("a2");
    // A slot frees when a client leaves.
    b.socket.end();
    await b.closed;
    let d: LineClient | undefined;
    for (let i = 0; i < 50; i++) {
      d = await LineClient.open(port);
      d.send("d");
      const reply = await d.readLine();
      if (reply === "d") break;
      d = undefined;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(d).toBeDefined();
  });

  it("closes a connection idle for idleTimeoutMs and aborts its handler's signal with IDLE_TIMEOUT", async () => {
    const reasons: unknown[] = [];
    class Idle extends EchoHandler {
      override finish() {
        reasons.push(this.signal.reason);
      }
    }
    const { port } = await serve(Idle, { idleTimeoutMs: 150 });
    const client = await LineClient.open(port);
    client.send("ping");
    expect(await client.readLine()).toBe("ping");
    const start = Date.now();
    expect(await client.readLine(3_000)).toBeUndefined();
    expect(Date.now() - start).toBeGreaterThanOrEqual(100);
    expect(reasons).toHaveLength(1);
    expect((reasons[0] as NetworkError).code).toBe("IDLE_TIMEOUT");
  });

  it("lets onIdleTimeout say goodbye before the idle connection closes", async () => {
    class Polite extends EchoHandler {
      protected override async onIdleTimeout() {
        await new Promise((r) => setTimeout(r, 20)); // a goodbye that takes a moment still gets out
        await this.wfile.write("ERR idle too long, bye\n");
      }
    }
    const { port } = await serve(Polite, { idleTimeoutMs: 100 });
    const client = await LineClient.open(port);
    expect(await client.readAll(3_000)).toEqual(["ERR idle too long, bye"]);
  });

  it("lets a handler set its own idle timeout in setup()", async () => {
    class Quick extends EchoHandler {
      override setup() {
        this.timeout = 100;
      }
    }
    const { port } = await serve(Quick);
    const client = await LineClient.open(port);
    expect(await client.readLine(3_000)).toBeUndefined();
  });

  it("uses a listen backlog of 511 by default", () => {
    const server = new TCPServer({}, EchoHandler);
    expect(server.options.requestQueueSize).toBe(511);
    expect(server.options.host).toBe("127.0.0.1");
  });

  it("rejects a bad limit at construction with INVALID_OPTION", () => {
    expect(() => new TCPServer({ maxConnections: 0 }, EchoHandler)).toThrow(
      /maxConnections must be a positive integer/,
    );
    expect(() => new TCPServer({ idleTimeoutMs: -1 }, EchoHandler)).toThrow(/idleTimeoutMs/);
  });

  it.each([-1, 65_536, 80.5])(
    "rejects port %s at construction with INVALID_OPTION, not UNKNOWN at listen()",
    (port) => {
      expect(() => new TCPServer({ port }, EchoHandler)).toThrow(
        expect.objectContaining({
          code: "INVALID_OPTION",
          message: `port must be an integer from 0 to 65535, got ${port}`,
        }),
      );
    },
  );
});

describe("listen errors", () => {
  it("fails with ADDRESS_IN_USE naming the port when it is taken", async () => {
    const { port } = await serve(EchoHandler);
    const second = new TCPServer({ port }, EchoHandler);
    const err = await second.listen().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "ADDRESS_IN_USE",
      message: `port ${port} on 127.0.0.1 is already in use`,
      hint: "stop the other server or choose another --port",
    });
    await second.shutdown();
  });
});

describe("events", () => {
  it("emits open, frameIn, bytesIn, frameOut, bytesOut and close with one live info object", async () => {
    const { server, port } = await serve(EchoHandler);
    const events: string[] = [];
    let seen: ConnectionInfo | undefined;
    const closed = new Promise<ConnectionInfo>((resolve) => server.once("close", resolve));
    server.on("open", (info: ConnectionInfo) => {
      seen = info;
      events.push("open");
    });
    server.on("bytesIn", (info: ConnectionInfo, n: number) => {
      expect(info).toBe(seen);
      events.push(`bytesIn ${n}`);
    });
    server.on("frameIn", (_: ConnectionInfo, frame: string) => events.push(`frameIn ${frame}`));
    server.on("frameOut", (_: ConnectionInfo, frame: string) =>
      events.push(`frameOut ${JSON.stringify(frame)}`),
    );
    server.on("bytesOut", (_: ConnectionInfo, n: number) => events.push(`bytesOut ${n}`));
    const client = await LineClient.open(port);
    client.send("hey");
    expect(await client.readLine()).toBe("hey");
    client.socket.end();
    const info = await within(closed, 5_000, "close event");
    expect(info).toBe(seen);
    expect(events).toEqual(["open", "bytesIn 4", "frameIn hey", 'frameOut "hey\\n"', "bytesOut 4"]);
    expect(info).toMatchObject({ bytesIn: 4, bytesOut: 4, framesIn: 1, framesOut: 1 });
    expect(info.peer.port).toBe(client.socket.localPort);
  });
});

describe("ConnectionInfo.closeReason", () => {
  it("says closed, idle-timeout or shutdown, set before the close event", async () => {
    const { server, port } = await serve(EchoHandler, { idleTimeoutMs: 150 });
    const reasons: (string | undefined)[] = [];
    server.on("close", (info: ConnectionInfo) => reasons.push(info.closeReason));
    const next = () => new Promise<void>((resolve) => server.once("close", () => resolve()));

    const polite = await LineClient.open(port);
    polite.send("hi");
    expect(await polite.readLine()).toBe("hi");
    polite.socket.end();
    await within(next(), 5_000, "the first close");

    await LineClient.open(port);
    await within(next(), 5_000, "the idle close");

    const opened = new Promise<void>((resolve) => server.once("open", () => resolve()));
    await LineClient.open(port);
    await within(opened, 5_000, "the third open");
    const last = next();
    void server.shutdown();
    await within(last, 5_000, "the shutdown close");
    expect(reasons).toEqual(["closed", "idle-timeout", "shutdown"]);
  });
});

describe("shutdown", () => {
  it("acts at once even with an idle client connected, and closes that client", async () => {
    const { server, port, serving } = await serve(EchoHandler, { drainTimeoutMs: 5_000 });
    const client = await LineClient.open(port);
    client.send("hi");
    expect(await client.readLine()).toBe("hi");
    const start = Date.now();
    await within(server.shutdown(), 2_000, "shutdown");
    expect(Date.now() - start).toBeLessThan(1_000);
    expect(server.state).toBe("closed");
    expect(server.signal.aborted).toBe(true);
    await within(serving, 1_000, "serveForever to resolve");
    expect(await client.readLine()).toBeUndefined();
    await expect(LineClient.open(port)).rejects.toThrow();
  });

  it("is harmless twice and through Symbol.asyncDispose", async () => {
    let port = 0;
    {
      await using server = new TCPServer({ port: 0 }, EchoHandler);
      await server.listen();
      port = server.address.port;
      await server.shutdown();
      await server.shutdown();
    }
    await expect(LineClient.open(port)).rejects.toThrow();
  });

  it("serveForever stops when its signal aborts", async () => {
    const server = new TCPServer({}, EchoHandler);
    const controller = new AbortController();
    const serving = server.serveForever({ signal: controller.signal });
    await within(new Promise((r) => server.once("listening", r)), 5_000, "listening");
    controller.abort();
    await within(serving, 2_000, "serveForever");
    expect(server.state).toBe("closed");
  });

  it("waits up to drainTimeoutMs for a busy handler, then destroys its connection", async () => {
    let finished = false;
    class Stubborn extends StreamRequestHandler {
      override async handle() {
        await this.rfile.readFrame();
        await new Promise((r) => setTimeout(r, 60_000).unref()); // ignores its signal
      }
      override finish() {
        finished = true;
      }
    }
    const { server, port } = await serve(Stubborn, { drainTimeoutMs: 200 });
    const client = await LineClient.open(port);
    client.send("go");
    await within(new Promise((r) => server.once("frameIn", r)), 5_000, "frame");
    const start = Date.now();
    await within(server.shutdown(), 3_000, "shutdown");
    const took = Date.now() - start;
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(1_000);
    expect(finished).toBe(false);
    await within(client.closed, 2_000, "client closed");
  });

  it("lets a handler finish its reply during the drain", async () => {
    class Slow extends StreamRequestHandler {
      override async handle() {
        const line = await this.rfile.readFrame();
        await new Promise((r) => setTimeout(r, 100));
        await this.wfile.write(`late ${line}\n`);
      }
    }
    const { server, port } = await serve(Slow, { drainTimeoutMs: 2_000 });
    const framed = new Promise((r) => server.once("frameIn", r));
    const client = await LineClient.open(port);
    client.send("reply");
    await within(framed, 5_000, "the line to arrive");
    await server.shutdown();
    expect(await client.readLine()).toBe("late reply");
  });

  it("aborts a signal taken before shutdown, and one first read after it, both with ABORTED", async () => {
    const early: unknown[] = [];
    const late: unknown[] = [];
    class Watcher extends StreamRequestHandler {
      override setup() {
        this.signal.addEventListener("abort", () => early.push(this.signal.reason));
      }
      override async handle() {
        for await (const _ of this.rfile);
      }
    }
    class Unwatched extends StreamRequestHandler {
      override async handle() {
        for await (const _ of this.rfile);
      }
      override finish() {
        late.push(this.signal.aborted ? this.signal.reason : "not aborted");
      }
    }
    for (const [Handler, seen] of [
      [Watcher, early],
      [Unwatched, late],
    ] as const) {
      const { server, port } = await serve(Handler);
      const opened = new Promise((r) => server.once("open", r));
      await LineClient.open(port);
      await within(opened, 5_000, "open");
      await within(server.shutdown(), 2_000, "shutdown");
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ code: "ABORTED" });
    }
  });

  it("does not wait out drainTimeoutMs for a flush to a client that reset while the handler closed", async () => {
    const [isFinishing, finishing] = latch();
    class Flooder extends StreamRequestHandler {
      override async handle() {
        // More than the kernel buffers hold for a client that reads nothing: 'finish' cannot come.
        const chunk = new Uint8Array(1024 * 1024);
        for (let i = 0; i < 16; i++) this.wfile.write(chunk).catch(() => {});
        await this.rfile.readFrame(); // ends when shutdown aborts the signal
      }
      override finish() {
        finishing();
      }
    }
    const { server, port } = await serve(Flooder, { drainTimeoutMs: 5_000 });
    const client = net.connect(port, "127.0.0.1");
    client.on("error", () => {});
    client.pause();
    await within(new Promise((r) => server.once("open", r)), 5_000, "open");
    const start = Date.now();
    const shutdown = server.shutdown();
    await within(isFinishing, 2_000, "the handler to finish");
    client.resetAndDestroy();
    await within(shutdown, 4_000, "shutdown");
    expect(Date.now() - start).toBeLessThan(2_000);
  });
});

describe("handleRequest", () => {
  it("handles exactly one request, queuing the next until asked", async () => {
    const server = new TCPServer({}, UpperHandler);
    await server.listen();
    const port = server.address.port;
    const a = await LineClient.open(port);
    const b = await LineClient.open(port);
    a.socket.end("first\n");
    b.socket.end("second\n");
    await within(server.handleRequest(), 5_000, "handleRequest");
    expect(await a.readAll()).toEqual(["FIRST"]);
    expect(server.connections.size).toBe(0);
    expect(b.socket.bytesRead).toBe(0); // b waits in the queue: nothing was read from it yet
    await within(server.handleRequest(), 5_000, "handleRequest");
    expect(await b.readAll()).toEqual(["SECOND"]);
    await server.shutdown();
  });

  it("calls handleTimeout when no request arrives within timeout", async () => {
    let timeouts = 0;
    class Server extends TCPServer {
      override handleTimeout() {
        timeouts++;
      }
    }
    const server = new Server({ timeout: 50 }, EchoHandler);
    await server.handleRequest();
    expect(timeouts).toBe(1);
    await server.shutdown();
  });
});

describe("many clients", () => {
  it("serves 200 concurrent clients × 100 round trips with every reply checked", async () => {
    const { port } = await serve(EchoHandler);
    const clients = await Promise.all(Array.from({ length: 200 }, () => LineClient.open(port)));
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < 100; i++) {
          const line = `client ${c} message ${i}`;
          client.send(line);
          const reply = await client.readLine(10_000);
          if (reply !== line) throw new Error(`client ${c} sent ${line} got ${reply}`);
        }
        client.socket.end();
      }),
    );
  }, 60_000);
});

describe("connect-level socket facts", () => {
  it("disables Nagle by default", async () => {
    let noDelay: boolean | undefined;
    class Probe extends StreamRequestHandler {
      override handle() {
        // Node exposes no getter; setNoDelay ran if the handler saw disableNagleAlgorithm true.
        noDelay = this.disableNagleAlgorithm;
      }
    }
    const { server, port } = await serve(Probe);
    const closed = new Promise((r) => server.once("close", r));
    const s = net.connect({ port, host: "127.0.0.1" });
    s.on("error", () => {});
    await within(closed, 5_000, "close");
    s.destroy();
    expect(noDelay).toBe(true);
  });
});

describe("listen() after shutdown", () => {
  it("is SERVER_CLOSED for a TCP and a UDP server, not a listen() that returns without listening", async () => {
    const tcp = new TCPServer({ host: "127.0.0.1", port: 0 }, StreamRequestHandler);
    await tcp.listen();
    await tcp.listen(); // already listening: nothing to do
    await tcp.shutdown();
    await expect(tcp.listen()).rejects.toMatchObject({
      code: "SERVER_CLOSED",
      hint: "make a new server object to listen again",
    });
    const udp = new UDPServer({ host: "127.0.0.1", port: 0 }, DatagramRequestHandler);
    await udp.listen();
    await udp.shutdown();
    await expect(udp.listen()).rejects.toMatchObject({ code: "SERVER_CLOSED" });
  });
});
