import dgram from "node:dgram";
import { once } from "node:events";
import net from "node:net";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { BusyPoll, TcpProxy, UdpProxy } from "../src/index.js";
import { cleanups, listen } from "./cleanup.js";

/** Turns the event loop until `poll` stops polling, at most `limit` times. */
async function turnsUntilIdle(poll: BusyPoll, limit: number): Promise<void> {
  for (let turns = 0; poll.isPolling && turns < limit; turns++) await nextTurn();
}

describe("BusyPoll", () => {
  it("polls for the window after a touch, then stops on its own", { timeout: 5000 }, async () => {
    const poll = new BusyPoll(1000);
    const start = performance.now();
    poll.touch(64);
    expect(poll.isPolling).toBe(true);
    await turnsUntilIdle(poll, 1_000_000);
    expect(poll.isPolling).toBe(false);
    // It kept the loop turning for the whole millisecond.
    expect(performance.now() - start).toBeGreaterThanOrEqual(1);
  });

  it("a touch while polling extends the window from then", { timeout: 5000 }, async () => {
    const poll = new BusyPoll(1000);
    poll.touch(64);
    const half = performance.now() + 0.5;
    while (performance.now() < half) await nextTurn();
    const touchedAt = performance.now();
    poll.touch(64);
    await turnsUntilIdle(poll, 1_000_000);
    expect(performance.now() - touchedAt).toBeGreaterThanOrEqual(1);
  });

  it("backs off after 4 windows in a row with no read; probes on one read in 16; pays again on a hit", {
    timeout: 5000,
  }, async () => {
    const poll = new BusyPoll(100);
    for (let miss = 0; miss < 4; miss++) {
      expect(poll.isPaying).toBe(true);
      poll.touch(64);
      expect(poll.isPolling).toBe(true);
      await turnsUntilIdle(poll, 1_000_000);
    }
    expect(poll.isPaying).toBe(false);
    for (let read = 1; read < 16; read++) {
      poll.touch(64);
      expect(poll.isPolling, `read ${read}`).toBe(false);
    }
    poll.touch(64); // the 16th: a probe
    expect(poll.isPolling).toBe(true);
    poll.touch(64); // a read within the probe's window: polling pays again
    expect(poll.isPaying).toBe(true);
    poll.stop();
  });

  it("a read of 64 KiB or more (bulk) starts no window", () => {
    const poll = new BusyPoll(1000);
    poll.touch(64 * 1024);
    expect(poll.isPolling).toBe(false);
    poll.touch(64 * 1024 - 1);
    expect(poll.isPolling).toBe(true);
    poll.stop();
  });

  it("0 never polls, and stop() ends a window at once", () => {
    const off = new BusyPoll(0);
    off.touch(64);
    expect(off.isPolling).toBe(false);
    const on = new BusyPoll(1000);
    on.touch(64);
    on.stop();
    expect(on.isPolling).toBe(false);
  });

  it("takes whole microseconds from 0 to 1000 only (INVALID_OPTION)", () => {
    for (const us of [-1, 1001, 1.5, Number.NaN])
      expect(() => new BusyPoll(us)).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    for (const busyPollUs of [-1, 5000])
      expect(() => new TcpProxy({ listen: "127.0.0.1:0", upstream: "127.0.0.1:9", busyPollUs })).toThrow(
        expect.objectContaining({ code: "INVALID_OPTION" }),
      );
  });
});

describe("busy polling through the proxies", () => {
  it("TcpProxy: 500 round trips come back in order, byte for byte", { timeout: 15_000 }, async () => {
    // The proxy resets both sides when the test closes it.
    const upstream = await listen(net.createServer((c) => c.on("error", () => {}).pipe(c)));
    const proxy = new TcpProxy({ listen: "127.0.0.1:0", upstream: `127.0.0.1:${upstream}`, busyPollUs: 100 });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const s = net.connect({ port: Number(proxy.listenAddress.split(":").pop()), host: "127.0.0.1" });
    s.on("error", () => {});
    cleanups.push(() => void s.destroy());
    await once(s, "connect");
    for (let i = 0; i < 500; i++) {
      const message = `ping ${i}\n`;
      s.write(message);
      const [reply] = (await once(s, "data")) as [Buffer];
      expect(reply.toString()).toBe(message);
    }
  });

  it("UdpProxy: every datagram comes back", { timeout: 15_000 }, async () => {
    const server = dgram.createSocket("udp4");
    server.on("message", (msg, from) => server.send(msg, from.port, from.address));
    server.bind(0, "127.0.0.1");
    await once(server, "listening");
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const proxy = new UdpProxy({
      listen: "127.0.0.1:0",
      upstream: `127.0.0.1:${server.address().port}`,
      busyPollUs: 100,
    });
    await proxy.listen();
    cleanups.push(() => proxy.close());
    const client = dgram.createSocket("udp4");
    cleanups.push(() => new Promise<void>((r) => client.close(() => r())));
    const port = Number(proxy.listenAddress.split(":").pop());
    for (let i = 0; i < 200; i++) {
      client.send(`datagram ${i}`, port, "127.0.0.1");
      const [msg] = (await once(client, "message")) as [Buffer];
      expect(msg.toString()).toBe(`datagram ${i}`);
    }
  });
});
