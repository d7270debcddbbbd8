import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type net from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
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
 *
 * Both report the server processes' CPU per 1,000 messages (from /proc), and the notes carry the
 * XADD rate redis-benchmark gets on the same machine and the load average. For profiling:
 * NETLAB_BENCH_NODE_FLAGS="--cpu-prof --cpu-prof-dir=DIR" passes flags to every node process, and
 * NETLAB_BENCH_CLUSTER=latency runs the latency table only, and NETLAB_BENCH_CLUSTER_OPTIONS='{"…": …}'
 * gives every node RedisBackend options (to compare a setting paired, in alternate runs).
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
    // A p99 is decided by rare pauses: the latency rows measure longer than the throughput rows.
    const latencySeconds = Math.max(2, 5 * ctx.scale);
    // How long the latency runs send before measuring. A node's first seconds are not its steady
    // state: at 100 wake-ups a second V8 is still optimising the hot path tens of seconds in, and
    // its first young-generation collections promote everything the clients' connecting made.
    // NETLAB_BENCH_CLUSTER_WARM_UP_MS overrides it (1000 was the old value), for paired runs.
    const warmUpMs = Number(
      process.env.NETLAB_BENCH_CLUSTER_WARM_UP_MS ?? Math.max(1_000, 10_000 * ctx.scale),
    );
    const redis = await startRedis();
    try {
      const aggregate: Array<Array<string | number>> = [];
      // NETLAB_BENCH_CLUSTER=latency: the latency table only (a quicker loop while profiling).
      const isAggregate = process.env.NETLAB_BENCH_CLUSTER !== "latency";
      const single = isAggregate
        ? await withNodes(redis, 0, (nodes) => closedLoop(nodes, seconds))
        : { perSecond: Number.NaN, cpuPerK: Number.NaN };
      ctx.log(
        `single server: ${fmt(single.perSecond, 0)} delivered/s, ${fmt(single.cpuPerK)} CPU ms per 1,000 messages`,
      );
      aggregate.push([
        "one server, no cluster (baseline)",
        0,
        fmt(single.perSecond, 0),
        "1.00×",
        fmt(single.cpuPerK),
      ]);
      for (const n of isAggregate ? [1, 2, 4] : []) {
        const d = await withNodes(redis, n, (nodes) => closedLoop(nodes, seconds));
        ctx.log(
          `${n} node(s): ${fmt(d.perSecond, 0)} delivered/s, ${fmt(d.cpuPerK)} CPU ms per 1,000 messages`,
        );
        aggregate.push([
          `lab server --cluster, ${n} node${n === 1 ? "" : "s"}`,
          n,
          fmt(d.perSecond, 0),
          ratio(d.perSecond, single.perSecond),
          fmt(d.cpuPerK),
        ]);
      }
      const latency: Array<Array<string | number>> = [];
      // NETLAB_BENCH_CLUSTER_RATES=500: only these rates (msg/s per sender), for quicker paired runs.
      const rates = (process.env.NETLAB_BENCH_CLUSTER_RATES ?? "500,2500").split(",").map(Number);
      for (const rate of rates) {
        const base = await withNodes(redis, 0, (nodes) =>
          openLoop(nodes, [0, 0, 0, 0], rate, latencySeconds, warmUpMs),
        );
        const cluster = await withNodes(redis, 4, (nodes) =>
          openLoop(nodes, [0, 1, 2, 3], rate, latencySeconds, warmUpMs),
        );
        ctx.log(
          `4 × ${rate} msg/s: cluster p99 ${fmt(cluster.p99Ms)} ms, ${fmt(cluster.cpuPerK)} CPU ms per 1,000 (Redis ${fmt(cluster.redisCpuPerK)}), kept up ${fmt(cluster.keptUp * 100, 0)} %, the bench's clients ${fmt(cluster.clientCpuPerK)} CPU ms per 1,000, Redis calls per message: ${cluster.calls}, node wake-ups/s ${fmt(cluster.wakeupsPerSecond, 0)}, node writes per message ${fmt(cluster.writesPerMessage)}, node CPU in the kernel ${fmt(cluster.nodeSysShare * 100, 0)} %; one server p99 ${fmt(base.p99Ms)} ms, ${fmt(base.cpuPerK)} CPU ms per 1,000, wake-ups/s ${fmt(base.wakeupsPerSecond, 0)}, writes per message ${fmt(base.writesPerMessage)}, in the kernel ${fmt(base.nodeSysShare * 100, 0)} %`,
        );
        latency.push([
          `4 × ${rate} msg/s`,
          fmt(cluster.p50Ms),
          fmt(cluster.p99Ms),
          fmt(base.p99Ms),
          fmt(cluster.p99Ms - base.p99Ms),
          rate === 500 ? "≤ 10" : "≤ 25",
          `${fmt(cluster.keptUp * 100, 0)} %`,
          fmt(cluster.cpuPerK),
          fmt(base.cpuPerK),
        ]);
      }
      const ceiling = redisCeiling(redis);
      const load = loadavg()
        .map((l) => l.toFixed(1))
        .join(", ");
      return [
        {
          title: `Chat cluster: aggregate deliveries (${CLIENTS} clients, ${SENDERS} sending)`,
          columns: ["setup", "nodes", "delivered/s", "× one server", "CPU ms per 1,000 messages"],
          rows: aggregate,
          notes: [
            `${CLIENTS} clients spread evenly over the nodes, ${SENDERS} senders with ${WINDOW} messages in flight each, ${seconds} s measured after a warm-up; one run each. Redis, every node and the clients share the machine's 2 cores, so more nodes here means more processes on the same cores, not more machines.`,
            "Every message goes through Redis (XADD, then each node's blocking XREAD), and a sender's next line waits until its message came back from the stream: the cost of one order for everyone.",
            "CPU ms per 1,000 messages: user + system time of the server processes (every node and redis-server; the one server alone for the baseline) over the measured seconds, per 1,000 messages delivered (each to every client but its sender).",
            `What the machine can do at all (redis-benchmark on the same redis-server, same cores, 50 connections): ${ceiling}.`,
            `Load average at the end of this run (1, 5, 15 min): ${load}, on ${cpus().length} cores.`,
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
            "delivered / sent",
            "CPU ms per 1,000 (cluster)",
            "CPU ms per 1,000 (one server)",
          ],
          rows: latency,
          notes: [
            `4 nodes, one sender per node at the given rate (a batch every 10 ms), ${LISTENERS} listeners per node; latency counted only on nodes other than the sender's. One server: the same senders and listeners on a single lab server without --cluster. ${latencySeconds} s measured each, after ${warmUpMs / 1000} s of the same traffic (a node's first seconds, with V8 still optimising and its first collections promoting what connecting made, are slower: NETLAB_BENCH_CLUSTER_WARM_UP_MS=1000 measures them).`,
            "Delivered / sent: messages a listener received while measuring over messages sent meanwhile; under 100 % the nodes fell behind (a queue grows, and so does p99). CPU ms per 1,000: the server processes' user + system time per 1,000 messages received (nodes and redis-server; the one server alone).",
            "p99 added by Redis: cluster p99 minus one server's p99, at the same load.",
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

interface Redis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

async function startRedis(): Promise<Redis> {
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
    pid: child.pid ?? 0,
    async stop() {
      await killChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The XADD rate redis-server alone manages on this machine, one command per round trip and 16 in a
 * pipeline: the ceiling for any cluster on it (every message is one XADD).
 */
function redisCeiling(redis: Redis): string {
  if (!hasCommand("redis-benchmark")) return "redis-benchmark not installed";
  const port = new URL(redis.url).port;
  const rate = (pipeline: number) => {
    const r = spawnSync(
      "redis-benchmark",
      [
        "-p",
        port,
        "-q",
        "-n",
        "100000",
        "-P",
        String(pipeline),
        "XADD",
        "bench:ceiling",
        "MAXLEN",
        "~",
        "10000",
        "*",
        "e",
        "x".repeat(150),
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    const m = /([\d.]+) requests per second/.exec(r.stdout ?? "");
    return m ? `${fmt(Number(m[1]), 0)} XADD/s` : "–";
  };
  return `${rate(1)} one at a time, ${rate(16)} pipelined 16 deep`;
}

/** The nodes of one setup: their ports, and the CPU time the nodes and Redis have used so far. */
interface Nodes {
  ports: number[];
  /** Milliseconds of user + system CPU of the node processes and redis-server (NaN off Linux). */
  cpuMs(): number;
  /** The same for redis-server alone (0 for one server without a cluster). */
  redisCpuMs(): number;
  /** System (kernel) CPU milliseconds of the node processes alone. */
  nodeSysMs(): number;
  /** Redis's count of calls so far, by command (INFO commandstats): XADD, XREAD, EVALSHA… */
  redisCalls(): Map<string, number>;
  /** Times the node processes (not Redis) went to sleep and were woken so far (NaN off Linux). */
  nodeWakeups(): number;
  /** Write system calls (writev included) of the node processes so far (NaN off Linux). */
  nodeWrites(): number;
}

/** Runs `count` cluster nodes (0: one server without a cluster), calls `fn` with them, stops them. */
async function withNodes<T>(redis: Redis, count: number, fn: (nodes: Nodes) => Promise<T>): Promise<T> {
  const children: ChildProcess[] = [];
  const run = String(Date.now());
  // NETLAB_BENCH_NODE_FLAGS: node flags for the node processes (e.g. --cpu-prof --cpu-prof-dir=DIR).
  const flags = (process.env.NETLAB_BENCH_NODE_FLAGS ?? "").split(" ").filter(Boolean);
  try {
    const ports: number[] = [];
    for (let i = 0; i < Math.max(1, count); i++) {
      const args = count === 0 ? ["-", "-"] : [redis.url, `b${run}-${i}`];
      const child = spawn(process.execPath, [...flags, SELF, "--node", ...args], {
        stdio: ["pipe", "pipe", "inherit"],
      });
      children.push(child);
      ports.push(Number(await lineReader(child, "cluster node").next(15_000)));
    }
    const nodePids = children.map((c) => c.pid ?? 0);
    const pids = count > 0 ? [...nodePids, redis.pid] : nodePids;
    return await fn({
      ports,
      cpuMs: () => pids.reduce((sum, pid) => sum + processCpuMs(pid), 0),
      redisCpuMs: () => (count > 0 ? processCpuMs(redis.pid) : 0),
      nodeSysMs: () => nodePids.reduce((sum, pid) => sum + processCpuMs(pid, "system"), 0),
      nodeWakeups: () => nodePids.reduce((sum, pid) => sum + processWakeups(pid), 0),
      nodeWrites: () => nodePids.reduce((sum, pid) => sum + processWrites(pid), 0),
      redisCalls: () => redisCalls(redis),
    });
  } finally {
    // A profiled node writes its profile on a graceful exit only.
    if (flags.length > 0) await Promise.all(children.map((c) => stopChild(c)));
    await Promise.all(children.map((c) => killChild(c)));
  }
}

function redisCalls(redis: Redis): Map<string, number> {
  const r = spawnSync("redis-cli", ["-u", redis.url, "INFO", "commandstats"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  const calls = new Map<string, number>();
  for (const m of (r.stdout ?? "").matchAll(/cmdstat_(\w+):calls=(\d+)/g)) calls.set(m[1]!, Number(m[2]));
  return calls;
}

/** Calls per message of each command called more than 0.01 times a message between `a` and `b`. */
function callsPerMessage(a: Map<string, number>, b: Map<string, number>, messages: number): string {
  return [...b]
    .map(([cmd, n]) => [cmd, (n - (a.get(cmd) ?? 0)) / messages] as const)
    .filter(([, per]) => per >= 0.01)
    .sort((x, y) => y[1] - x[1])
    .map(([cmd, per]) => `${cmd} ${per.toFixed(2)}`)
    .join(", ");
}

/** User + system (or only `part`) CPU milliseconds of process `pid` from /proc (NaN where there is none). */
function processCpuMs(pid: number, part: "both" | "system" = "both"): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // After "(comm)": state is field 3, utime and stime fields 14 and 15, in clock ticks (100 Hz).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((part === "both" ? Number(fields[11]) : 0) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * Voluntary context switches of process `pid`'s main thread (from /proc): how often its event loop
 * slept and was woken, by a socket or a timer. NaN where there is no /proc.
 */
function processWakeups(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/\nvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** Write system calls of process `pid`, all threads (`syscw` in /proc/PID/io); NaN without it. */
function processWrites(pid: number): number {
  try {
    return Number(/\nsyscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** SIGTERM, then SIGKILL after 5 s: a node run with --cpu-prof writes its profile as it exits. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
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
async function closedLoop(nodes: Nodes, seconds: number): Promise<{ perSecond: number; cpuPerK: number }> {
  const all = await clients(nodes.ports, CLIENTS);
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
  const cpu0 = nodes.cpuMs();
  await sleep(seconds * 1000);
  isMeasuring = false;
  const elapsed = nowMs() - t0;
  const cpu = nodes.cpuMs() - cpu0;
  isRunning = false;
  for (const c of all) c.socket.destroy();
  // Every message reaches every client but its sender.
  const messages = delivered / (CLIENTS - 1);
  return { perSecond: (delivered / elapsed) * 1000, cpuPerK: (cpu / messages) * 1000 };
}

/**
 * One sender on each node `on[i]` at `rate` msg/s, LISTENERS listeners beside each; latency of the
 * messages a listener receives from a sender on another node (every message, on one server).
 */
async function openLoop(
  nodes: Nodes,
  on: number[],
  rate: number,
  seconds: number,
  warmUpMs: number,
): Promise<{
  p50Ms: number;
  p99Ms: number;
  cpuPerK: number;
  /** The bench's own clients (this process), per 1,000 messages received. */
  clientCpuPerK: number;
  keptUp: number;
  calls: string;
  /** The node processes' wake-ups per second, all nodes together. */
  wakeupsPerSecond: number;
  /** redis-server's share of cpuPerK. */
  redisCpuPerK: number;
  /** The node processes' write system calls per message received. */
  writesPerMessage: number;
  /** The node processes' kernel share of their CPU. */
  nodeSysShare: number;
}> {
  const ports = on.map((i) => nodes.ports[i]!);
  const senders = await clients(ports, ports.length);
  const listeners = await clients(
    ports.flatMap((p) => Array.from({ length: LISTENERS }, () => p)),
    ports.length * LISTENERS,
  );
  const isSingle = new Set(ports).size === 1;
  let isMeasuring = false;
  const latencies: number[] = [];
  // Messages the first listener received while measuring (every sender's): the CPU's denominator,
  // so that a cluster which falls behind is not credited with messages still queued.
  let received = 0;
  listeners.forEach((c, index) => {
    const node = Math.floor(index / LISTENERS);
    c.onLine((line, at) => {
      if (!isMeasuring) return;
      const m = MESSAGE.exec(line);
      if (m && index === 0) received++;
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
  await sleep(warmUpMs);
  isMeasuring = true;
  const seq0 = seq;
  const cpu0 = nodes.cpuMs();
  const own0 = process.cpuUsage();
  const calls0 = nodes.redisCalls();
  const wakeups0 = nodes.nodeWakeups();
  const redisCpu0 = nodes.redisCpuMs();
  const writes0 = nodes.nodeWrites();
  const sys0 = nodes.nodeSysMs();
  const t0 = nowMs();
  await sleep(seconds * 1000);
  isMeasuring = false;
  const wakeups = nodes.nodeWakeups() - wakeups0;
  const redisCpu = nodes.redisCpuMs() - redisCpu0;
  const writes = nodes.nodeWrites() - writes0;
  const sys = nodes.nodeSysMs() - sys0;
  const elapsedMs = nowMs() - t0;
  const cpu = nodes.cpuMs() - cpu0;
  const own = process.cpuUsage(own0);
  const calls = callsPerMessage(calls0, nodes.redisCalls(), received);
  clearInterval(timer);
  for (const c of [...senders, ...listeners]) c.socket.destroy();
  return {
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    cpuPerK: (cpu / received) * 1000,
    clientCpuPerK: ((own.user + own.system) / 1000 / received) * 1000,
    keptUp: received / (seq - seq0),
    calls,
    wakeupsPerSecond: (wakeups / elapsedMs) * 1000,
    redisCpuPerK: (redisCpu / received) * 1000,
    writesPerMessage: writes / received,
    nodeSysShare: sys / (cpu - redisCpu),
  };
}

/** The child side: `node cluster.js --node URL ID` (or `- -`: no cluster) prints its port. */
async function serveNode(url: string, id: string): Promise<void> {
  const { ChatServer } = await import("@netlab/chat");
  let backend: import("@netlab/chat").ChatBackend | undefined;
  if (url !== "-") {
    const { RedisBackend } = await import("@netlab/chat-redis");
    // NETLAB_BENCH_CLUSTER_OPTIONS: RedisBackend options as JSON, to compare settings paired.
    const extra = JSON.parse(process.env.NETLAB_BENCH_CLUSTER_OPTIONS ?? "{}") as object;
    backend = new RedisBackend({ ...extra, url, nodeId: id });
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
  if (process.env.NETLAB_BENCH_GC_LOG) logGcPauses(id);
  process.on("SIGTERM", () => process.exit(0));
  process.stdout.write(`${port}\n`);
}

/**
 * NETLAB_BENCH_GC_LOG=1: each node counts its garbage collections by kind and pause length (as V8
 * measured them) and writes one line a second to stderr, for finding where a latency tail comes from.
 */
function logGcPauses(id: string): void {
  const kinds: Record<number, string> = { 1: "minor", 2: "major", 4: "incremental", 8: "weak" };
  let pauses: string[] = [];
  let totalMs = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = kinds[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? "other";
      totalMs += e.duration;
      if (e.duration >= 1) pauses.push(`${kind} ${e.duration.toFixed(1)}`);
    }
  }).observe({ entryTypes: ["gc"] });
  setInterval(() => {
    process.stderr.write(
      `gc ${id}: ${totalMs.toFixed(1)} ms this second; ≥ 1 ms: ${pauses.join(", ") || "none"}\n`,
    );
    pauses = [];
    totalMs = 0;
  }, 1_000).unref();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href && process.argv[2] === "--node") {
  await serveNode(process.argv[3] ?? "-", process.argv[4] ?? "-");
}
