import { describe, expect, it } from "vitest";
import { blast, type ReceivedDatagram, UdpError, UdpListener } from "../src/index.js";
import { serveUntilTestEnds } from "./helpers.js";

describe("blast", () => {
  it("sends count datagrams of sizeBytes, each starting with its sequence number", async () => {
    const listener = await serveUntilTestEnds(new UdpListener({ port: 0, recvBufferSize: 4 * 1024 * 1024 }));
    const seqs: number[] = [];
    listener.on("datagram", (d: ReceivedDatagram) => {
      expect(d.packet.length).toBe(100);
      seqs.push(d.packet.readUInt32BE(0));
    });
    // Paced well below what any receiver takes, so none is lost on loopback.
    const r = await blast({ port: listener.address.port, count: 200, sizeBytes: 100, ratePps: 20_000 });
    expect(r).toMatchObject({ sent: 200, bytes: 20_000 });
    expect(r.packetsPerSecond).toBeGreaterThan(0);
    const deadline = Date.now() + 2000;
    while (listener.datagrams < 200 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it("paces to ratePps", async () => {
    const listener = await serveUntilTestEnds(new UdpListener({ port: 0, recvBufferSize: 4 * 1024 * 1024 }));
    const r = await blast({ port: listener.address.port, count: 100, sizeBytes: 64, ratePps: 1000 });
    // 100 datagrams at 1000/s: the last leaves at 99 ms at the earliest.
    expect(r.elapsedMs).toBeGreaterThanOrEqual(95);
  });

  it("rejects options out of range with INVALID_OPTION", async () => {
    for (const bad of [
      { sizeBytes: 3 },
      { sizeBytes: 65_508 },
      { windowSize: 0 },
      { count: -1 },
      { ratePps: 0 },
    ]) {
      const err = await blast({ port: 9, count: 1, ...bad }).catch((e: unknown) => e);
      expect(err, JSON.stringify(bad)).toBeInstanceOf(UdpError);
      expect((err as UdpError).code).toBe("INVALID_OPTION");
    }
  });
});
