import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChatServer } from "@netlab/chat";
import { startWatch } from "@netlab/watch";
import type { Report, Suite } from "../types.js";
import { median, percentile } from "../util.js";

interface ChatRun {
  /** Messages per second the reader saw, first send to last receipt. */
  rate: number;
  /** This process's CPU time (all threads: the sink's writes too) per message, µs. */
  cpuUs: number;
  /** Send-to-receipt times, ms, one per message. */
  latencies: number[];
}

/**
 * One sender pushes `messages` chat lines through a chat server to one reader, all in this
 * process. `perSecond` paces the sender (Infinity: as fast as the socket takes them).
 */
async function chatRun(messages: number, perSecond: number): Promise<ChatRun> {
  const chat = new ChatServer({ port: 0, floodMessages: Number.POSITIVE_INFINITY });
  await chat.socketServer.listen();
  const serving = chat.socketServer.serveForever();
  const port = chat.socketServer.address.port;
  const connect = () =>
    new Promise<net.Socket>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
    });
  const reader = await connect();
  const sender = await connect();
  const sentAt = new Float64Array(messages);
  const latencies: number[] = [];
  let rest = "";
  let progressed: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve, reject) => {
    reader.setEncoding("utf8");
    reader.on("data", (chunk: string) => {
      const now = performance.now();
      const parts = (rest + chunk).split("\n");
      rest = parts.pop() ?? "";
      for (const p of parts) {
        const m = / m(\d+)$/.exec(p);
        if (m) latencies.push(now - sentAt[Number(m[1])]!);
      }
      progressed?.();
      if (latencies.length >= messages) resolve();
    });
    // A server that cut the reader off (too far behind) ends the run instead of hanging it.
    reader.once("close", () => reject(new Error(`the reader was closed after ${latencies.length} messages`)));
    timer = setTimeout(() => reject(new Error(`timed out after ${latencies.length} messages`)), 120_000);
  });
  done.catch(() => {});
  // Unpaced, at most this many messages in flight: the sender runs as fast as the chat delivers,
  // never so far ahead that the server cuts the reader off for an overlong queue.
  const window = 20_000;
  // A client joins the lobby with its first line; wait until the reader has seen the sender join.
  reader.write("ready\n");
  await new Promise((r) => setTimeout(r, 100));
  sender.write("ready\n");
  await new Promise((r) => setTimeout(r, 100));
  const started = performance.now();
  const cpu = process.cpuUsage();
  const batch = Number.isFinite(perSecond) ? Math.max(1, Math.round(perSecond / 1000)) : 500;
  for (let i = 0; i < messages; ) {
    if (Number.isFinite(perSecond)) {
      // Send what is due by now (about 1 ms worth), then yield until the next millisecond.
      const due = Math.min(messages, Math.floor(((performance.now() - started) * perSecond) / 1000) + 1);
      if (due <= i) {
        await new Promise((r) => setTimeout(r, 1));
        continue;
      }
      const now = performance.now();
      let text = "";
      for (; i < due; i++) {
        sentAt[i] = now;
        text += `m${i}\n`;
      }
      if (!sender.write(text)) await new Promise((r) => sender.once("drain", r));
    } else {
      while (i - latencies.length > window) {
        await Promise.race([new Promise<void>((r) => (progressed = r)), done]);
      }
      const now = performance.now();
      let text = "";
      for (const end = Math.min(messages, i + batch); i < end; i++) {
        sentAt[i] = now;
        text += `m${i}\n`;
      }
      if (!sender.write(text)) await new Promise((r) => sender.once("drain", r));
    }
  }
  await done;
  clearTimeout(timer);
  const rate = messages / ((performance.now() - started) / 1000);
  const used = process.cpuUsage(cpu);
  const cpuUs = (used.user + used.system) / messages;
  reader.destroy();
  sender.destroy();
  await chat.socketServer.shutdown();
  await serving;
  // Let the closed sockets and this run's garbage go before the next run starts measuring.
  await new Promise((r) => setTimeout(r, 250));
  return { rate, cpuUs, latencies };
}

/**
 * Paired rounds, A then B, B then A, … so drift in the machine's load falls on both alike; one
 * warm-up pair first. Returns each pair's B/A ratio of `measure`.
 */
