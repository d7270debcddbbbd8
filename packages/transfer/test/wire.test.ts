import net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { SocketWire } from "../src/index.js";

/** A connected pair on 127.0.0.1: `client` for the wire under test, `server` to play the peer. */
async function pair(): Promise<{ client: net.Socket; server: net.Socket }> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once("connection", resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, "127.0.0.1");
  await new Promise<void>((resolve) => client.once("connect", resolve));
  const server = await accepted;
  server.on("error", () => {});
  client.on("error", () => {});
  onTestFinished(async () => {
    client.destroy();
    server.destroy();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });
  return { client, server };
}

describe("SocketWire stall timeout and abort", () => {
  it("a read that gets no byte for stallTimeoutMs fails with STALLED and closes the socket", {
    timeout: 5_000,
  }, async () => {
    const { client } = await pair();
    const wire = new SocketWire(client, { peer: "the server", stallTimeoutMs: 200 });
    const started = performance.now();
    await expect(wire.readChunk(1024)).rejects.toMatchObject({
      code: "STALLED",
      message: "no byte to or from the server for 0.2 s (stall timeout)",
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(client.destroyed).toBe(true);
  });

  it("bytes that keep coming, however slowly, are not a stall", { timeout: 5_000 }, async () => {
    const { client, server } = await pair();
    const wire = new SocketWire(client, { stallTimeoutMs: 600 });
    // 8 bytes, one every 100 ms: 800 ms in all, never 600 ms without a byte.
    trickle(server, 8, 100);
    expect(await readAtLeast(wire, 8)).toBe(8);
  });

  it("time spent not waiting on the peer does not count", { timeout: 5_000 }, async () => {
    const { client, server } = await pair();
    const wire = new SocketWire(client, { stallTimeoutMs: 150 });
    server.write("a");
    expect((await wire.readChunk(1))!.length).toBe(1);
    // Busy elsewhere (hashing, disk) for twice the timeout: the wire is not waiting, so no stall.
    await new Promise((resolve) => setTimeout(resolve, 300));
    server.write("b");
    expect(Buffer.from((await wire.readChunk(1))!).toString()).toBe("b");
    expect(client.destroyed).toBe(false);
  });

  it("a write the peer never drains fails with STALLED", { timeout: 10_000 }, async () => {
    const { client, server } = await pair();
    server.pause();
    const wire = new SocketWire(client, { stallTimeoutMs: 300 });
    const block = Buffer.alloc(1024 * 1024);
    const write = async () => {
      for (let i = 0; i < 256; i++) await wire.write(block);
    };
    await expect(write()).rejects.toMatchObject({ code: "STALLED" });
  });

  it("aborting the signal ends a waiting read at once with ABORTED", { timeout: 5_000 }, async () => {
    const { client } = await pair();
    const abort = new AbortController();
    const wire = new SocketWire(client, { signal: abort.signal });
    const read = wire.readHeader();
    setImmediate(() => abort.abort());
    await expect(read).rejects.toMatchObject({ code: "ABORTED" });
    expect(client.destroyed).toBe(true);
  });
});

describe("SocketWire header timeout", () => {
  it("a header that trickles in a byte at a time fails with STALLED after headerTimeoutMs", {
    timeout: 10_000,
  }, async () => {
    const { client, server } = await pair();
    const wire = new SocketWire(client, { peer: "the server", stallTimeoutMs: 5_000, headerTimeoutMs: 500 });
    // A 100-byte header announced, then a byte each 50 ms: the stall clock never fires.
    server.write(Buffer.from([0, 0, 0, 100]));
    const timer = setInterval(() => server.write("{"), 50);
    onTestFinished(() => clearInterval(timer));
    const started = performance.now();
    await expect(wire.readHeader()).rejects.toMatchObject({
      code: "STALLED",
      message: "the server sent part of a header and not the rest in 0.5 s (header timeout)",
    });
    expect(performance.now() - started).toBeLessThan(4_000);
    expect(client.destroyed).toBe(true);
  });

  it("file data that trickles in is never cut by headerTimeoutMs", { timeout: 5_000 }, async () => {
    const { client, server } = await pair();
    const wire = new SocketWire(client, { headerTimeoutMs: 200 });
    trickle(server, 8, 100);
    expect(await readAtLeast(wire, 8)).toBe(8);
    expect(client.destroyed).toBe(false);
  });
});

/** Writes one byte to `socket` every `everyMs`, `count` times (stopped when the test finishes). */
function trickle(socket: net.Socket, count: number, everyMs: number): void {
  let sent = 0;
  const timer = setInterval(() => {
    socket.write("x");
    if (++sent === count) clearInterval(timer);
  }, everyMs);
  onTestFinished(() => clearInterval(timer));
}

/** Reads from `wire` until `count` bytes came; returns how many did (the last read may bring more). */
async function readAtLeast(wire: SocketWire, count: number): Promise<number> {
  let got = 0;
  while (got < count) got += (await wire.readChunk(count))!.length;
  return got;
}
