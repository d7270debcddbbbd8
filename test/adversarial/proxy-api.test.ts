// Hostile clients of `lab proxy --api` (toxiproxy's HTTP API): a request that never ends, a body
// too big, a JSON bomb, a crowd of idle connections, names and numbers no proxy should take. Each
// gets one JSON error (or a closed connection) and the API keeps serving everyone else.
import net from "node:net";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { API_DEFAULTS, ProxyApi, type ProxyApiOptions } from "../../packages/proxy/src/index.js";
import { startLab } from "../helpers/lab.js";
import { dribble } from "../helpers/slow-peer.js";
import { closedWithin, drainingConnection } from "../helpers/tcp.js";

const MiB = 1024 * 1024;
const ESC = "\u001b]0;PWNED\u0007\u009b2J";

async function startApi(options: ProxyApiOptions = {}): Promise<{ api: ProxyApi; port: number }> {
  const api = new ProxyApi({ listen: "127.0.0.1:0", seed: 1, ...options });
  await api.listen();
  onTestFinished(() => api.close());
  return { api, port: Number(api.address.split(":").pop()) };
}

interface RawReply {
  status: number;
  head: string;
  body: string;
  /** How the connection ended after the reply: the server closed it, or it stayed open. */
  closed: boolean;
}

/** Sends `request` as raw bytes and reads one HTTP reply (and whether the server then closes). */
function raw(port: number, request: string | Buffer, { waitClose = false } = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    onTestFinished(() => {
      s.destroy();
    });
    let data = Buffer.alloc(0);
    let closed = false;
    const finish = () => {
      const text = data.toString("utf8");
      const split = text.indexOf("\r\n\r\n");
      if (split < 0) return reject(new Error(`no reply before close: ${JSON.stringify(text)}`));
      const head = text.slice(0, split);
      resolve({ status: Number(head.split(" ")[1]), head, body: text.slice(split + 4), closed });
    };
    s.on("data", (c: Buffer) => {
      data = Buffer.concat([data, c]);
      const text = data.toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      const bodyBytes = split >= 0 ? data.length - Buffer.byteLength(text.slice(0, split + 4), "latin1") : -1;
      if (!waitClose && length !== undefined && bodyBytes >= Number(length)) {
        finish();
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      closed = true;
      finish();
    });
    s.write(request);
  });
}

function post(path: string, body: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([
    Buffer.from(`POST ${path} HTTP/1.1\r\nHost: api\r\nContent-Length: ${bytes.length}\r\n\r\n`),
    bytes,
  ]);
}

async function get(port: number, path: string): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

describe("proxy API: requests that never end", () => {
  it("closes a connection whose headers never end (slowloris) within requestTimeoutMs", async () => {
    const { port } = await startApi({ requestTimeoutMs: 400 });
    const s = await drainingConnection(port);
    void dribble(s, `GET /version HTTP/1.1\r\nHost: api\r\n${"X-Slow: y\r\n".repeat(100)}`, 20);
    const ms = await closedWithin(s, 3_000);
    expect(ms).toBeLessThan(2_000);
    expect((await get(port, "/version")).status).toBe(200);
  });

  it("closes a connection that connects and sends nothing within requestTimeoutMs", async () => {
    const { port } = await startApi({ requestTimeoutMs: 400 });
    const s = await drainingConnection(port);
    expect(await closedWithin(s, 3_000)).toBeLessThan(2_000);
  });

  it("closes a request whose body trickles past requestTimeoutMs", async () => {
    const { port } = await startApi({ requestTimeoutMs: 400 });
    const s = await drainingConnection(port);
    s.write("POST /proxies HTTP/1.1\r\nHost: api\r\nContent-Length: 1000\r\n\r\n{");
    void dribble(s, " ".repeat(500), 20);
    expect(await closedWithin(s, 3_000)).toBeLessThan(2_000);
  });

  it("has a default bound of 10 s, checked often enough to hold", () => {
    expect(API_DEFAULTS.requestTimeoutMs).toBe(10_000);
  });
});

