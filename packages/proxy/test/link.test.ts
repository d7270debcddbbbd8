import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { linkSockets, ToxicSet, type ToxicSpec } from "../src/index.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** An echo server, and an in-process listener that links each client to it through `toxics`. */
async function echoThrough(toxics: ToxicSet): Promise<number> {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  let id = 0;
  const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const upstream = net.connect({ port: (echo.address() as net.AddressInfo).port, host: "127.0.0.1" });
    upstream.once("connect", () => {
      linkSockets(client, upstream, { toxics, id: ++id });
      client.resume();
    });
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    proxy.close();
    echo.close();
  });
  return (proxy.address() as net.AddressInfo).port;
}

function roundTrip(port: number, payload: Buffer): Promise<{ data: Buffer; reads: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on("data", (d) => got.push(d));
    s.on("end", () => {
      s.end();
      resolve({ data: Buffer.concat(got), reads: got.length });
    });
    s.on("error", reject);
    s.once("connect", () => s.end(payload));
  });
}

describe("linkSockets", () => {
  it("passes 1 MiB and a half-close through with no toxics", { timeout: 10_000 }, async () => {
    const port = await echoThrough(new ToxicSet({ seed: 1 }));
    const payload = Buffer.alloc(1024 * 1024, 7);
    const { data } = await roundTrip(port, payload);
    expect(data.equals(payload)).toBe(true);
  });

  it.each<ToxicSpec>([
    { type: "latency", attributes: { latency: 20, jitter: 5 }, stream: "upstream" },
    { type: "slicer", attributes: { average_size: 1000, size_variation: 500 } },
    { type: "bandwidth", attributes: { rate: 10_000 } },
    { type: "line_split" },
    { type: "line_latency", attributes: { latency: 5 } },
    { type: "slow_close", attributes: { delay: 20 } },
  ])("keeps every byte in order through $type", { timeout: 10_000 }, async (spec) => {
    const port = await echoThrough(new ToxicSet({ seed: 1, toxics: [spec] }));
    const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => `line ${i}\n`).join(""));
    const { data } = await roundTrip(port, payload);
    expect(data.equals(payload)).toBe(true);
  });
});
