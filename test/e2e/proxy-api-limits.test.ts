// `lab proxy --api` with the API's limits set from the command line (--api-max-body,
// --api-request-timeout, --api-max-proxies, …): each flag reaches the API, and a bad one is one
// usage line (exit 2) before anything listens.
import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import getPort from "get-port";
import { describe, expect, it } from "vitest";
import { parseSize } from "../../packages/core/src/index.js";
import { API_DEFAULTS } from "../../packages/proxy/src/index.js";
import { runLab, startLab } from "../helpers/lab.js";

/** `lab proxy --api 127.0.0.1:0 ARGS` (no upstream needed: nothing is proxied), and its API's URL. */
async function startApi(args: string[]): Promise<string> {
  return (await startApiLab(args)).url;
}

/** {@link startApi}, with the running lab too. */
async function startApiLab(args: string[]): Promise<{ url: string; lab: ReturnType<typeof startLab> }> {
  const lab = startLab([
    "proxy",
    "127.0.0.1:0",
    "127.0.0.1:9",
    "--no-check-upstream",
    "--api",
    "127.0.0.1:0",
    ...args,
  ]);
  const line = await lab.waitForOutput(/api on http:\/\/127\.0\.0\.1:\d+/);
  return { url: `http://127.0.0.1:${/:(\d+)$/.exec(line)?.[1]}`, lab };
}