describe("proxy API: bodies", () => {
  it("answers a 2 MiB body with 413 and a JSON error, then closes, without keeping it", async () => {
    const { port } = await startApi();
    const before = process.memoryUsage().rss;
    const r = await raw(port, post("/proxies", Buffer.alloc(2 * MiB, 0x20)), { waitClose: true });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ status: 413, error: "request body over 1.0 MiB" });
    expect(r.closed).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * MiB);
    expect((await get(port, "/version")).status).toBe(200);
  });

  it("answers 413 at once when Content-Length says too much, before any body comes", async () => {
    const { port } = await startApi();
    const r = await raw(
      port,
      `POST /proxies HTTP/1.1\r\nHost: api\r\nContent-Length: ${1024 * MiB}\r\n\r\n`,
      {
        waitClose: true,
      },
    );
    expect(r.status).toBe(413);
    expect(r.closed).toBe(true);
  });

  it("answers 413 to a chunked body that grows past the bound", async () => {
    const { port } = await startApi({ maxBodyBytes: 64 * 1024 });
    const chunk = Buffer.alloc(32 * 1024, 0x20);
    const parts: Buffer[] = [
      Buffer.from("POST /proxies HTTP/1.1\r\nHost: api\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ];
    for (let i = 0; i < 8; i++)
      parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
    const r = await raw(port, Buffer.concat(parts), { waitClose: true });
    expect(r.status).toBe(413);
  });

  it("answers a JSON bomb (200 000 nested arrays) with 400, not a stack overflow", async () => {
    const { port } = await startApi();
    const bomb = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    // Inside a name it used to reach JSON.stringify in the error message: a 500 "Maximum call stack".
    for (const [path, body] of [
      ["/proxies", bomb],
      ["/populate", bomb],
      ["/proxies/x/toxics", bomb],
      ["/proxies", `{"name":${bomb}}`],
    ]) {
      const r = await raw(port, post(path as string, body as string));
      expect(r.status, path).toBe(400);
      expect(JSON.parse(r.body).error).toBe("request body nests deeper than 32 levels");
    }
    const attrs = `{"type":"latency","attributes":{"latency":${"[".repeat(20)}1${"]".repeat(20)}}}`;
    const r = await raw(port, post("/proxies/x/toxics", attrs));
    expect(r.status).toBe(404); // depth 22 passes the parser; the proxy does not exist
  });

  it("answers invalid UTF-8 in a body with 400", async () => {
    const { port } = await startApi();
    const body = Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const r = await raw(port, post("/proxies", body));
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe("request body is not valid UTF-8");
  });

  it("answers a malformed %-escape in the path with 400, not 500", async () => {
    const { port } = await startApi();
    const r = await get(port, "/proxies/%ff%");
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ code: "BAD_REQUEST" });
  });
});

describe("proxy API: names and numbers", () => {
  it("rejects control codes in proxy and toxic names, and escapes them wherever they are echoed", async () => {
    const { api, port } = await startApi();
    const listen = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
    const upstream = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
    const bad = await raw(
      port,
      post("/proxies", JSON.stringify({ name: "\u001b]0;PWNED\u0007", listen, upstream })),
    );
    expect(bad.status).toBe(400);
    expect(bad.body).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(api.proxies.size).toBe(0);

    const ok = await raw(port, post("/proxies", JSON.stringify({ name: "p", listen, upstream })));
    expect(ok.status).toBe(201);
    const toxic = await raw(
      port,
      post("/proxies/p/toxics", JSON.stringify({ type: "latency", name: "x\u009b2J\u202e", attributes: {} })),
    );
    expect(toxic.status).toBe(400);
    // C1 CSI and a bidi override in a 404's message come back as \u escapes, not raw.
    const missing = await raw(port, "GET /proxies/%C2%9B2J%E2%80%AE HTTP/1.1\r\nHost: api\r\n\r\n");
    expect(missing.status).toBe(404);
    expect(missing.body).toContain("\\u009b2J\\u202e");
    expect(missing.body).not.toMatch(/[\u007f-\u009f\u202e]/);
    const unknownType = await raw(port, post("/proxies/p/toxics", JSON.stringify({ type: "\u009b2J" })));
    expect(unknownType.status).toBe(400);
    expect(unknownType.body).not.toMatch(/[\u007f-\u009f]/);
    const conns = await get(port, "/connections");
    expect(conns.json).toEqual({ p: [] });
  });

  it("answers a toxic with absurd numbers (1e308, negative, huge bandwidth, a string) with 400", async () => {
    const { port } = await startApi();
    const listen = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
    const upstream = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
    expect((await raw(port, post("/proxies", JSON.stringify({ name: "p", listen, upstream })))).status).toBe(
      201,
    );
    const cases = [
      { type: "latency", attributes: { latency: 1e308 } },
      { type: "latency", attributes: { latency: -1 } },
      { type: "latency", attributes: { latency: 100, jitter: 1e20 } },
      { type: "bandwidth", attributes: { rate: 1e308 } },
      { type: "bandwidth", attributes: { rate: -5 } },
      { type: "timeout", attributes: { timeout: "forever" } },
      { type: "slicer", attributes: { average_size: 1e300 } },
      { type: "latency", toxicity: 1e308 },
      { type: "latency", connection: -1 },
    ];
    for (const c of cases) {
      const r = await raw(port, post("/proxies/p/toxics", JSON.stringify(c)));
      expect(r.status, JSON.stringify(c)).toBe(400);
      expect(JSON.parse(r.body).error, JSON.stringify(c)).toMatch(/must be/);
    }
    expect((await get(port, "/proxies/p/toxics")).json).toEqual([]);
  });
});

