import { spawn } from "node:child_process";
import net from "node:net";
import os from "node:os";
import { fileURLToPath, pathToFileURL } from "node:url";
import { connectLocal, killChild, lineReader, sleep } from "../child.js";
import type { Report, Suite } from "../types.js";
import { fmt, hasCommand, median, nowMs, percentile } from "../util.js";

/**
 * Echo round trips: a `StreamRequestHandler` echo server (`TCPServer` + `EchoHandler`, lines
 * decoded and re-encoded) against a raw `net` echo server (bytes straight back) in the same run,
 * and Python's `socketserver.ThreadingTCPServer` when python3 is installed.
 *
 * Each server runs in its own child process (this file, run with `--serve KIND`), so the server's
 * CPU is its own: the child reports `process.cpuUsage()` on request, and CPU per round trip is the
 * difference over the measured window divided by the round trips. Python's CPU comes from
 * /proc/PID/stat. The client runs here: N connections, each sending a 32-byte line and waiting for
 * the reply before the next (a closed loop), for a fixed time after a warm-up. Runs of the servers
 * are interleaved and the median of the rounds is reported, so machine noise hits all alike.
 */
export const echoSuite: Suite = {
  name: "echo",
  description: "echo round trips: socketserver vs raw net (vs python3 socketserver)",
  async run(ctx) {
    // Many short interleaved rounds: the machine is shared, and noise comes in bursts that move a
    // whole round, so each server is compared with the raw server of its own round (paired ratios).
    const seconds = Math.max(0.8, 1.0 * ctx.scale);
    const rounds = Math.max(1, Math.round(9 * ctx.scale));
    // One line in flight per connection (the client sets the pace), and 8 (the server does: what
    // each can serve, the fair comparison with Python's threads).
    const loads: Load[] = [
      { conns: 1, depth: 1, kinds: ["raw", "await", "netlab", "chunks"] },
      { conns: 50, depth: 1, kinds: ["raw", "await", "netlab", "chunks", "python"] },
      { conns: 50, depth: 8, kinds: ["raw", "netlab", "python"] },
    ];
    const hasPython = hasCommand("python3");
    const loadBefore = os.loadavg()[0] ?? 0;
    const results = new Map<string, Measure[]>();
    const key = (kind: Kind, load: Load) => `${kind}@${load.conns}x${load.depth}`;

    for (let round = 0; round < rounds; round++) {
      for (const load of loads) {
        const all = load.kinds.filter((k) => k !== "python" || hasPython);
        // A different order each round, so no server always runs right after a given other one.
        const shift = round % all.length;
        const runKinds = [...all.slice(shift), ...all.slice(0, shift)];
        for (const kind of runKinds) {
          const server = await startEchoServer(kind);
          try {
            const m = await measure(server, load.conns, seconds, load.depth);
            const list = results.get(key(kind, load)) ?? [];
            list.push(m);
            results.set(key(kind, load), list);
            ctx.log(
              `round ${round + 1}/${rounds} ${kind} × ${load.conns} × ${load.depth}: ${fmt(m.perSecond, 0)} rt/s, p99 ${fmt(m.p99Ms, 3)} ms`,
            );
          } finally {
            await server.stop();
          }
        }
      }
    }

    const summary = (kind: Kind, load: Load) => summarise(results.get(key(kind, load)));
    /** Median over rounds of one server's figure over another's in the same round. */
    const pairedRatio = (kind: Kind, base: Kind, load: Load, pick: (m: Measure) => number | undefined) => {
      const ours = results.get(key(kind, load)) ?? [];
      const theirs = results.get(key(base, load)) ?? [];
      const ratios: number[] = [];
      ours.forEach((m, i) => {
        const a = pick(m);
        const b = theirs[i] ? pick(theirs[i]) : undefined;
        if (a !== undefined && b !== undefined && b > 0) ratios.push(a / b);
      });
      return ratios.length > 0 ? median(ratios) : undefined;
    };
    const paired = (kind: Kind, load: Load, pick: (m: Measure) => number | undefined) => {
      const r = pairedRatio(kind, "raw", load, pick);
      return r === undefined ? "–" : `${r.toFixed(2)}×`;
    };
    const rows: Array<Array<string | number>> = [];
    for (const load of loads) {
      for (const kind of load.kinds) {
        const s = summary(kind, load);
        if (!s) continue;
        rows.push([
          `${NAMES[kind]}`,
          load.depth === 1 ? load.conns : `${load.conns} × ${load.depth} in flight`,
          fmt(s.perSecond, 0),
          paired(kind, load, (m) => m.perSecond),
          fmt(s.p50Ms, 3),
          fmt(s.p99Ms, 3),
          paired(kind, load, (m) => m.p99Ms),
          s.cpuUsPerRt === undefined ? "–" : fmt(s.cpuUsPerRt, 2),
          paired(kind, load, (m) => m.cpuUsPerRt),
        ]);
      }
    }
    const notes = [
      `${rounds} interleaved round(s) of ${seconds} s per server and connection count, in a different order each round. Figures are medians of rounds; the × raw columns are the median of each round's ratio to the raw server of the same round (the machine's noise moves whole rounds, up to 2× here). Client: 32-byte lines, one in flight per connection (or 8, where the rows say so).`,
      "Server CPU: the server process's own user+system time (all its threads, GC included) over the measured window, per round trip.",
      "At 1 connection client and server play ping-pong: whether the scheduler keeps them on one core or wakes the other one for every message moves both rows by up to 2× from run to run (seen: raw net 6,300 or 14,000 round trips/s on the same machine). The 50-connection rows are the steadier comparison.",
      "socketserver EchoHandler decodes each line (UTF-8 checked) and writes a new string; raw net and `raw chunks` (a StreamRequestHandler echoing rfile.readChunk()) send the received bytes straight back, so the gap between the two socketserver rows is the cost of framing, and the gap between `raw chunks` and raw net the cost of the framework.",
      "`raw net, await loop` is raw net written the way a handle() is: one async function per connection that awaits each chunk and then its write. It is the floor for any await-style handler API; the gap between it and raw net is the cost of await itself, not of socketserver.",
      "With one line in flight the client sets the pace: it shares the 2 cores with the server, so no server gets far past raw net, and Python's ceiling is raw's too. With 8 in flight each server runs flat out, which measures what it can serve; there raw net echoes many lines per write while a line server answers line by line (batched by corking), so its × raw is lower.",
      "Targets (issue 3): socketserver ≥ 0.9 × raw round trips/s, ≤ 1.25 × raw CPU per round trip, p99 ≤ 1.3 × raw, ≥ 2 × python3 ThreadingTCPServer at 50 connections.",
    ];
    const load = Math.max(loadBefore, os.loadavg()[0] ?? 0);
    notes.push(
      `Load average during the run: ${load.toFixed(1)} on ${os.availableParallelism()} cores${load > os.availableParallelism() ? " (other programs were busy: throughput and p99 are noisy; CPU per round trip is the steadier figure)" : ""}.`,
    );
    for (const load of loads) {
      const vsPython = pairedRatio("netlab", "python", load, (m) => m.perSecond);
      if (vsPython === undefined) continue;
      notes.push(
        `At ${load.conns} connections × ${load.depth} in flight socketserver does ${vsPython.toFixed(2)}× python3's round trips/s (median of each round's ratio).`,
      );
    }
    if (!hasPython) notes.push("python3 not installed: no Python baseline in this run.");
    const report: Report = {
      title: "Echo round trips (socketserver vs raw net)",
      columns: [
        "server",
        "conns",
        "round trips/s",
        "× raw",
        "p50 ms",
        "p99 ms",
        "p99 × raw",
        "server CPU µs/rt",
        "CPU × raw",
      ],
      rows,
      notes,
    };
    return [report];
  },
};

