import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import type net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import getPort from "get-port";
import { connectLocal, killChild, lineReader, sleep } from "../child.js";
import type { Report, Suite } from "../types.js";
import { fmt, hasCommand, nowMs, percentile, ratio } from "../util.js";

/**
 * `lab server --cluster`: chat nodes joined through a redis-server this suite starts on a free port,
 * against one chat server without a cluster (the baseline) in the same run. Each node is a child
 * process (this file with `--node URL ID`, or `--node - -` for the single server), as `lab server`.
 *
 * Aggregate: `CLIENTS` clients spread over 1, 2 and 4 nodes, `SENDERS` of them sending with
 * `WINDOW` messages in flight (the next goes when the sender's own message comes back to it, so
 * every setup runs as fast as it can deliver); delivered = message lines received by all clients
 * per second.
 *
 * Cross-node latency: 4 nodes, one sender each at a fixed rate (open loop), 4 listeners per node;
 * the latency of a message is its receipt time minus its send time, counted only on nodes other
 * than the sender's. The same senders and listeners on one server give the single-node p99.
 */
export const clusterSuite: Suite = {
  name: "cluster",
  description: "lab server --cluster through Redis: deliveries/s on 1, 2, 4 nodes, cross-node p99",
  async run(ctx) {
    if (!hasCommand("redis-server")) {
      return [
        {
          title: "Chat cluster",
          columns: ["setup", "result"],
          rows: [["all", "skipped"]],
          notes: ["redis-server is not installed (sudo apt-get install redis-server)."],
        },
      ];
    }
    const seconds = Math.max(1, 3 * ctx.scale);
    const redis = await startRedis();
    try {
      const aggregate: Array<Array<string | number>> = [];
      const single = await withNodes(redis.url, 0, (ports) => closedLoop(ports, seconds));
      ctx.log(`single server: ${fmt(single, 0)} delivered/s`);
      aggregate.push(["one server, no cluster (baseline)", 0, fmt(single, 0), "1.00×"]);
      for (const n of [1, 2, 4]) {
        const d = await withNodes(redis.url, n, (ports) => closedLoop(ports, seconds));
        ctx.log(`${n} node(s): ${fmt(d, 0)} delivered/s`);
        aggregate.push([
          `lab server --cluster, ${n} node${n === 1 ? "" : "s"}`,
          n,
          fmt(d, 0),
          ratio(d, single),
        ]);
      }
      const latency: Array<Array<string | number>> = [];
      for (const rate of [500, 2_500]) {
        const base = await withNodes(redis.url, 0, (ports) =>
          openLoop([ports[0]!, ports[0]!, ports[0]!, ports[0]!], rate, seconds),
        );
        const cluster = await withNodes(redis.url, 4, (ports) => openLoop(ports, rate, seconds));
        ctx.log(
          `4 × ${rate} msg/s: cluster p99 ${fmt(cluster.p99Ms)} ms, one server p99 ${fmt(base.p99Ms)} ms`,
        );
        latency.push([
          `4 × ${rate} msg/s`,
          fmt(cluster.p50Ms),
          fmt(cluster.p99Ms),
          fmt(base.p99Ms),
          fmt(cluster.p99Ms - base.p99Ms),
          rate === 500 ? "≤ 10" : "≤ 25",
        ]);
      }
      return [
        {
          title: `Chat cluster: aggregate deliveries (${CLIENTS} clients, ${SENDERS} sending)`,
          columns: ["setup", "nodes", "delivered/s", "× one server"],
          rows: aggregate,
          notes: [
            `${CLIENTS} clients spread evenly over the nodes, ${SENDERS} senders with ${WINDOW} messages in flight each, ${seconds} s measured after a warm-up; one run each. Redis, every node and the clients share the machine's 2 cores, so more nodes here means more processes on the same cores, not more machines.`,
            "Every message goes through Redis (XADD, then each node's blocking XREAD), and a sender's next line waits until its message came back from the stream: the cost of one order for everyone.",
          ],
        },
        {
          title: "Chat cluster: cross-node latency",
          columns: [
            "load",
            "p50 ms",
            "p99 ms",
            "one server p99 ms",
            "p99 added by Redis, ms",
            "target p99 ms",
          ],
          rows: latency,
          notes: [
            `4 nodes, one sender per node at the given rate (a batch every 10 ms), ${LISTENERS} listeners per node; latency counted only on nodes other than the sender's. One server: the same senders and listeners on a single lab server without --cluster. ${seconds} s measured each.`,
          ],
        },
      ] satisfies Report[];
    } finally {
      await redis.stop();
    }
  },
};

const CLIENTS = 40;
const SENDERS = 8;
const WINDOW = 4;
const LISTENERS = 4;
const MESSAGE = /m (\d+) (\d+) (\d+\.\d+)$/;
const SELF = fileURLToPath(import.meta.url);

