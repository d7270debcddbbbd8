import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { fileURLToPath } from "node:url";
import { spawnReady } from "../child.js";
import type { BenchContext, Report, Suite } from "../types.js";
import { fmt, hasCommand, nowMs, percentile, ratio } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));
/** The built @netlab/udp, for the child processes that use the library directly. */
const UDP_URL = import.meta.resolve("@netlab/udp");

/**
 * UDP figures: 64-byte ping-pong against `lab udp echo` (the real CLI on UDPServer) and baseline
 * echo servers in their own processes, then a bounded one-way blast into a receiver with the
 * default and a larger receive buffer, with iperf3 as a comparison when installed.
 */
export const udpSuite: Suite = {
  name: "udp",
  description: "64-byte ping-pong vs a raw dgram echo; one-way blast with and without a larger SO_RCVBUF",
  async run(ctx) {
    const children: ChildProcess[] = [];
    try {
      return [await pingPong(ctx, children), await blastReport(ctx, children)];
    } finally {
      for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Ping-pong

/** A raw `dgram` echo: the least any Node UDP server can do. */
const RAW_ECHO = `
import dgram from "node:dgram";
const s = dgram.createSocket("udp4");
s.on("message", (m, r) => s.send(m, r.port, r.address));
s.bind(0, "127.0.0.1", () => console.log("port " + s.address().port));`;

/** Python's socketserver.UDPServer echo: the design netlab's socketserver follows. */
const PY_ECHO = `
import socketserver
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)
with socketserver.UDPServer(("127.0.0.1", 0), Echo) as server:
    print("port", server.server_address[1], flush=True)
    server.serve_forever()`;

interface Server {
  name: string;
  port: number;
}

async function pingPong(ctx: BenchContext, children: ChildProcess[]): Promise<Report> {
  const servers: Server[] = [];
  const start = async (name: string, cmd: string, args: string[], pattern: RegExp) => {
    const { child, match } = await spawnReady(cmd, args, pattern);
    children.push(child);
    servers.push({ name, port: Number(match[1]) });
  };
  await start(
    "raw dgram echo (baseline)",
    process.execPath,
    ["--input-type=module", "-e", RAW_ECHO],
    /port (\d+)/,
  );
  await start(
    "lab udp echo",
    process.execPath,
    [LAB_BIN, "udp", "echo", "--port", "0"],
    /listening on udp [\d.]+:(\d+)/,
  );
  if (hasCommand("python3"))
    await start("python3 socketserver.UDPServer", "python3", ["-c", PY_ECHO], /port (\d+)/);
  if (hasCommand("socat")) {
    const port = await freeUdpPort();
    const { child } = await spawnReady(
      "socat",
      ["-d", "-d", `UDP4-LISTEN:${port},bind=127.0.0.1,reuseaddr`, "PIPE"],
      /listening on/,
    );
    children.push(child);
    servers.push({ name: "socat UDP-LISTEN PIPE", port });
  }

  const rounds = 10;
  const perRound = Math.max(200, Math.round(1000 * ctx.scale));
  const rtts = new Map<string, number[]>(servers.map((s) => [s.name, []]));
  const elapsed = new Map<string, number>(servers.map((s) => [s.name, 0]));
  const client = dgram.createSocket("udp4");
  await new Promise<void>((r) => client.bind(0, "127.0.0.1", () => r()));
  try {
    for (const s of servers) await roundTrips(client, s.port, 200); // warm-up
    // Interleaved rounds, so machine noise hits every server alike.
    for (let round = 0; round < rounds; round++) {
      for (const s of servers) {
        ctx.log(`ping-pong round ${round + 1}/${rounds}: ${s.name}`);
        const started = nowMs();
        rtts.get(s.name)!.push(...(await roundTrips(client, s.port, perRound)));
        elapsed.set(s.name, elapsed.get(s.name)! + nowMs() - started);
      }
    }
  } finally {
    client.close();
  }
  const stats = (name: string) => {
    const list = rtts.get(name)!;
    return {
      rate: (list.length * 1000) / elapsed.get(name)!,
      p50: percentile(list, 0.5),
      p99: percentile(list, 0.99),
    };
  };
  const base = stats(servers[0]!.name);
  return {
    title: "UDP ping-pong, 64-byte datagrams (one client, round trips in sequence)",
    columns: ["server", "round trips/s", "× baseline", "p50 µs", "p99 µs", "p99 × baseline"],
    rows: servers.map((s) => {
      const r = stats(s.name);
      return [
        s.name,
        fmt(r.rate, 0),
        ratio(r.rate, base.rate),
        fmt(r.p50 * 1000, 0),
        fmt(r.p99 * 1000, 0),
        ratio(r.p99, base.p99),
      ];
    }),
    notes: [
      `${rounds} interleaved rounds of ${perRound} round trips per server, after 200 warm-up; each server in its own process, the client a raw dgram socket in the bench process.`,
      "Targets: lab udp echo ≥ 0.9 × the raw dgram echo's round trips/s, p99 ≤ 1.3 ×.",
    ],
  };
}

/** `count` sequential 64-byte round trips to `port`; each RTT in ms. A lost datagram is re-sent after 200 ms. */
async function roundTrips(socket: dgram.Socket, port: number, count: number): Promise<number[]> {
  const payload = Buffer.alloc(64, 0x61);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    for (let attempt = 0; ; attempt++) {
      const started = nowMs();
      const got = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          socket.off("message", onMessage);
          resolve(false);
        }, 200);
        const onMessage = () => {
          clearTimeout(timer);
          resolve(true);
        };
        socket.once("message", onMessage);
        socket.send(payload, port, "127.0.0.1");
      });
      if (got) {
        out.push(nowMs() - started);
        break;
      }
      if (attempt >= 5) throw new Error(`no echo from port ${port} after 6 tries`);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// One-way blast

/**
 * A receiver in its own process: counts datagrams and notes when the last came; prints `port N`
 * once bound, and a JSON report for each line on stdin.
 */
const RECEIVER = `
const [kind, rcvbuf, url] = process.argv.slice(1);
let count = 0, last = 0;
const mark = () => { count++; last = performance.timeOrigin + performance.now(); };
let granted;
if (kind === "raw") {
  const dgram = await import("node:dgram");
  const s = dgram.createSocket("udp4");
  s.on("message", mark);
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  if (rcvbuf !== "0") s.setRecvBufferSize(Number(rcvbuf));
  granted = s.getRecvBufferSize();
  console.log("port " + s.address().port);
} else {
  const { UdpListener } = await import(url);
  const l = new UdpListener({ port: 0, ...(rcvbuf !== "0" ? { recvBufferSize: Number(rcvbuf) } : {}) });
  // The listener's own counter, read every 2 ms: a per-datagram event would add its cost to the figure.
  setInterval(() => {
    if (l.datagrams !== count) { count = l.datagrams; last = performance.timeOrigin + performance.now(); }
  }, 2).unref();
  await l.listen();
  void l.serveForever();
  granted = l.recvBufferSize;
  console.log("port " + l.address.port);
}
process.stdin.setEncoding("utf8").on("data", () => console.log(JSON.stringify({ count, last, granted })));`;

/** A sender in its own process: raw dgram or the library's blast(); prints a JSON report. */
const SENDER = `
const [kind, port, count, size, rate, url] = process.argv.slice(1);
const ratePps = Number(rate);
if (kind === "raw") {
  const dgram = await import("node:dgram");
  const s = dgram.createSocket("udp4");
  await new Promise((r) => s.connect(Number(port), "127.0.0.1", r));
  const window = 64, bufs = Array.from({ length: window }, () => Buffer.alloc(Number(size)));
  let sent = 0, inFlight = 0, wake;
  const startedAt = performance.timeOrigin + performance.now(), t0 = performance.now();
  const done = () => { inFlight--; wake?.(); };
  while (sent < Number(count)) {
    if (inFlight >= window) { await new Promise((r) => (wake = r)); continue; }
    if (ratePps > 0) {
      const wait = t0 + (sent * 1000) / ratePps - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    inFlight++; s.send(bufs[sent % window], done); sent++;
  }
  while (inFlight > 0) await new Promise((r) => (wake = r));
  console.log(JSON.stringify({ sent, startedAt, elapsedMs: performance.now() - t0 }));
  s.close();
} else {
  const { blast } = await import(url);
  const r = await blast({ port: Number(port), count: Number(count), sizeBytes: Number(size), ...(ratePps > 0 ? { ratePps } : {}) });
  console.log(JSON.stringify(r));
}`;

interface BlastRow {
  name: string;
  sender: "raw" | "lib" | "iperf3";
  ratePps: number;
  rcvbuf: number;
  sent: number;
  received: number;
  packetsPerSecond: number;
  lossPercent: number;
  granted?: number;
}

interface BlastCase {
  name: string;
  sender: "raw" | "lib";
  receiver: "raw" | "lib";
  rcvbuf: number;
  /** Datagrams per second to pace the sender at; 0 = as fast as it can. */
  ratePps: number;
}

async function blastReport(ctx: BenchContext, children: ChildProcess[]): Promise<Report> {
  const size = 1400;
  const count = Math.max(10_000, Math.round(30_000 * ctx.scale));
  const seconds = Math.max(1, Math.round(2 * ctx.scale));
  const bigBuffer = 8 * 1024 * 1024;
  const pairs = (ratePps: number): BlastCase[] => [
    { name: "raw dgram → raw dgram", sender: "raw", receiver: "raw", rcvbuf: 0, ratePps },
    { name: "raw dgram → raw dgram", sender: "raw", receiver: "raw", rcvbuf: bigBuffer, ratePps },
    { name: "blast() → UdpListener", sender: "lib", receiver: "lib", rcvbuf: 0, ratePps },
    { name: "blast() → UdpListener", sender: "lib", receiver: "lib", rcvbuf: bigBuffer, ratePps },
  ];

  // 1. iperf3 unpaced: the rate the target is measured against.
  let iperf: BlastRow | undefined;
  if (hasCommand("iperf3")) {
    ctx.log(`blast: iperf3 -u -b 0 -t ${seconds}`);
    iperf = await iperf3(seconds, size, children);
  }
  // 2. Every pair unpaced: what each side manages when the sender outruns the receiver.
  const unpaced = await medianRuns(ctx, pairs(0), count, size, children);
  // 3. Every pair paced at 0.7 × iperf3's delivered rate (or the raw baseline's, without iperf3).
  const reference = iperf?.packetsPerSecond ?? unpaced[0]!.packetsPerSecond;
  const paceRate = Math.round(0.7 * reference);
  const paced = await medianRuns(ctx, pairs(paceRate), count, size, children);

  const all = [...unpaced, ...paced];
  const rawTwin = (r: BlastRow) =>
    all.find((o) => o.sender === "raw" && o.ratePps === r.ratePps && o.rcvbuf === r.rcvbuf);
  const rows = [...(iperf ? [iperf] : []), ...all];
  return {
    title: `UDP one-way blast, ${fmt(count, 0)} × ${size}-byte datagrams`,
    columns: [
      "sender → receiver",
      "pace",
      "SO_RCVBUF",
      "delivered pkt/s",
      "× raw dgram",
      "× iperf3",
      "loss %",
    ],
    rows: rows.map((r) => [
      r.name,
      r.ratePps > 0 ? `${fmt(r.ratePps, 0)}/s` : "unpaced",
      r.granted === undefined
        ? "–"
        : `${r.rcvbuf > 0 ? "asked 8 MiB, " : "default, "}${fmt(r.granted / 1024, 0)} KiB`,
      fmt(r.packetsPerSecond, 0),
      r.sender === "lib" ? ratio(r.packetsPerSecond, rawTwin(r)?.packetsPerSecond) : "–",
      iperf ? ratio(r.packetsPerSecond, iperf.packetsPerSecond) : "–",
      fmt(r.lossPercent, 2),
    ]),
    notes: [
      "Sender and receiver each in their own process; delivered pkt/s = datagrams received / (last received − first sent); median of 3 interleaved runs per row. × raw dgram compares with the raw pair at the same pace and buffer.",
      iperf
        ? `iperf3 (C on both ends): \`iperf3 -u -b 0 -l ${size} -t ${seconds}\` on 127.0.0.1, with its own loss figure. The paced rows send at 0.7 × its delivered rate: the target is ≤ 1 % loss there for blast() → UdpListener with the larger buffer.`
        : "iperf3 is not installed (apt-get install iperf3): the paced rows send at 0.7 × the unpaced raw baseline instead.",
      "Unpaced, every sender outruns every receiver, so loss there measures the receiver. The kernel doubles the SO_RCVBUF asked for and caps it at 2 × net.core.rmem_max.",
    ],
  };
}

/** Runs each case 3 times, interleaved, and keeps the median run by delivered rate. */
async function medianRuns(
  ctx: BenchContext,
  cases: BlastCase[],
  count: number,
  size: number,
  children: ChildProcess[],
): Promise<BlastRow[]> {
  const repeats = 3;
  const results = cases.map((): BlastRow[] => []);
  for (let rep = 0; rep < repeats; rep++) {
    for (const [i, c] of cases.entries()) {
      const pace = c.ratePps > 0 ? `${c.ratePps}/s` : "unpaced";
      ctx.log(`blast ${rep + 1}/${repeats}: ${c.name}, ${pace}, SO_RCVBUF ${c.rcvbuf || "default"}`);
      results[i]!.push(await oneBlast(c, count, size, children));
    }
  }
  return results.map((runs) => {
    runs.sort((a, b) => a.packetsPerSecond - b.packetsPerSecond);
    return runs[Math.floor(runs.length / 2)]!;
  });
}

async function oneBlast(
  c: BlastCase,
  count: number,
  size: number,
  children: ChildProcess[],
): Promise<BlastRow> {
  const receiver = await spawnReady(
    process.execPath,
    ["--input-type=module", "-e", RECEIVER, c.receiver, String(c.rcvbuf), UDP_URL],
    /port (\d+)/,
  );
  children.push(receiver.child);
  try {
    const port = Number(receiver.match[1]);
    const sender = await runToEnd(process.execPath, [
      "--input-type=module",
      "-e",
      SENDER,
      c.sender,
      String(port),
      String(count),
      String(size),
      String(c.ratePps),
      UDP_URL,
    ]);
    const sent = JSON.parse(sender) as { sent: number; startedAt: number };
    // Wait until the receiver has drained its buffer: two reports in a row with the same count.
    let report = await ask(receiver.child);
    for (let i = 0; i < 100; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const next = await ask(receiver.child);
      if (next.count === report.count) break;
      report = next;
    }
    const spanMs = report.last - sent.startedAt;
    return {
      name: c.name,
      sender: c.sender,
      ratePps: c.ratePps,
      rcvbuf: c.rcvbuf,
      sent: sent.sent,
      received: report.count,
      packetsPerSecond: spanMs > 0 ? (report.count * 1000) / spanMs : 0,
      lossPercent: (100 * (sent.sent - report.count)) / sent.sent,
      granted: report.granted,
    };
  } finally {
    receiver.child.kill("SIGKILL");
  }
}

async function iperf3(
  seconds: number,
  size: number,
  children: ChildProcess[],
): Promise<BlastRow | undefined> {
  const port = await freeTcpAndUdpPort();
  const server = spawn("iperf3", ["-s", "-1", "-B", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  children.push(server);
  // iperf3 prints nothing machine-readable when ready: retry the client briefly until it connects.
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      const out = await runToEnd("iperf3", [
        "-c",
        "127.0.0.1",
        "-p",
        String(port),
        "-u",
        "-b",
        "0",
        "-l",
        String(size),
        "-t",
        String(seconds),
        "--json",
      ]);
      const sum = (
        JSON.parse(out) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } }
      ).end.sum;
      const received = sum.packets - sum.lost_packets;
      return {
        name: "iperf3 -u -b 0 (comparison)",
        sender: "iperf3",
        ratePps: 0,
        rcvbuf: 0,
        sent: sum.packets,
        received,
        packetsPerSecond: received / sum.seconds,
        lossPercent: (100 * sum.lost_packets) / Math.max(1, sum.packets),
      };
    } catch {
      // not listening yet
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Process helpers

/** Runs to the end (60 s at most) and resolves with stdout; rejects on a non-zero exit. */
function runToEnd(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} exited ${code}: ${err || out}`));
    });
  });
}

/** Asks a receiver for its report: one JSON line on stdout per line on stdin. */
function ask(child: ChildProcess): Promise<{ count: number; last: number; granted: number }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("receiver did not report")), 5000);
    child.stdout?.once("data", (d: Buffer) => {
      clearTimeout(timer);
      resolve(JSON.parse(d.toString().trim().split("\n").at(-1)!));
    });
    child.stdin?.write("report\n");
  });
}

/** A UDP port nothing is bound to right now. */
async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** iperf3 needs the same port free for TCP (control) and UDP (data). */
async function freeTcpAndUdpPort(): Promise<number> {
  const { default: getPort } = await import("get-port");
  for (let i = 0; i < 20; i++) {
    const port = await getPort({ host: "127.0.0.1" });
    const s = dgram.createSocket("udp4");
    const ok = await new Promise<boolean>((r) => {
      s.once("error", () => r(false));
      s.bind(port, "127.0.0.1", () => r(true));
    });
    await new Promise<void>((r) => s.close(() => r()));
    if (ok) return port;
  }
  throw new Error("no port free for both TCP and UDP");
}
