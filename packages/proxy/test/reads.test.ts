import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import {
  adoptWithReusedBuffer,
  type ChunkEvent,
  type LinkInfo,
  linkSockets,
  ReadBudget,
  ReusedReads,
  TcpProxy,
  ToxicSet,
} from "../src/index.js";
import { cleanups, listen } from "./cleanup.js";

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    s.once("connect", () => resolve(s));
    s.once("error", reject);
    cleanups.push(() => void s.destroy());
  });
}

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

/**
 * A slow echo server: it reads through async iteration (backpressure both ways) and stops for 2 ms
 * after every 256 KiB, so the kernel buffers towards it fill and the proxy's writes stay in flight.
 */
async function slowEcho(): Promise<number> {
  return listen(
    net.createServer({ allowHalfOpen: true }, async (s) => {
      s.on("error", () => {});
      let untilPause = 256 * 1024;
      for await (const chunk of s as AsyncIterable<Buffer>) {
        if (!s.write(chunk)) await once(s, "drain");
        untilPause -= chunk.length;
        if (untilPause <= 0) {
          untilPause = 256 * 1024;
          await sleep(2);
        }
      }
      s.end();
    }),
  );
}

/** Reads to EOF slowly (2 ms off after every 256 KiB); the SHA-256 of what came and its length. */
async function slowHash(s: net.Socket): Promise<{ hash: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  let untilPause = 256 * 1024;
  for await (const chunk of s as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    untilPause -= chunk.length;
    if (untilPause <= 0) {
      untilPause = 256 * 1024;
      await sleep(2);
    }
  }
  return { hash: hash.digest("hex"), bytes };
}

/** Writes `data` in pieces of uneven sizes (1 byte to 100 KB), paced by `drain`, then FIN. */
async function writeUneven(s: net.Socket, data: Buffer): Promise<void> {
  const sizes = [1, 1000, 65_536, 100_000, 7, 4096, 70_000];
  for (let at = 0, i = 0; at < data.length; i++) {
    const piece = data.subarray(at, at + (sizes[i % sizes.length] as number));
    at += piece.length;
    if (!s.write(piece)) await once(s, "drain");
  }
  s.end();
}

/** A proxy to `upstreamPort`, closed after the test. */
async function startProxy(
  upstreamPort: number,
  more: { onChunk?: (e: ChunkEvent) => void; reuseReadBuffers?: boolean; busyPollUs?: number } = {},
) {
  const proxy = new TcpProxy({
    listen: "127.0.0.1:0",
    upstream: `127.0.0.1:${upstreamPort}`,
    seed: 1,
    ...more,
  });
  await proxy.listen();
  cleanups.push(() => proxy.close());
  return { proxy, port: Number(proxy.listenAddress.split(":").pop()) };
}