async function startRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await getPort({ host: "127.0.0.1" });
  const dir = mkdtempSync(join(tmpdir(), "netlab-bench-redis-"));
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("redis-server did not start in 10 s")), 10_000);
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  child.stdout?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await killChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `count` cluster nodes (0: one server without a cluster), calls `fn` with their ports, stops them. */
async function withNodes<T>(url: string, count: number, fn: (ports: number[]) => Promise<T>): Promise<T> {
  const children: ChildProcess[] = [];
  const run = String(Date.now());
  try {
    const ports: number[] = [];
    for (let i = 0; i < Math.max(1, count); i++) {
      const args = count === 0 ? ["-", "-"] : [url, `b${run}-${i}`];
      const child = spawn(process.execPath, [SELF, "--node", ...args], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(child);
      ports.push(Number(await lineReader(child, "cluster node").next(15_000)));
    }
    return await fn(ports);
  } finally {
    await Promise.all(children.map((c) => killChild(c)));
  }
}

interface Client {
  socket: net.Socket;
  onLine(fn: (line: string, at: number) => void): void;
}

async function clients(ports: number[], count: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < count; i++) {
    const socket = await connectLocal(ports[i % ports.length]!);
    socket.on("error", () => {});
    const handlers: Array<(line: string, at: number) => void> = [];
    let rest = "";
    socket.on("data", (chunk: Buffer) => {
      const at = nowMs();
      const parts = (rest + chunk.toString("latin1")).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) for (const h of handlers) h(line, at);
    });
    out.push({ socket, onLine: (fn) => handlers.push(fn) });
  }
  // Chat clients join after the hello grace (300 ms), then their joins cross the cluster.
  await sleep(1_000);
  return out;
}

/** Deliveries per second with every sender keeping WINDOW messages in flight. */
async function closedLoop(ports: number[], seconds: number): Promise<number> {
  const all = await clients(ports, CLIENTS);
  let isRunning = true;
  let isMeasuring = false;
  let delivered = 0;
  const seq = new Array<number>(SENDERS).fill(0);
  const send = (s: number) => {
    if (isRunning) all[s]!.socket.write(`m ${s} ${seq[s]!++} ${nowMs().toFixed(3)}\n`);
  };
  all.forEach((c, index) => {
    c.onLine((line) => {
      const m = MESSAGE.exec(line);
      if (!m) return;
      if (isMeasuring) delivered++;
      // A text client does not get its own line back: the next client in the ring releases it.
      const from = Number(m[1]);
      if (index === (from + 1) % all.length) send(from);
    });
  });
  for (let s = 0; s < SENDERS; s++) for (let w = 0; w < WINDOW; w++) send(s);
  await sleep(1_000);
  isMeasuring = true;
  const t0 = nowMs();
  await sleep(seconds * 1000);
  isMeasuring = false;
  const elapsed = nowMs() - t0;
  isRunning = false;
  for (const c of all) c.socket.destroy();
  return (delivered / elapsed) * 1000;
}

/** One sender per port at `rate` msg/s; latency of messages received on another port than the sender's. */
async function openLoop(
  ports: number[],
  rate: number,
  seconds: number,
): Promise<{ p50Ms: number; p99Ms: number }> {
  const senders = await clients(ports, ports.length);
  const listeners = await clients(
    ports.flatMap((p) => Array.from({ length: LISTENERS }, () => p)),
    ports.length * LISTENERS,
  );
  const isSingle = new Set(ports).size === 1;
  let isMeasuring = false;
  const latencies: number[] = [];
  listeners.forEach((c, index) => {
    const node = Math.floor(index / LISTENERS);
    c.onLine((line, at) => {
      if (!isMeasuring) return;
      const m = MESSAGE.exec(line);
      if (!m || (!isSingle && Number(m[1]) === node)) return;
      latencies.push(at - Number(m[3]));
    });
  });
  const perTick = rate / 100;
  let seq = 0;
  const timer = setInterval(() => {
    senders.forEach((c, s) => {
      const lines: string[] = [];
      for (let i = 0; i < perTick; i++) lines.push(`m ${s} ${seq++} ${nowMs().toFixed(3)}`);
      c.socket.write(`${lines.join("\n")}\n`);
    });
  }, 10);
  await sleep(1_000);
  isMeasuring = true;
  await sleep(seconds * 1000);
  isMeasuring = false;
  clearInterval(timer);
  for (const c of [...senders, ...listeners]) c.socket.destroy();
  return { p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) };
}

/** The child side: `node cluster.js --node URL ID` (or `- -`: no cluster) prints its port. */
async function serveNode(url: string, id: string): Promise<void> {
  const { ChatServer } = await import("@netlab/chat");
  let backend: import("@netlab/chat").ChatBackend | undefined;
  if (url !== "-") {
    const { RedisBackend } = await import("@netlab/chat-redis");
    backend = new RedisBackend({ url, nodeId: id });
  }
  const server = new ChatServer({
    port: 0,
    maxClients: 20_000,
    floodMessages: Number.POSITIVE_INFINITY,
    historySize: 0,
    idleTimeoutMs: Number.POSITIVE_INFINITY,
    ...(backend ? { backend } : {}),
  });
  const { port } = await server.listen();
  process.stdout.write(`${port}\n`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href && process.argv[2] === "--node") {
  await serveNode(process.argv[3] ?? "-", process.argv[4] ?? "-");
}
