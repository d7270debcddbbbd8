import type dgram from "node:dgram";
import { describe, expect, it, vi } from "vitest";
import { roundTrip as echoRoundTrip, udpClient } from "../../../test/helpers/udp.js";
import {
  type EchoDatagram,
  MAX_UDP_PAYLOAD_BYTES,
  NetworkEmulator,
  ping,
  sendDatagram,
  type UdpEchoOptions,
  UdpEchoServer,
} from "../src/index.js";
import { serveUntilTestEnds } from "./helpers.js";

/** An echo server on 127.0.0.1, port 0, serving until the test ends. */
function startEcho(options: UdpEchoOptions = {}): Promise<UdpEchoServer> {
  return serveUntilTestEnds(new UdpEchoServer({ host: "127.0.0.1", port: 0, ...options }));
}

/** `roundTrip` with a 2 s wait: loopback echoes come back at once. */
const roundTrip = (socket: dgram.Socket, port: number, data: Buffer) =>
  echoRoundTrip(socket, port, data, 2_000);

describe("UDP echo server", () => {
  it("echoes datagrams of every size from 0 to 65,507 bytes unchanged", async () => {
    const server = await startEcho();
    const socket = await udpClient();
    for (const size of [0, 1, 20, 64, 1472, 1473, 8192, 32_768, MAX_UDP_PAYLOAD_BYTES]) {
      const data = Buffer.alloc(size, size & 0xff);
      if (size > 0) data[size - 1] = 0x7f;
      const echoed = await roundTrip(socket, server.address.port, data);
      expect(echoed.equals(data), `size ${size}`).toBe(true);
    }
    expect(server.counters.datagrams).toBe(9);
  });

  it("answers every sender at its own address", async () => {
    const server = await startEcho();
    const [a, b] = [await udpClient(), await udpClient()];
    const [ra, rb] = await Promise.all([
      roundTrip(a, server.address.port, Buffer.from("from a")),
      roundTrip(b, server.address.port, Buffer.from("from b")),
    ]);
    expect(ra.toString()).toBe("from a");
    expect(rb.toString()).toBe("from b");
  });

  it("emits a datagram event with the peer, size and fate", async () => {
    const server = await startEcho();
    const events: EchoDatagram[] = [];
    server.on("datagram", (d) => events.push(d));
    const socket = await udpClient();
    await roundTrip(socket, server.address.port, Buffer.from("hello"));
    expect(events).toEqual([
      {
        index: 1,
        peer: { address: "127.0.0.1", port: socket.address().port, family: "IPv4" },
        bytes: 5,
        fate: { dropped: false, delaysMs: [0], reordered: false },
        rateLimited: false,
      },
    ]);
  });

  it("drops exactly the datagrams its seeded emulator decides to drop", async () => {
    const options = { lossRate: 0.3, seed: 1234 };
    const server = await startEcho(options);
    const expected = new NetworkEmulator(options);
    const count = 300;
    let expectedReceived = 0;
    for (let i = 0; i < count; i++) if (!expected.decide().dropped) expectedReceived++;
    const s = await ping({ port: server.address.port, count, intervalMs: 2, timeoutMs: 500 }).run();
    expect(s.received).toBe(expectedReceived);
    expect(server.counters.dropped).toBe(count - expectedReceived);
    expect(s.lossPercent).toBeCloseTo((100 * (count - expectedReceived)) / count, 10);
  });

  it("delays replies by --delay, so a short timeout sees them late", async () => {
    const server = await startEcho({ delayMs: 150 });
    const s = await ping({
      port: server.address.port,
      count: 2,
      intervalMs: 250,
      timeoutMs: 50,
      lingerMs: 300,
    }).run();
    expect(s).toMatchObject({ transmitted: 2, received: 0, late: 2 });
  });

  it("sends duplicated datagrams twice, which the pinger counts", async () => {
    const server = await startEcho({ duplicateRate: 1, delayMs: 1 });
    const s = await ping({ port: server.address.port, count: 5, intervalMs: 10, lingerMs: 50 }).run();
    expect(s).toMatchObject({ transmitted: 5, received: 5, duplicates: 5 });
    expect(server.counters.duplicated).toBe(5);
  });

  it("reorders: a held-back reply comes after the next one", async () => {
    let n = 0;
    // Hold back every other datagram: draws 3 (reorder) of datagrams 1, 3, 5... are below the rate.
    const random = () => {
      const draw = n++ % 10;
      return draw === 2 ? 0 : 0.99;
    };
    const server = await startEcho({ reorderRate: 0.5, random });
    const s = await ping({ port: server.address.port, count: 4, intervalMs: 20, timeoutMs: 1000 }).run();
    expect(s.received).toBe(4);
    expect(s.reordered).toBe(2);
  });

  it("echoes no more to one source than its reply budget, and says so in counters and events", async () => {
    // Loopback is exempt by default (it cannot be a forged source); limitLoopback puts it under test.
    const burst = 10 * (100 + 28);
    const server = await startEcho({
      limitLoopback: true,
      maxReplyBytesPerSecond: 1,
      replyBurstBytes: burst,
    });
    const limited: EchoDatagram[] = [];
    server.on("datagram", (d) => d.rateLimited && limited.push(d));
    const socket = await udpClient();
    const echoed: Buffer[] = [];
    socket.on("message", (m) => echoed.push(m));
    for (let i = 0; i < 30; i++) socket.send(Buffer.alloc(100, i), server.address.port, "127.0.0.1");
    await vi.waitFor(() => expect(server.counters.datagrams).toBe(30), { timeout: 2_000 });
    // 20 refused of 30 leaves exactly 10 sent: once those 10 are here, no other can come.
    expect(server.counters.rateLimited).toBe(20);
    await vi.waitFor(() => expect(echoed).toHaveLength(10), { timeout: 2_000 });
    expect(echoed.map((m) => m[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(limited).toHaveLength(20);
    expect(limited[0]).toMatchObject({ index: 11, bytes: 100, fate: { dropped: true }, rateLimited: true });
    expect(server.counters.dropped).toBe(0);
  });

  it("echoes a loopback source at full speed by default", async () => {
    const server = await startEcho({ maxReplyBytesPerSecond: 1, replyBurstBytes: 1 });
    const p = await ping({ port: server.address.port, count: 20, intervalMs: 2, sizeBytes: 1_000 }).run();
    expect(p.received).toBe(20);
    expect(server.counters.rateLimited).toBe(0);
  });

  it("survives garbage and keeps serving", async () => {
    const server = await startEcho();
    const socket = await udpClient();
    for (let i = 0; i < 50; i++) socket.send(Buffer.from([i, 0xff, 0x00]), server.address.port, "127.0.0.1");
    socket.send(Buffer.alloc(0), server.address.port, "127.0.0.1");
    const { reply } = await sendDatagram({ port: server.address.port, data: "still there?", waitMs: 2000 });
    expect(reply?.packet.toString()).toBe("still there?");
    const p = await ping({ port: server.address.port, count: 5, intervalMs: 2 }).run();
    expect(p.received).toBe(5);
    expect(server.state).toBe("running");
  });

  it("refuses a port already in use with ADDRESS_IN_USE in one line", async () => {
    const first = await startEcho();
    const second = new UdpEchoServer({ port: first.address.port });
    const err = await second.listen().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("ADDRESS_IN_USE");
    expect((err as Error).message).toMatch(new RegExp(`${first.address.port}.*already in use`));
  });

  it("cancels scheduled replies on shutdown without errors", async () => {
    const server = new UdpEchoServer({ port: 0, delayMs: 100 });
    const errors: unknown[] = [];
    server.on("error", (e) => errors.push(e));
    await server.listen();
    const serving = server.serveForever();
    const socket = await udpClient();
    socket.send("x", server.address.port, "127.0.0.1");
    await new Promise<void>((r) => server.once("datagram", () => r()));
    await server.shutdown();
    await serving;
    expect(server.emulator.heldCount).toBe(0);
    expect(errors).toEqual([]);
  });

  it("applies recvBufferSize once bound", async () => {
    const server = await startEcho({ recvBufferSize: 1 << 20 });
    // Linux doubles the value asked for (and caps it at rmem_max).
    expect(server.recvBufferSize).toBeGreaterThan(200_000);
  });
});

describe("pinger accounting over an emulated network", () => {
  it.each([1, 2, 3, 4])(
    "every probe ends once, as a reply or a timeout, and the summary adds up (seed %i)",
    async (seed) => {
      const server = await startEcho({
        lossRate: 0.25,
        duplicateRate: 0.2,
        reorderRate: 0.2,
        // A held-back last reply must still come before its probe times out.
        reorderHoldMs: 20,
        delayMs: 3,
        jitterMs: 3,
        seed,
      });
      const pinger = ping({
        port: server.address.port,
        count: 60,
        intervalMs: 2,
        timeoutMs: 400,
        lingerMs: 50,
      });
      const onTime = new Map<number, number>();
      const timedOut = new Set<number>();
      let late = 0;
      let duplicates = 0;
      let reordered = 0;
      for await (const e of pinger) {
        if (e.type === "timeout") {
          expect(timedOut.has(e.seq) || onTime.has(e.seq)).toBe(false);
          timedOut.add(e.seq);
        } else if (e.type === "reply") {
          if (e.duplicate) duplicates++;
          else if (e.late) late++;
          else {
            expect(timedOut.has(e.seq)).toBe(false);
            onTime.set(e.seq, e.rttMs);
            if (e.reordered) reordered++;
          }
        }
      }
      const s = pinger.summary;
      expect(onTime.size + timedOut.size).toBe(60);
      expect(s).toMatchObject({
        transmitted: 60,
        received: onTime.size,
        late,
        duplicates,
        reordered,
        ignored: 0,
      });
      expect(s.lossPercent).toBeCloseTo((100 * (60 - onTime.size)) / 60, 10);
      // Every datagram the server did not drop came back: on time, late, or lost to nothing.
      expect(onTime.size + late).toBe(server.counters.datagrams - server.counters.dropped);
      const rtts = [...onTime.values()];
      expect(s.rtt?.minMs).toBe(Math.min(...rtts));
      expect(s.rtt?.maxMs).toBe(Math.max(...rtts));
    },
  );
});

describe("UDP echo server: the delay queue under a blast (#13)", () => {
  it("#13: queues at most maxQueuedBytes of delayed replies and counts the rest in counters.queueDrops", async () => {
    const server = await startEcho({ delayMs: 5_000, maxQueuedBytes: 3 * 1000 });
    const socket = await udpClient();
    // One at a time, so the kernel's receive buffer drops none: every datagram meets the emulator.
    for (let i = 0; i < 10; i++) {
      const next = new Promise<void>((resolve) => server.once("datagram", () => resolve()));
      socket.send(Buffer.alloc(1000, i), server.address.port, "127.0.0.1");
      await next;
    }
    expect(server.counters).toMatchObject({ datagrams: 10, dropped: 0, queueDrops: 7 });
    expect(server.emulator.queuedBytes).toBe(3000);
    expect(server.emulator.peakQueuedBytes).toBe(3000);
  });
});