async function pairedRatios(
  rounds: number,
  plain: () => Promise<number>,
  watched: () => Promise<number>,
  log: (s: string) => void,
): Promise<{ ratios: number[]; a: number[]; b: number[] }> {
  await plain();
  await watched();
  const ratios: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let x: number;
    let y: number;
    if (round % 2 === 0) {
      x = await plain();
      y = await watched();
    } else {
      y = await watched();
      x = await plain();
    }
    a.push(x);
    b.push(y);
    ratios.push(y / x);
    log(`round ${round + 1}: ${x.toFixed(1)} vs ${y.toFixed(1)} (${(y / x).toFixed(2)})`);
  }
  return { ratios, a, b };
}

const spread = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`;

let fifoCount = 0;

/**
 * The events file is a FIFO whose reader opens it and then reads nothing for `stallMs`: the
 * sink's ring fills and drops the oldest. Afterwards every seq from 1 to the last must appear
 * exactly once, either as a line or inside an `events.dropped` line's count.
 */
async function stalledRun(
  dir: string,
  messages: number,
  perSecond: number,
  stallMs: number,
): Promise<{ p99: number; dropped: number; lines: number; isExact: boolean }> {
  const fifo = join(dir, `stalled-${++fifoCount}.fifo`);
  spawnSync("mkfifo", [fifo]);
  // Opens the FIFO at once (so the writer's open returns), reads nothing for stallMs, then all.
  const child = spawn("sh", ["-c", `exec 3<"$0"; sleep ${stallMs / 1000}; cat <&3`, fifo], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (s: string) => {
    out += s;
  });
  const exited = new Promise((r) => child.once("exit", r));
  const watch = await startWatch({ events: { path: fifo } });
  let run: ChatRun;
  let dropped: number;
  try {
    run = await chatRun(messages, perSecond);
  } finally {
    dropped = (await watch.stop()).events;
  }
  await exited;
  const seen = new Set<number>();
  let isExact = true;
  let last = 0;
  let lines = 0;
  let droppedInFile = 0;
  for (const line of out.trimEnd().split("\n")) {
    const e = JSON.parse(line) as { seq: number; event: string; attrs: Record<string, number> };
    const count = e.event === "events.dropped" ? e.attrs["netlab.events.dropped"]! : 1;
    if (e.event === "events.dropped") droppedInFile += count;
    else lines++;
    for (let s = e.seq - count + 1; s <= e.seq; s++) {
      if (seen.has(s)) isExact = false;
      seen.add(s);
    }
    last = Math.max(last, e.seq);
  }
  if (seen.size !== last || droppedInFile !== dropped) isExact = false;
  return { p99: percentile(run.latencies, 0.99), dropped, lines, isExact };
}

/** `pnpm bench events`: chat with `--events=FILE` against without, paired in one process. */
export const eventsSuite: Suite = {
  name: "events",
  description: "chat messages/s and latency with an --events file against without (paired rounds)",
  async run(ctx) {
    // Enough for a second or more per run: shorter runs measure the JIT and the machine's mood.
    const messages = Math.round(200_000 * ctx.scale);
    const paced = Math.round(20_000 * ctx.scale);
    const rounds = 6;
    const dir = await mkdtemp(join(tmpdir(), "netlab-bench-events-"));
    let file = 0;
    const withEvents = async <T>(fn: () => Promise<T>): Promise<T> => {
      const watch = await startWatch({ events: { path: join(dir, `events-${file++}.jsonl`) } });
      try {
        return await fn();
      } finally {
        await watch.stop();
      }
    };
    try {
      ctx.log(`as fast as possible, ${messages} messages`);
      const maxRuns: { plain: ChatRun[]; watched: ChatRun[] } = { plain: [], watched: [] };
      const max = await pairedRatios(
        rounds,
        async () => {
          const r = await chatRun(messages, Number.POSITIVE_INFINITY);
          maxRuns.plain.push(r);
          return r.rate;
        },
        () =>
          withEvents(async () => {
            const r = await chatRun(messages, Number.POSITIVE_INFINITY);
            maxRuns.watched.push(r);
            return r.rate;
          }),
        ctx.log,
      );
      // The first of each list is the warm-up.
      const cpuRatios = maxRuns.plain.slice(1).map((r, i) => maxRuns.watched[i + 1]!.cpuUs / r.cpuUs);
      ctx.log(`10,000 msg/s, ${paced} messages: rate`);
      const pacedRuns: { plain: ChatRun[]; watched: ChatRun[] } = { plain: [], watched: [] };
      const pacedRate = await pairedRatios(
        rounds,
        async () => {
          const r = await chatRun(paced, 10_000);
          pacedRuns.plain.push(r);
          return r.rate;
        },
        () =>
          withEvents(async () => {
            const r = await chatRun(paced, 10_000);
            pacedRuns.watched.push(r);
            return r.rate;
          }),
        ctx.log,
      );
      const p99 = (runs: ChatRun[]) => median(runs.map((r) => percentile(r.latencies, 0.99)));
      const p99Ratios = pacedRuns.plain.slice(1).map((r, i) => {
        const w = pacedRuns.watched[i + 1]!;
        return percentile(w.latencies, 0.99) / percentile(r.latencies, 0.99);
      });
      const stallMs = Math.round(10_000 * Math.max(ctx.scale, 0.2));
      const stallMessages = Math.round((stallMs / 1000) * 10_000);
      ctx.log(`events reader stalled ${stallMs} ms, ${stallMessages} messages at 10,000 msg/s`);
      // Each stalled run is paired with a run of the same length without --events, alternating which
      // goes first; one pair alone swung from 0.47 × to 1.77 × between runs on a quiet machine.
      const stallPairs = 3;
      const stalledRuns: Array<Awaited<ReturnType<typeof stalledRun>>> = [];
      const plainP99s: number[] = [];
      for (let i = 0; i < stallPairs; i++) {
        const plain = async () => {
          plainP99s.push(percentile((await chatRun(stallMessages, 10_000)).latencies, 0.99));
        };
        const stall = async () => {
          stalledRuns.push(await stalledRun(dir, stallMessages, 10_000, stallMs));
        };
        if (i % 2 === 0) {
          await plain();
          await stall();
        } else {
          await stall();
          await plain();
        }
      }
      const stallRatios = stalledRuns.map((r, i) => r.p99 / plainP99s[i]!);
      const stalled = {
        lines: stalledRuns.reduce((n, r) => n + r.lines, 0),
        dropped: stalledRuns.reduce((n, r) => n + r.dropped, 0),
        isExact: stalledRuns.every((r) => r.isExact),
      };
      const basePlain = p99(pacedRuns.plain);
      const rows: Array<Array<string | number>> = [
        [
          "as fast as possible",
          Math.round(median(max.a)),
          Math.round(median(max.b)),
          median(max.ratios).toFixed(2),
          spread(max.ratios),
        ],
        [
          "as fast as possible: CPU µs per message",
          median(maxRuns.plain.slice(1).map((r) => r.cpuUs)).toFixed(2),
          median(maxRuns.watched.slice(1).map((r) => r.cpuUs)).toFixed(2),
          median(cpuRatios).toFixed(2),
          spread(cpuRatios),
        ],
        [
          "paced 10,000 msg/s: rate",
          Math.round(median(pacedRate.a)),
          Math.round(median(pacedRate.b)),
          median(pacedRate.ratios).toFixed(2),
          spread(pacedRate.ratios),
        ],
        [
          "paced 10,000 msg/s: p99 latency, ms",
          basePlain.toFixed(2),
          p99(pacedRuns.watched).toFixed(2),
          median(p99Ratios).toFixed(2),
          spread(p99Ratios),
        ],
        [
          `events reader stalled ${stallMs / 1000} s: p99 latency, ms`,
          median(plainP99s).toFixed(2),
          median(stalledRuns.map((r) => r.p99)).toFixed(2),
          median(stallRatios).toFixed(2),
          spread(stallRatios),
        ],
      ];
      const report: Report = {
        title: "chat with --events=FILE",
        columns: ["run", "without", "with --events", "× without (median)", "spread of pairs"],
        rows,
        notes: [
          `One sender to one reader through a chat server, all in this process; ${rounds} pairs after a warm-up pair, alternating which goes first; the ratio is each pair's, then the median. As fast as possible: ${messages} messages a run; paced: ${paced}.`,
          "CPU per message is this process's user+system time (the events file's writes included) over the run: steadier than the rate on a shared machine.",
          `Stalled reader: the events file is a FIFO read by nothing for ${stallMs / 1000} s, ${stallPairs} pairs; ${stalled.lines} lines arrived in all, ${stalled.dropped} dropped and reported; every seq accounted for exactly once: ${stalled.isExact ? "yes" : "NO"}.`,
          "Targets (issue #19): rate ≥ 0.90 × without at 10,000 msg/s; p99 ≤ 2 × with a stalled reader; the dropped count exact.",
        ],
      };
      return [report];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
