import net from "node:net";
import getPort from "get-port";
import { Toxiproxy, ToxiproxyError } from "toxiproxy-node-client";
import { describe, expect, it } from "vitest";
import { startLab, startServer } from "../helpers/lab.js";

/** One byte out through `port`, one byte back: the round trip in ms. */
async function roundTrip(port: number): Promise<number> {
  const s = net.connect({ port, host: "127.0.0.1" });
  try {
    await new Promise((resolve, reject) => s.once("connect", resolve).once("error", reject));
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      s.once("data", resolve).once("error", reject);
      s.write("x\n"); // the echo server answers whole lines
    });
    return performance.now() - t0;
  } finally {
    s.destroy();
  }
}

/**
 * The latency toxic under test. A plain round trip through two lab processes takes a few ms on an
 * idle machine but went past 100 ms in 4 of 30 tries at load 12 on 2 cores, so "no toxic" is told
 * from "toxic" by a lag far above that, not by a bound on how fast the machine is.
 */
const LAG_MS = 1_000;

async function failsWith(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(ToxiproxyError);
    return (err as Error).message;
  }
  throw new Error("expected the request to fail");
}

describe("lab proxy --api, driven by toxiproxy-node-client 4.x unchanged", () => {
  it("creates proxies, adds, updates and removes toxics, resets, and answers errors as toxiproxy does", {
    timeout: 60_000,
  }, async () => {
    const { port: echo } = await startServer(
      (p) => ["server", "--mode", "echo", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const lab = startLab([
      "proxy",
      "127.0.0.1:0",
      `127.0.0.1:${echo}`,
      "--api",
      "127.0.0.1:0",
      "--seed",
      "1",
    ]);
    const apiLine = await lab.waitForOutput(/api on http:\/\/127\.0\.0\.1:(\d+)/);
    const api = `http://127.0.0.1:${/:(\d+)/.exec(apiLine)?.[1]}`;
    const toxiproxy = new Toxiproxy(api);

    expect(await toxiproxy.getVersion()).toContain("netlab");
    expect(Object.keys(await toxiproxy.getAll())).toEqual(["proxy"]);

    const listenPort = await getPort({ host: "127.0.0.1" });
    const proxy = await toxiproxy.createProxy({
      name: "echo",
      listen: `127.0.0.1:${listenPort}`,
      upstream: `127.0.0.1:${echo}`,
    });
    expect(proxy.enabled).toBe(true);
    expect(await roundTrip(listenPort)).toBeLessThan(LAG_MS);

    const toxic = await proxy.addToxic({
      name: "lag",
      type: "latency",
      stream: "downstream",
      toxicity: 1,
      attributes: { latency: LAG_MS, jitter: 0 },
    });
    expect(toxic.attributes).toEqual({ latency: LAG_MS, jitter: 0 });
    expect(await roundTrip(listenPort)).toBeGreaterThanOrEqual(LAG_MS - 5);
    const updated = await toxic.update({ ...toxic.toJson(), attributes: { latency: 150, jitter: 0 } });
    expect(updated.attributes).toEqual({ latency: 150, jitter: 0 });
    expect((await proxy.getToxic("lag")).attributes).toEqual({ latency: 150, jitter: 0 });

    // GET /connections: which toxics act on which connection.
    const s = net.connect({ port: listenPort, host: "127.0.0.1" });
    await new Promise((r) => s.once("connect", r));
    await new Promise((r) => {
      s.once("data", r); // an answer: the proxy has linked this connection
      s.write("y\n");
    });
    const connections = (await (await fetch(`${api}/connections`)).json()) as Record<
      string,
      Array<{ toxics: object }>
    >;
    expect(connections.echo?.[0]?.toxics).toEqual({ lag: true });
    s.destroy();

    expect(
      await failsWith(proxy.addToxic({ ...toxic.toJson(), attributes: { latency: 1, jitter: 0 } })),
    ).toContain("409");
    expect(await failsWith(toxiproxy.get("nope"))).toContain("404");
    expect(await failsWith(proxy.getToxic("nope"))).toContain("404");
    await toxic.remove();
    expect(await roundTrip(listenPort)).toBeLessThan(LAG_MS);

    const populated = await toxiproxy.populate([
      { name: "echo", listen: `127.0.0.1:${listenPort}`, upstream: `127.0.0.1:${echo}` },
      { name: "echo2", listen: "127.0.0.1:0", upstream: `127.0.0.1:${echo}` },
    ]);
    expect(Object.keys(populated).sort()).toEqual(["echo", "echo2"]);

    await proxy.addToxic({
      name: "hold",
      type: "timeout",
      stream: "upstream",
      toxicity: 1,
      attributes: { timeout: 0 },
    });
    await proxy.update({ ...proxy.toJson(), enabled: false });
    await expect(roundTrip(listenPort)).rejects.toThrow(/ECONNREFUSED/);
    await toxiproxy.reset(); // every proxy enabled, every toxic gone
    expect((await toxiproxy.get("echo")).enabled).toBe(true);
    expect(await roundTrip(listenPort)).toBeLessThan(LAG_MS);

    await (await toxiproxy.get("echo2")).remove();
    expect(Object.keys(await toxiproxy.getAll()).sort()).toEqual(["echo", "proxy"]);
  });

  it("answers a bad request with one JSON error: 400, 404, 409", { timeout: 30_000 }, async () => {
    const { port: echo } = await startServer(
      (p) => ["server", "--mode", "echo", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const lab = startLab(["proxy", "127.0.0.1:0", `127.0.0.1:${echo}`, "--api", "127.0.0.1:0"]);
    const apiLine = await lab.waitForOutput(/api on http:\/\/127\.0\.0\.1:(\d+)/);
    const api = `http://127.0.0.1:${/:(\d+)/.exec(apiLine)?.[1]}`;
    const post = async (path: string, body: string) => {
      const res = await fetch(`${api}${path}`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json" },
      });
      return {
        status: res.status,
        body: (await res.json()) as { error: string; status: number; hint?: string },
      };
    };
    expect(await post("/proxies/proxy/toxics", "{not json")).toMatchObject({
      status: 400,
      body: { error: "request body is not JSON", status: 400 },
    });
    expect(await post("/proxies/proxy/toxics", '{"type":"nope"}')).toMatchObject({
      status: 400,
      body: { error: "unknown toxic type 'nope'" },
    });
    expect(await post("/proxies/proxy/toxics", '{"type":"latency","stream":"sideways"}')).toMatchObject({
      status: 400,
    });
    expect(await post("/proxies/proxy/toxics", '{"type":"bandwidth","attributes":{"rate":0}}')).toMatchObject(
      {
        status: 400,
        body: { hint: "to stop data altogether, use the timeout toxic" },
      },
    );
    expect(await post("/proxies/proxy/toxics", '{"type":"latency","toxicity":-1}')).toMatchObject({
      status: 400,
    });
    expect(await post("/proxies/proxy/toxics", '{"type":"latency"}')).toMatchObject({ status: 200 });
    expect(await post("/proxies/proxy/toxics", '{"type":"latency"}')).toMatchObject({ status: 409 });
    expect(await post("/proxies/ghost/toxics", '{"type":"latency"}')).toMatchObject({
      status: 404,
      body: { error: "no proxy named 'ghost'" },
    });
    expect(
      await post("/proxies", `{"name":"proxy","listen":"127.0.0.1:0","upstream":"127.0.0.1:${echo}"}`),
    ).toMatchObject({
      status: 409,
    });
    expect(
      await post("/proxies", '{"name":"loop","listen":"127.0.0.1:6102","upstream":"127.0.0.1:6102"}'),
    ).toMatchObject({
      status: 400,
    });
    const res = await fetch(`${api}/nowhere`);
    expect(res.status).toBe(404);
  });

  it("refuses an API address other machines could reach unless told", { timeout: 15_000 }, async () => {
    const lab = startLab(["proxy", "127.0.0.1:0", "127.0.0.1:9", "--api", "0.0.0.0:0"]);
    expect(await lab.exited).toBe(2);
    expect(lab.stderr()).toMatch(
      /^lab: the API would listen on 0\.0\.0\.0:0, reachable from other machines\nhint: .*--api-allow-remote/,
    );
  });
});
