import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import http from "node:http";
import { fileURLToPath } from "node:url";
import type { Suite } from "../types.js";
import { fmt, hasCommand, median, nowMs, ratio } from "../util.js";

type UrlLib = typeof import("@netlab/url");
const SNAPSHOT = fileURLToPath(
  new URL("../../../packages/url/test/fixtures/python-snapshot.json", import.meta.url),
);
const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));

/** URL parsing against Python's urllib.parse and Node's URL; HTTP download against raw node:http, curl, Python. */
export const urlSuite: Suite = {
  name: "url",
  description:
    "urlsplit against python3 and Node's URL; urlopen/lab get downloads against node:http and curl",
  async run(ctx) {
    const lib = await import("@netlab/url");
    return [await parsing(lib, ctx.scale, ctx.log), await download(lib, ctx.scale, ctx.log)];
  },
};

async function parsing(lib: UrlLib, scale: number, log: (m: string) => void) {
  const snapshot = JSON.parse(readFileSync(SNAPSHOT, "utf8")) as {
    cases: Array<{ fn: string; args: unknown[]; kwargs: object; result?: unknown }>;
  };
  const urls = snapshot.cases
    .filter((c) => c.fn === "urlsplit" && c.result && Object.keys(c.kwargs).length === 0)
    .map((c) => c.args[0] as string);
  const reps = Math.max(20, Math.round(300 * scale));
  const total = urls.length * reps;
  log(`parsing ${urls.length} corpus URLs × ${reps}`);
  const time = (fn: (u: string) => unknown): number => {
    for (const u of urls) fn(u); // warm up
    const start = nowMs();
    for (let r = 0; r < reps; r++) for (const u of urls) fn(u);
    return ((nowMs() - start) * 1e6) / total;
  };
  const rows: Record<string, number> = {
    "@netlab/url urlsplit": time((u) => lib.urlsplit(u)),
    "@netlab/url urlsplit + .hostname": time((u) => lib.urlsplit(u).hostname),
    "Node new URL() (WHATWG)": time((u) => {
      try {
        return new URL(u);
      } catch {
        return undefined;
      }
    }),
  };
  if (hasCommand("python3")) {
    const script = `
import json, sys, time, urllib.parse as up
urls = json.load(sys.stdin); reps = ${reps}
for u in urls: up.urlsplit(u)
up.clear_cache()
t = time.perf_counter()
for _ in range(reps):
    up.clear_cache()  # urlsplit caches results; measure parsing, not the cache
    for u in urls: up.urlsplit(u)
print((time.perf_counter() - t) * 1e9 / (len(urls) * reps))
`;
    const r = spawnSync("python3", ["-c", script], { input: JSON.stringify(urls), encoding: "utf8" });
    if (r.status === 0) rows["python3 urllib.parse.urlsplit"] = Number(r.stdout.trim());
  }
  const py = rows["python3 urllib.parse.urlsplit"];
  return {
    title: `URL parsing (ns per URL, the ${urls.length} valid URLs of the differential corpus)`,
    columns: ["parser", "ns/URL", "× python3"],
    rows: Object.entries(rows).map(([name, ns]) => [name, fmt(ns, 0), ratio(ns, py)]),
    notes: [
      `${fmt(total, 0)} parses each. Lower is better. python3 clears urlsplit's cache every round so it parses too.`,
      "Node's URL normalizes and rejects (different work); it is here as the built-in reference.",
    ],
  };
}

const SERVER = `
const http = require("node:http");
const size = Number(process.argv[1]);
const chunk = Buffer.alloc(1024 * 1024, 120);
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-length": size });
  let left = size;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      left -= n;
      if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once("drain", pump);
    }
    res.end();
  };
  pump();
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
`;

async function startServer(size: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["-e", SERVER, String(size)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("bench server did not start in 10 s")), 10_000);
    child.stdout!.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve(Number(d.toString().trim()));
    });
  });
  return { child, port };
}

function rawGet(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let n = 0;
        res.on("data", (c: Buffer) => {
          n += c.length;
        });
        res.on("end", () => resolve(n));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

function spawnDownload(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

async function download(lib: UrlLib, scale: number, log: (m: string) => void) {
  const size = Math.max(16, Math.round(128 * scale)) * 1024 * 1024;
  const runs = scale < 0.5 ? 3 : 5;
  const { child, port } = await startServer(size);
  const url = `http://127.0.0.1:${port}/`;
  log(`downloading ${size / 1024 / 1024} MiB × ${runs} from a node:http server in another process`);
  const clients: Record<string, () => Promise<void>> = {
    "node:http get (baseline)": async () => {
      const n = await rawGet(url);
      if (n !== size) throw new Error(`raw get read ${n} of ${size} bytes`);
    },
    "@netlab/url urlopen": async () => {
      const res = await lib.urlopen(url);
      let n = 0;
      for await (const c of res.body) n += c.length;
      if (n !== size) throw new Error(`urlopen read ${n} of ${size} bytes`);
    },
    "Node fetch()": async () => {
      const res = await fetch(url);
      let n = 0;
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) n += c.length;
      if (n !== size) throw new Error(`fetch read ${n} of ${size} bytes`);
    },
    "lab get -o /dev/null (spawned)": () =>
      spawnDownload(process.execPath, [LAB_BIN, "get", "-s", "-o", "/dev/null", url]),
  };
  if (hasCommand("curl"))
    clients["curl -o /dev/null"] = () => spawnDownload("curl", ["-s", "-o", "/dev/null", url]);
  if (hasCommand("python3")) {
    const py = `import urllib.request,sys\nr=urllib.request.urlopen(sys.argv[1])\nwhile r.read(65536): pass`;
    clients["python3 urllib.request"] = () => spawnDownload("python3", ["-c", py, url]);
  }
  const times: Record<string, number[]> = {};
  try {
    // Interleaved so that machine noise hits every client alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, fn] of Object.entries(clients)) {
        const start = nowMs();
        await fn();
        const list = times[name] ?? [];
        list.push(nowMs() - start);
        times[name] = list;
      }
    }
  } finally {
    child.kill();
  }
  const mibps = (name: string) => size / 1024 / 1024 / (median(times[name]!) / 1000);
  const base = mibps("node:http get (baseline)");
  return {
    title: `HTTP download of ${size / 1024 / 1024} MiB on 127.0.0.1 (median of ${runs})`,
    columns: ["client", "MiB/s", "× node:http"],
    rows: Object.keys(clients).map((name) => [name, fmt(mibps(name), 0), ratio(mibps(name), base)]),
    notes: [
      "Higher is better. Spawned clients include their start-up (~50-200 ms), which weighs less as the body grows.",
      "The server is a separate node process writing 1 MiB chunks from memory with backpressure.",
    ],
  };
}