describe("ReusedReads", () => {
  /** One read of `n` bytes into whatever buffer Node would read into next, as Node calls it. */
  function read(reads: ReusedReads, buffer: Uint8Array, n: number): Uint8Array {
    reads.onread.callback(n, buffer);
    return reads.onread.buffer();
  }

  it("reads into the same buffer while the consumer keeps nothing", () => {
    const reads = new ReusedReads(4096);
    reads.attach(new net.Socket(), () => false);
    const first = reads.onread.buffer();
    expect(first.length).toBe(4096);
    expect(read(reads, first, 2000)).toBe(first);
    expect(read(reads, first, 3000)).toBe(first);
  });

  it("doubles the buffer after a read that fills it, up to readBufferBytes, from 16 KiB", () => {
    const reads = new ReusedReads(64 * 1024);
    reads.attach(new net.Socket(), () => false);
    const sizes = [reads.onread.buffer()];
    for (let i = 0; i < 3; i++) {
      const last = sizes.at(-1) as Uint8Array;
      sizes.push(read(reads, last, last.length));
    }
    expect(sizes.map((b) => b.length / 1024)).toEqual([16, 32, 64, 64]);
    expect(sizes[3]).toBe(sizes[2]);
  });

  it("grows past 256 KiB only with room in the shared ReadBudget, and gives it back on shrink and dispose", () => {
    const KiB = 1024;
    const budget = new ReadBudget(768 * KiB);
    const grow = (reads: ReusedReads) => {
      let buffer = reads.onread.buffer();
      for (let i = 0; i < 12; i++) buffer = read(reads, buffer, buffer.length);
      return buffer.length / KiB;
    };
    const a = new ReusedReads(1024 * KiB, budget);
    const b = new ReusedReads(1024 * KiB, budget);
    for (const r of [a, b]) r.attach(new net.Socket(), () => false);
    expect(grow(a)).toBe(1024);
    expect(budget.usedBytes).toBe(768 * KiB);
    // No room left: b grows freely to 256 KiB and stops there.
    expect(grow(b)).toBe(256);
    expect(budget.usedBytes).toBe(768 * KiB);
    // a's small reads halve it to 512 KiB, giving 512 KiB back: b takes 256 KiB of it for 512 KiB,
    // and 1 MiB would need 512 KiB more than the 768 KiB budget holds.
    let buffer = a.onread.buffer();
    for (let i = 0; i < 8; i++) buffer = read(a, buffer, 10);
    expect(buffer.length / KiB).toBe(512);
    expect(budget.usedBytes).toBe(256 * KiB);
    expect(grow(b)).toBe(512);
    expect(budget.usedBytes).toBe(512 * KiB);
    a.dispose();
    b.dispose();
    expect(budget.usedBytes).toBe(0);
  });

  it("halves it after 8 reads in a row of under a quarter of it, down to 16 KiB", () => {
    const reads = new ReusedReads(64 * 1024);
    reads.attach(new net.Socket(), () => false);
    let buffer = reads.onread.buffer();
    while (buffer.length < 64 * 1024) buffer = read(reads, buffer, buffer.length);
    const sizes: number[] = [];
    for (let i = 0; i < 24; i++) {
      buffer = read(reads, buffer, 10);
      sizes.push(buffer.length / 1024);
    }
    expect(sizes.slice(5, 8)).toEqual([64, 64, 32]);
    expect(sizes.slice(13, 16)).toEqual([32, 32, 16]);
    expect(sizes.at(-1)).toBe(16);
  });

  it("never hands out a buffer the consumer still holds, until release()", () => {
    const reads = new ReusedReads(4096);
    let keep = true;
    const views: Buffer[] = [];
    reads.attach(new net.Socket(), (view) => {
      views.push(view);
      return keep;
    });
    const a = reads.onread.buffer();
    const b = read(reads, a, 2000);
    expect(b).not.toBe(a);
    expect(views[0]?.length).toBe(2000);
    expect(views[0]?.buffer).toBe(a.buffer);
    // A second buffer kept before the first was released: a third one, never a held one.
    const c = read(reads, b, 2000);
    expect(c).not.toBe(a);
    expect(c).not.toBe(b);
    keep = false;
    expect(read(reads, c, 2000)).toBe(c);
    reads.release();
    keep = true;
    // Released: the first held buffer is the spare now.
    expect(read(reads, c, 2000)).toBe(a);
  });

  it("keeps a read that came before attach, stops reading, and starts again once attached", {
    timeout: 10_000,
  }, async () => {
    let peer!: net.Socket;
    const port = await listen(
      net.createServer((s) => {
        peer = s;
        s.write("early ");
      }),
    );
    const reads = new ReusedReads();
    const s = net.connect({ port, host: "127.0.0.1", onread: reads.onread });
    cleanups.push(() => void s.destroy());
    while (s.bytesRead === 0) await sleep(1);
    let got = "";
    reads.attach(s, (view) => {
      got += view.toString();
      return false;
    });
    expect(got).toBe("early ");
    peer.end("late");
    await once(s, "end");
    expect(got).toBe("early late");
  });

  it("rejects a readBufferBytes under 1 KiB", () => {
    expect(() => new ReusedReads(16)).toThrow(/readBufferBytes/);
  });
});