describe("proxy API: many proxies and toxics", () => {
  it("stops at maxProxies proxies and maxToxics toxics per proxy with a 400 each", async () => {
    const { port } = await startApi({ maxProxies: 2, maxToxics: 3 });
    for (const name of ["a", "b", "c"]) {
      const listen = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
      const r = await raw(port, post("/proxies", JSON.stringify({ name, listen, upstream: "127.0.0.1:9" })));
      expect(r.status, name).toBe(name === "c" ? 400 : 201);
    }
    for (let i = 0; i < 4; i++) {
      const toxic = { type: "latency", name: `l${i}`, attributes: { latency: 1 } };
      const r = await raw(port, post("/proxies/a/toxics", JSON.stringify(toxic)));
      expect(r.status, `toxic ${i}`).toBe(i === 3 ? 400 : 200);
    }
    expect(API_DEFAULTS).toMatchObject({ maxProxies: 1_000, maxToxics: 64 });
  });

  it("refuses a toxic whose client holds control codes", async () => {
    const { port } = await startApi();
    const listen = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
    await raw(port, post("/proxies", JSON.stringify({ name: "p", listen, upstream: "127.0.0.1:9" })));
    const r = await raw(
      port,
      post("/proxies/p/toxics", JSON.stringify({ type: "latency", client: `1.2.3.4${ESC}` })),
    );
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body).error).toBe("'client' must be a host or host:port");
  });
});

describe("proxy API: many connections", () => {
  it("serves at most maxConnections at once, closes the rest, and serves again when they go", async () => {
    const { port } = await startApi({ maxConnections: 8, requestTimeoutMs: 5_000 });
    const held = await Promise.all(Array.from({ length: 8 }, () => drainingConnection(port)));
    const extra = await Promise.all(Array.from({ length: 20 }, () => drainingConnection(port)));
    await Promise.all(extra.map((s) => closedWithin(s, 3_000)));
    for (const s of held) s.destroy();
    await expect
      .poll(async () => (await get(port, "/version").catch(() => ({ status: 0 }))).status)
      .toBe(200);
  });
});

describe("proxy API: where it listens", () => {
  it("binds loopback by default and refuses another address without --api-allow-remote", async () => {
    expect(API_DEFAULTS.listen).toBe("127.0.0.1:8474");
    expect(() => new ProxyApi({ listen: "0.0.0.0:0" })).toThrow(/reachable from other machines/);
    const listen = await getPort({ host: "127.0.0.1" });
    const lab = startLab(["proxy", `:${listen}`, "127.0.0.1:9", "--api", "0.0.0.0:0"]);
    expect(await lab.exited).toBe(2);
    expect(lab.stderr()).toMatch(
      /^lab: the API would listen on 0\.0\.0\.0:0, reachable from other machines\nhint: .+\n$/,
    );
  });
});