async function post(url: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function newProxy(api: string, name: string) {
  const listen = `127.0.0.1:${await getPort({ host: "127.0.0.1" })}`;
  return post(`${api}/proxies`, JSON.stringify({ name, listen, upstream: "127.0.0.1:9" }));
}

describe("lab proxy --api: one Ctrl-C ends it", () => {
  it("with a proxy created through the API listening, SIGINT stops both and exits 0", {
    timeout: 15_000,
  }, async () => {
    const { url, lab } = await startApiLab([]);
    const listen = await getPort({ host: "127.0.0.1" });
    const made = await post(
      `${url}/proxies`,
      JSON.stringify({ name: "extra", listen: `127.0.0.1:${listen}`, upstream: "127.0.0.1:9" }),
    );
    expect(made.status).toBe(201);
    const code = await Promise.race([lab.stop("SIGINT"), delay(5_000).then(() => "still running after 5 s")]);
    expect(code).toBe(0);
    await expect(
      new Promise((resolve, reject) =>
        net.connect(listen, "127.0.0.1").on("connect", resolve).on("error", reject),
      ),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("lab proxy --api-*: the API's limits on the command line", () => {
  it("--api-max-proxies 2: two proxies are created, the third is a 400 that names the flag", {
    timeout: 20_000,
  }, async () => {
    const api = await startApi(["--api-max-proxies", "2"]);
    expect((await newProxy(api, "a")).status).toBe(201);
    expect((await newProxy(api, "b")).status).toBe(201);
    expect(await newProxy(api, "c")).toMatchObject({
      status: 400,
      body: {
        status: 400,
        error: "the API has created 2 proxies, its maxProxies",
        hint: expect.stringContaining("--api-max-proxies"),
      },
    });
    // The command line's own proxy is there too, and did not count.
    const proxies = (await (await fetch(`${api}/proxies`)).json()) as Record<string, unknown>;
    expect(Object.keys(proxies).sort()).toEqual(["a", "b", "proxy"]);
  });

  it("--api-max-body 1KiB: a 2 KiB body is answered 413, a small one is served", {
    timeout: 20_000,
  }, async () => {
    const api = await startApi(["--api-max-body", "1KiB"]);
    const big = JSON.stringify({ type: "latency", name: "x".repeat(2048) });
    expect(await post(`${api}/proxies/proxy/toxics`, big)).toMatchObject({
      status: 413,
      body: { error: "request body over 1.0 KiB" },
    });
    expect((await post(`${api}/proxies/proxy/toxics`, '{"type":"latency"}')).status).toBe(200);
  });

  it("--api-request-timeout 1s: a connection that sends half a request is closed after about 1 s", {
    timeout: 20_000,
  }, async () => {
    const api = await startApi(["--api-request-timeout", "1s"]);
    const s = net.connect({ host: "127.0.0.1", port: Number(new URL(api).port) });
    let reply = "";
    s.setEncoding("latin1").on("data", (d: string) => {
      reply += d; // read, so that 'end' and then 'close' can come
    });
    s.on("error", () => {});
    await new Promise((resolve) => s.once("connect", resolve));
    const t0 = performance.now();
    s.write('POST /proxies/proxy/toxics HTTP/1.1\r\nHost: api\r\nContent-Length: 18\r\n\r\n{"type":');
    await new Promise((resolve) => s.once("close", resolve));
    const ms = performance.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(API_DEFAULTS.requestTimeoutMs - 2_000); // not the default 10 s
    if (reply !== "") expect(reply).toMatch(/^HTTP\/1\.1 408 /);
  });

  it("--help lists every API limit with the library's default", { timeout: 15_000 }, async () => {
    const r = await runLab(["proxy", "--help"]);
    const help = r.stdout.replace(/\s+/g, " ");
    const shown = (flag: string) => new RegExp(`${flag} <\\w+> .*?\\(default: ([^)]+)\\)`).exec(help)?.[1];
    expect(parseSize(shown("--api-max-body") ?? "")).toBe(API_DEFAULTS.maxBodyBytes);
    expect(shown("--api-request-timeout")).toBe(`${API_DEFAULTS.requestTimeoutMs / 1000}s`);
    expect(Number(shown("--api-max-json-depth"))).toBe(API_DEFAULTS.maxJsonDepth);
    expect(Number(shown("--api-max-connections"))).toBe(API_DEFAULTS.maxConnections);
    expect(Number(shown("--api-max-proxies"))).toBe(API_DEFAULTS.maxProxies);
    expect(Number(shown("--api-max-toxics"))).toBe(API_DEFAULTS.maxToxics);
  });

  it("a bad value is exit 2 and one lab: line with its hint: 0, negative, NaN, a fraction, a wrong unit", {
    timeout: 20_000,
  }, async () => {
    const cases: [string, string, RegExp][] = [
      ["--api-max-body", "0", /^--api-max-body must be a size from 1 B to 64\.0 MiB .*got "0"$/],
      ["--api-max-body", "2s", /^--api-max-body must be a size .*got "2s"$/],
      ["--api-request-timeout", "-1", /^--api-request-timeout must be a time from 100ms to 1h .*got "-1"$/],
      ["--api-request-timeout", "1KiB", /^--api-request-timeout must be a time .*got "1KiB"$/],
      [
        "--api-max-json-depth",
        "NaN",
        /^--api-max-json-depth must be a whole number from 1 to 1000, got "NaN"$/,
      ],
      [
        "--api-max-connections",
        "0",
        /^--api-max-connections must be a whole number from 1 to 100000, got "0"$/,
      ],
      ["--api-max-proxies", "-2", /^--api-max-proxies must be a whole number from 1 to 65535, got "-2"$/],
      ["--api-max-toxics", "2.5", /^--api-max-toxics must be a whole number from 1 to 10000, got "2.5"$/],
    ];
    // At once: each exits before it listens, and one at a time they would be most of this file's time.
    const runs = await Promise.all(
      cases.map(([flag, value]) =>
        runLab(["proxy", "127.0.0.1:0", "127.0.0.1:9", "--api", "127.0.0.1:0", flag, value]),
      ),
    );
    for (const [i, [flag, value, message]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, `${flag} ${value}: ${r.stderr}`).toBe(2);
      const [first = "", ...rest] = r.stderr.trimEnd().split("\n");
      expect(first.replace(/^lab: /, ""), `${flag} ${value}`).toMatch(message);
      expect(first, `${flag} ${value}`).toMatch(/^lab: /);
      expect(rest, `${flag} ${value}`).toEqual(["hint: run 'lab proxy --help' for usage"]);
    }
  });

  it("an --api-* flag without --api is a usage error, as --tls-* without --tls", {
    timeout: 20_000,
  }, async () => {
    const cases = [["--api-max-proxies", "2"], ["--api-request-timeout", "1s"], ["--api-allow-remote"]];
    const runs = await Promise.all(
      cases.map((args) => runLab(["proxy", "127.0.0.1:0", "127.0.0.1:9", ...args])),
    );
    for (const [i, args] of cases.entries()) {
      expect(runs[i]!.code, runs[i]!.stderr).toBe(2);
      expect(runs[i]!.stderr).toBe(`lab: ${args[0]} needs --api\nhint: add --api (or --api HOST:PORT)\n`);
    }
  });

  it("a proxy the API creates takes the command line's data-path limits (--max-connections 1)", {
    timeout: 20_000,
  }, async () => {
    const echo = net.createServer((c) => c.on("error", () => {}).pipe(c));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    try {
      const api = await startApi(["--max-connections", "1", "--busy-poll", "20us"]);
      const port = await getPort({ host: "127.0.0.1" });
      const upstream = `127.0.0.1:${(echo.address() as net.AddressInfo).port}`;
      const made = await post(
        `${api}/proxies`,
        JSON.stringify({ name: "a", listen: `127.0.0.1:${port}`, upstream }),
      );
      expect(made.status).toBe(201);
      const first = net.connect({ host: "127.0.0.1", port });
      first.write("one");
      await new Promise<void>((r) => first.once("data", () => r()));
      // A second connection while the first is open is one too many: reset, never served.
      const second = net.connect({ host: "127.0.0.1", port });
      const error = await new Promise<NodeJS.ErrnoException>((r) => second.once("error", r));
      expect(error.code).toBe("ECONNRESET");
      first.destroy();
    } finally {
      echo.close();
    }
  });
});