describe("adoptWithReusedBuffer", () => {
  it("takes over an accepted socket: reads go to onread, EOF ends it, the server counts it once and closes", {
    timeout: 10_000,
  }, async () => {
    const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    let got = "";
    const adoptedSocket = new Promise<net.Socket>((resolve, reject) => {
      server.on("connection", (accepted) => {
        const reads = new ReusedReads();
        const adopted = adoptWithReusedBuffer(accepted, reads.onread);
        if (!adopted) return reject(new Error("not adopted"));
        reads.attach(adopted, (view) => {
          got += view.toString();
          if (got === "hello") resolve(adopted);
          return false;
        });
        adopted.on("end", () => adopted.end("bye"));
        adopted.resume();
      });
    });
    const c = await connect((server.address() as net.AddressInfo).port);
    c.write("hello");
    const adopted = await adoptedSocket;
    const adoptedClosed = once(adopted, "close");
    expect(await new Promise((r) => server.getConnections((_e, n) => r(n)))).toBe(1);
    const reply: Buffer[] = [];
    c.on("data", (d: Buffer) => reply.push(d));
    c.end();
    await once(c, "end");
    expect(Buffer.concat(reply).toString()).toBe("bye");
    c.destroy();
    await adoptedClosed;
    expect(await new Promise((r) => server.getConnections((_e, n) => r(n)))).toBe(0);
    // server.close() waits for the connections it counts: it finishing means the count is right.
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("keeps maxConnections counting an adopted connection", { timeout: 10_000 }, async () => {
    const drops: unknown[] = [];
    const server = net.createServer({ pauseOnConnect: true }, (accepted) => {
      const reads = new ReusedReads();
      const socket = adoptWithReusedBuffer(accepted, reads.onread);
      reads.attach(socket as net.Socket, () => false);
      socket?.resume();
    });
    server.maxConnections = 1;
    server.on("drop", (d) => drops.push(d));
    await listen(server);
    const port = (server.address() as net.AddressInfo).port;
    const firstAccepted = once(server, "connection");
    const first = await connect(port);
    await firstAccepted;
    const second = await connect(port);
    // Dropped: the server closes it at once, so its client reads EOF.
    second.resume();
    await once(second, "end");
    expect(drops.length).toBe(1);
    first.destroy();
    await new Promise<void>((resolve) => {
      const poll = () => server.getConnections((_e, n) => (n === 0 ? resolve() : setImmediate(poll)));
      poll();
    });
    const thirdAccepted = once(server, "connection");
    await connect(port);
    await thirdAccepted;
    expect(drops.length).toBe(1);
  });

  it("declines (undefined) a socket whose handle already reads; that socket keeps working", {
    timeout: 10_000,
  }, async () => {
    const results: Array<net.Socket | undefined> = [];
    const port = await listen(
      net.createServer((accepted) => {
        results.push(adoptWithReusedBuffer(accepted, new ReusedReads().onread));
        accepted.pipe(accepted);
      }),
    );
    const c = await connect(port);
    c.write("echo");
    const [data] = await once(c, "data");
    expect(String(data)).toBe("echo");
    expect(results).toEqual([undefined]);
  });
});

// false: both sides read with 'data', the path a connection takes when adoptWithReusedBuffer
// declines (the upstream then still reuses, which the true case covers per direction). busyPollUs 0:
// the loop sleeps between reads instead of polling (50 is the default).
describe.each([
  { reuseReadBuffers: true, busyPollUs: 50 },
  { reuseReadBuffers: false, busyPollUs: 50 },
  { reuseReadBuffers: true, busyPollUs: 0 },
])(
  "TcpProxy, reuseReadBuffers: $reuseReadBuffers, busyPollUs: $busyPollUs",
  ({ reuseReadBuffers, busyPollUs }) => {
    it("64 MiB both ways to a slow server and a slow client arrive byte for byte (SHA-256)", {
      timeout: 60_000,
    }, async () => {
      const infos: LinkInfo[] = [];
      const { proxy, port } = await startProxy(await slowEcho(), { reuseReadBuffers, busyPollUs });
      proxy.on("close", (link) => infos.push(link.info()));
      const data = randomBytes(64 * 1024 * 1024);
      const s = await connect(port);
      const [back] = await Promise.all([slowHash(s), writeUneven(s, data)]);
      expect(back.bytes).toBe(data.length);
      expect(back.hash).toBe(sha256(data));
      await new Promise<void>((r) => (infos.length > 0 ? r() : proxy.once("close", () => r())));
      expect(infos[0]?.bytesUpstream).toBe(data.length);
      expect(infos[0]?.bytesDownstream).toBe(data.length);
      // Once both sockets closed, what their reads took from the shared budget is back.
      for (let i = 0; i < 200 && proxy.readBufferBytesInUse > 0; i++) await sleep(10);
      expect(proxy.readBufferBytesInUse).toBe(0);
    });

    it("a toxic added and removed mid-transfer loses, repeats or reorders nothing", {
      timeout: 30_000,
    }, async () => {
      const touched = { before: 0, during: 0, after: 0 };
      let phase: keyof typeof touched = "before";
      const { proxy, port } = await startProxy(await slowEcho(), {
        reuseReadBuffers,
        busyPollUs,
        onChunk: (e) => {
          if (phase === "during" ? e.toxics.length > 0 : e.toxics.length === 0) touched[phase] += 1;
        },
      });
      const data = randomBytes(16 * 1024 * 1024);
      const s = await connect(port);
      const back = slowHash(s);
      const sent = writeUneven(s, data);
      const waitFor = async (bytes: number) => {
        while ((proxy.connections()[0]?.bytesDownstream ?? 0) < bytes) await sleep(5);
      };
      await waitFor(2 * 1024 * 1024);
      phase = "during";
      proxy.toxics.add({
        name: "slices",
        type: "slicer",
        attributes: { average_size: 4096 },
        stream: "upstream",
      });
      proxy.toxics.add({ name: "late", type: "latency", attributes: { latency: 1 }, stream: "downstream" });
      await waitFor(6 * 1024 * 1024);
      proxy.toxics.remove("slices");
      proxy.toxics.remove("late");
      phase = "after";
      await sent;
      const { hash, bytes } = await back;
      expect(bytes).toBe(data.length);
      expect(hash).toBe(sha256(data));
      expect(touched.before).toBeGreaterThan(0);
      expect(touched.during).toBeGreaterThan(0);
      expect(touched.after).toBeGreaterThan(0);
    });

    it("passes a client's reset on to the upstream as a reset", { timeout: 10_000 }, async () => {
      const server = net.createServer();
      const upstreamError = new Promise<NodeJS.ErrnoException>((resolve) => {
        server.on("connection", (c) => {
          c.on("error", resolve);
          c.once("data", () => client.resetAndDestroy());
        });
      });
      const { port } = await startProxy(await listen(server), { reuseReadBuffers, busyPollUs });
      const client = await connect(port);
      client.write("x");
      expect((await upstreamError).code).toBe("ECONNRESET");
    });
  },
);

describe("TcpProxy options", () => {
  it("proxies given one ReadBudget count against its one limit", () => {
    const readBudget = new ReadBudget(8 * 1024 * 1024);
    const make = () => new TcpProxy({ listen: "127.0.0.1:0", upstream: "127.0.0.1:9", readBudget });
    const [a, b] = [make(), make()];
    expect(readBudget.take(3 * 1024 * 1024)).toBe(true);
    expect(a.readBufferBytesInUse).toBe(3 * 1024 * 1024);
    expect(b.readBufferBytesInUse).toBe(3 * 1024 * 1024);
  });

  it("rejects a readBufferBytes outside 1 KiB–64 MiB (INVALID_OPTION)", () => {
    for (const readBufferBytes of [10, 1024.5, 65 * 1024 * 1024])
      expect(() => new TcpProxy({ listen: "127.0.0.1:0", upstream: "127.0.0.1:9", readBufferBytes })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTION" }),
      );
  });
});

describe("linkSockets with ReusedReads on both sides", () => {
  // With a 1 MiB writableHighWaterMark a write the kernel did not take whole still returns true, so
  // the source keeps reading while it is in flight: reusing its buffer then would corrupt the data.
  it("never reads into a buffer whose write is in flight: 64 MiB both ways, slow ends, SHA-256", {
    timeout: 60_000,
  }, async () => {
    const upstreamPort = await slowEcho();
    const handedOut = new Set<Uint8Array>();
    const counted = (reads: ReusedReads) => ({
      buffer: () => {
        const b = reads.onread.buffer();
        handedOut.add(b);
        return b;
      },
      callback: reads.onread.callback,
    });
    const port = await listen(
      net.createServer(
        { pauseOnConnect: true, allowHalfOpen: true, highWaterMark: 1024 * 1024 },
        (accepted) => {
          const clientReads = new ReusedReads();
          const client = adoptWithReusedBuffer(accepted, counted(clientReads)) as net.Socket;
          const upstreamReads = new ReusedReads();
          const upstream = net.connect({
            port: upstreamPort,
            host: "127.0.0.1",
            onread: counted(upstreamReads),
            // Node takes it (a Duplex option); @types/node leaves it out of connect's options.
            writableHighWaterMark: 1024 * 1024,
          } as net.NetConnectOpts);
          upstream.once("connect", () => {
            linkSockets(client, upstream, {
              toxics: new ToxicSet({ seed: 1 }),
              reads: { client: clientReads, upstream: upstreamReads },
            });
            client.resume();
          });
        },
      ),
    );
    const data = randomBytes(64 * 1024 * 1024);
    const s = await connect(port);
    const [back] = await Promise.all([slowHash(s), writeUneven(s, data)]);
    expect(back.bytes).toBe(data.length);
    expect(back.hash).toBe(sha256(data));
    // One buffer per side to start with; more means writes were in flight and reads moved on.
    expect(handedOut.size).toBeGreaterThan(2);
  });
});
