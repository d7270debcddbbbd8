// What one chat wake-up costs the server: one sender writes a batch of `lines` lines, `listeners`
// text-mode clients receive them, and the server's work per batch is counted. For deciding whether
// a change to the chat server's read, fan-out or write path pays (issue #16: each cluster node pays
// this once per XREAD reply). The server is the cluster bench's node (`bench/dist/suites/cluster.js
// --node`: one `lab server` without a cluster, or with --redis a node of one), or any script that
// prints its port (--server).
//
//   node bench/scripts/chat-wakeup.mjs [--repo DIR | --server FILE] [--redis URL] [--lines 1]
//                                      [--listeners 4] [--warm 300] [--n 500] [--native]
//                                      [--node-flags=--single-threaded]
//
// Default: the server runs under `valgrind --tool=callgrind` and the batches go in a closed loop
// (the next when every listener has the last): user-space instructions per batch, which do not
// move with the machine's load (the kernel's share, the writes that wake the listeners, is not in
// them). `warm` batches first, then `n` counted: at chat rates most of the server's code is still
// unoptimised after a few hundred wake-ups, so keep the counts near what a bench run sees. V8
// optimises on background threads, so when optimised code arrives depends on the machine's load;
// --node-flags=--single-threaded makes the count repeat exactly (compiles on the main thread).
// --native: no valgrind; a batch every 10 ms (as the cluster bench's senders), and the server's CPU
// per batch from /proc/PID/task/*/schedstat (user and system, idle CPU subtracted): load-dependent,
// so compare in pairs. Needs Linux and a built tree (pnpm build); callgrind mode needs valgrind.
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { callgrindControl, dumpedInstructions } from "./callgrind.mjs";

const { values: opts } = parseArgs({
  options: {
    repo: { type: "string", default: path.resolve(fileURLToPath(import.meta.url), "../../..") },
    server: { type: "string" },
    redis: { type: "string" },
    lines: { type: "string", default: "1" },
    listeners: { type: "string", default: "4" },
    warm: { type: "string", default: "300" },
    n: { type: "string", default: "500" },
    native: { type: "boolean", default: false },
    "node-flags": { type: "string", default: "" },
  },
});
const lines = Number(opts.lines);
const listenerCount = Number(opts.listeners);
const nodeArgs = opts.redis ? [opts.redis, `wakeup-${process.pid}`] : ["-", "-"];
const server = [
  ...opts["node-flags"].split(" ").filter(Boolean),
  ...(opts.server
    ? [opts.server]
    : [path.join(opts.repo, "bench/dist/suites/cluster.js"), "--node", ...nodeArgs]),
];
const outDir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-wakeup-"));
const outFile = path.join(outDir, "callgrind.out");
const child = opts.native
  ? spawn(process.execPath, server, { stdio: ["ignore", "pipe", "inherit"] })
  : spawn("valgrind", ["--tool=callgrind", `--callgrind-out-file=${outFile}`, process.execPath, ...server], {
      stdio: ["ignore", "pipe", "ignore"],
    });
const port = Number(
  await new Promise((resolve) => readline.createInterface({ input: child.stdout }).once("line", resolve)),
);

const connect = () =>
  new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(s));
    s.once("error", reject);
  });
const listeners = [];
let received = 0;
/** What closedLoop waits for: `received` reaching `target`. */
let target = Number.POSITIVE_INFINITY;
let reached = () => {};
for (let i = 0; i < listenerCount; i++) {
  const s = await connect();
  s.on("data", (d) => {
    // Lines; counted from zero once everyone joined, when only the sender's lines arrive.
    for (let at = d.indexOf(10); at !== -1; at = d.indexOf(10, at + 1)) received++;
    if (received >= target) reached();
  });
  listeners.push(s);
}
const sender = await connect();
sender.on("data", () => {});
// The clients join #lobby after the hello grace (300 ms); with a cluster their joins cross Redis.
const joined = Date.now() + (opts.native ? 1500 : 15_000);
while (Date.now() < joined) await new Promise((r) => setTimeout(r, 100));
received = 0;

let seq = 0;
function batch() {
  const out = [];
  for (let i = 0; i < lines; i++) out.push(`m ${seq++} some chat text of a usual length, about sixty bytes`);
  sender.write(`${out.join("\n")}\n`);
}

/** `count` batches, each sent when every listener has every line of the one before. */
async function closedLoop(count) {
  for (let b = 0; b < count; b++) {
    target = received + lines * listenerCount;
    const done = new Promise((resolve) => {
      reached = resolve;
    });
    batch();
    await done;
  }
  target = Number.POSITIVE_INFINITY;
}

/** callgrind takes a command only while the guest runs: batches go until it is taken. */
function callgrind(flag) {
  return callgrindControl(child.pid, flag, () => closedLoop(1));
}

/** The server's CPU so far, in ns: every thread's (the main one, GC and libuv helpers). */
function cpuNs() {
  let sum = 0;
  for (const t of fs.readdirSync(`/proc/${child.pid}/task`)) {
    try {
      sum += Number(fs.readFileSync(`/proc/${child.pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return sum;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const result = { server: server.join(" "), lines, listeners: listenerCount, load: os.loadavg()[0] };
if (opts.native) {
  const idle0 = cpuNs();
  const t0 = performance.now();
  await sleep(2000);
  const idleNsPerMs = (cpuNs() - idle0) / (performance.now() - t0);
  let sent = 0;
  const timer = setInterval(() => {
    batch();
    sent++;
  }, 10);
  while (sent < Number(opts.warm)) await sleep(50);
  const [s0, c0, w0] = [sent, cpuNs(), performance.now()];
  while (sent - s0 < Number(opts.n)) await sleep(50);
  const [s1, c1, w1] = [sent, cpuNs(), performance.now()];
  clearInterval(timer);
  result.batches = s1 - s0;
  result.cpuUsPerBatch = Math.round((c1 - c0 - idleNsPerMs * (w1 - w0)) / (s1 - s0) / 1000);
} else {
  await closedLoop(Number(opts.warm));
  await callgrind("-z");
  await closedLoop(Number(opts.n));
  await callgrind("-d");
  const instructions = dumpedInstructions(outDir);
  result.batches = Number(opts.n);
  result.instructionsPerBatch = Math.round(instructions / Number(opts.n));
}
for (const s of [...listeners, sender]) s.destroy();
child.kill("SIGKILL");
fs.rmSync(outDir, { recursive: true, force: true });
console.log(JSON.stringify(result));