type Kind = "raw" | "await" | "netlab" | "chunks" | "python";

/** A client load: connections, and lines each keeps in flight. */
interface Load {
  conns: number;
  depth: number;
  kinds: Kind[];
}

const NAMES: Record<Kind, string> = {
  raw: "raw net (baseline)",
  await: "raw net, await loop (reference)",
  netlab: "socketserver EchoHandler",
  chunks: "socketserver, raw chunks",
  python: "python3 ThreadingTCPServer",
};

interface Measure {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRt: number | undefined;
}

function summarise(list: Measure[] | undefined): Measure | undefined {
  if (!list || list.length === 0) return undefined;
  const cpu = list.map((m) => m.cpuUsPerRt).filter((c): c is number => c !== undefined);
  return {
    perSecond: median(list.map((m) => m.perSecond)),
    p50Ms: median(list.map((m) => m.p50Ms)),
    p99Ms: median(list.map((m) => m.p99Ms)),
    cpuUsPerRt: cpu.length > 0 ? median(cpu) : undefined,
  };
}

interface EchoServer {
  port: number;
  /** CPU time the server process has used so far, in µs. */
  cpuUs(): Promise<number | undefined>;
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
const LINE = Buffer.from(`${"x".repeat(31)}\n`);

const PYTHON_SERVER = `
import socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    disable_nagle_algorithm = True
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
class Server(socketserver.ThreadingTCPServer):
    def handle_error(self, request, client_address):
        pass  # the bench resets its connections at the end of a run
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 511
with Server(("127.0.0.1", 0), Echo) as s:
    print(s.server_address[1], flush=True)
    s.serve_forever()
`;

/** Starts a server child and waits for the port it prints. */
async function startEchoServer(kind: Kind): Promise<EchoServer> {
  const child =
    kind === "python"
      ? spawn("python3", ["-c", PYTHON_SERVER], { stdio: ["pipe", "pipe", "inherit"] })
      : spawn(process.execPath, [SELF, "--serve", kind], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = lineReader(child, "echo server child");
  const port = Number(await lines.next(10_000));
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${kind} echo server did not start`);
  return {
    port,
    async cpuUs() {
      if (kind === "python") return procCpuUs(child.pid);
      child.stdin?.write("cpu\n");
      return Number(await lines.next(5_000));
    },
    stop: () => killChild(child),
  };
}

/** user+system CPU of a process from /proc, in µs (Linux; undefined elsewhere). */
async function procCpuUs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const { readFileSync } = await import("node:fs");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/**
 * Runs `conns` closed-loop clients (callback style, so the client spends as little CPU as it can:
 * it shares the machine with the server) through a warm-up and then `seconds`, and measures the window.
 */
async function measure(server: EchoServer, conns: number, seconds: number, depth: number): Promise<Measure> {
  const sockets = await Promise.all(Array.from({ length: conns }, () => connectLocal(server.port)));
  let isMeasuring = false;
  let isRunning = true;
  let count = 0;
  const latencies: number[] = [];
  for (const socket of sockets) {
    let received = 0;
    const sentAt: number[] = [];
    const send = () => {
      sentAt.push(nowMs());
      socket.write(LINE);
    };
    socket.on("data", (d: Buffer) => {
      received += d.length;
      // Every reply is a whole echoed line: count them as they complete, in order.
      for (; received >= LINE.length; received -= LINE.length) {
        const at = sentAt.shift() ?? nowMs();
        if (isMeasuring) {
          count++;
          latencies.push(nowMs() - at);
        }
        if (isRunning) send();
      }
    });
    socket.on("error", () => {});
    for (let i = 0; i < depth; i++) send();
  }
  // Long enough for the JIT to settle on the hot path before measuring.
  await sleep(Math.max(500, Math.min(1_000, seconds * 250)));
  const cpuStart = await server.cpuUs();
  isMeasuring = true;
  const t0 = nowMs();
  await sleep(seconds * 1000);
  isMeasuring = false;
  const elapsed = nowMs() - t0;
  const measured = count;
  const cpuEnd = await server.cpuUs();
  isRunning = false;
  for (const s of sockets) s.destroy();
  return {
    perSecond: (measured / elapsed) * 1000,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    cpuUsPerRt:
      cpuStart === undefined || cpuEnd === undefined || measured === 0
        ? undefined
        : (cpuEnd - cpuStart) / measured,
  };
}

/** The child side: `node echo.js --serve raw|netlab` prints its port, answers `cpu` with µs used. */
async function serveChild(kind: string): Promise<void> {
  let port: number;
  if (kind === "raw") {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on("data", (d) => socket.write(d));
      socket.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0, backlog: 511 }, r));
    port = (server.address() as net.AddressInfo).port;
  } else if (kind === "await") {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      socket.on("error", () => {});
      void awaitLoopEcho(socket);
    });
    await new Promise<void>((r) => server.listen({ host: "127.0.0.1", port: 0, backlog: 511 }, r));
    port = (server.address() as net.AddressInfo).port;
  } else {
    const { TCPServer, EchoHandler, StreamRequestHandler } = await import("@netlab/socketserver");
    /** The framework without framing: what raw net does, through a handler. */
    class ChunkEcho extends StreamRequestHandler {
      override async handle(): Promise<void> {
        for (let c = await this.rfile.readChunk(); c; c = await this.rfile.readChunk())
          await this.wfile.write(c);
      }
    }
    const server = new TCPServer({ host: "127.0.0.1", port: 0 }, kind === "chunks" ? ChunkEcho : EchoHandler);
    await server.listen();
    void server.serveForever();
    port = server.address.port;
  }
  process.stdout.write(`${port}\n`);
  process.stdin.setEncoding("utf8").on("data", () => {
    const u = process.cpuUsage();
    process.stdout.write(`${u.user + u.system}\n`);
  });
}

/** Raw net as a handler would be written: await each chunk, then await the write (drain only when full). */
async function awaitLoopEcho(socket: net.Socket): Promise<void> {
  const chunks: Buffer[] = [];
  let wake: (() => void) | undefined;
  let isEnded = false;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  socket.on("data", (d: Buffer) => {
    chunks.push(d);
    poke();
  });
  socket.on("close", () => {
    isEnded = true;
    poke();
  });
  for (;;) {
    const chunk = chunks.shift();
    if (chunk === undefined) {
      if (isEnded) return;
      await new Promise<void>((r) => {
        wake = r;
      });
      continue;
    }
    if (!socket.write(chunk)) await new Promise((r) => socket.once("drain", r));
    else await undefined;
  }
}

if (
  process.argv[1] &&
  pathToFileURL(process.argv[1]).href === import.meta.url &&
  process.argv[2] === "--serve"
) {
  await serveChild(process.argv[3] ?? "raw");
}
