import dgram from "node:dgram";
import { UdpEchoServer } from "@netlab/udp";
import { describe, expect, it, vi } from "vitest";
import { UdpProxy, type UdpProxyDatagram, type UdpProxyOptions } from "../src/index.js";
import { cleanups } from "./cleanup.js";

/** A UDP echo on 127.0.0.1 and a UdpProxy in front of it, until the test ends. */
async function proxiedEcho(options: Partial<UdpProxyOptions> = {}): Promise<UdpProxy> {
  const echo = new UdpEchoServer({ host: "127.0.0.1", port: 0 });
  await echo.listen();
  const serving = echo.serveForever();
  cleanups.push(async () => {
    await echo.shutdown();
    await serving;
  });
  const proxy = new UdpProxy({
    listen: "127.0.0.1:0",
    upstream: `127.0.0.1:${echo.address.port}`,
    ...options,
  });
  await proxy.listen();
  cleanups.push(() => proxy.close());
  return proxy;
}

/** A client socket on 127.0.0.1 collecting what comes back. */
async function client(): Promise<{ socket: dgram.Socket; received: Buffer[] }> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => socket.close(() => r())));
  const received: Buffer[] = [];
  socket.on("message", (m) => received.push(m));
  return { socket, received };
}

const portOf = (proxy: UdpProxy) => Number(proxy.listenAddress.split(":").pop());

describe("UdpProxy reply limit", () => {
  it("sends one client address no more of the upstream's replies than its budget, and says so", async () => {
    // Loopback is exempt by default (it cannot be a forged source); limitLoopback puts it under test.
    const proxy = await proxiedEcho({
      limitLoopback: true,
      maxReplyBytesPerSecond: 1,
      replyBurstBytes: 10 * 128,
    });
    const limited: UdpProxyDatagram[] = [];
    proxy.on("datagram", (d) => d.rateLimited && limited.push(d));
    const { socket, received } = await client();
    for (let i = 0; i < 30; i++) socket.send(Buffer.alloc(100, i), portOf(proxy), "127.0.0.1");
    // 30 echoes come back to the proxy; 20 refused leaves exactly 10 sent on.
    await vi.waitFor(() => expect(proxy.rateLimited).toBe(20), { timeout: 3_000 });
    await vi.waitFor(() => expect(received).toHaveLength(10), { timeout: 3_000 });
    expect(received.map((m) => m[0])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(limited[0]).toMatchObject({
      direction: "downstream",
      bytes: 100,
      dropped: true,
      rateLimited: true,
    });
  });

  it("relays every reply to a loopback client by default", async () => {
    const proxy = await proxiedEcho({ maxReplyBytesPerSecond: 1, replyBurstBytes: 1 });
    const { socket, received } = await client();
    for (let i = 0; i < 30; i++) socket.send(Buffer.alloc(1_000, i), portOf(proxy), "127.0.0.1");
    await vi.waitFor(() => expect(received).toHaveLength(30), { timeout: 3_000 });
    expect(proxy.rateLimited).toBe(0);
    expect(proxy.replyLimiter.options.limitLoopback).toBe(false);
  });
});
