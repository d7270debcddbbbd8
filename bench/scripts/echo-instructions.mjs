// Instructions per echo round trip: a figure that does not move with the machine's load, for
// deciding whether a change to the read or write path pays. The server (one of the echo suite's
// kinds: raw, await, netlab, chunks) runs in a child under `valgrind --tool=callgrind`; this process
// is the client: `conns` connections, `depth` 32-byte lines in flight each, `warm` round trips per
// connection to let the JIT settle, then counters zeroed, `n` round trips per connection counted.
//
//   node bench/scripts/echo-instructions.mjs [--repo DIR] [--kind netlab] [--conns 50] [--depth 1]
//                                           [--warm 100] [--n 300] [--native]
//
// --repo points at another worktree's build (compare against main: `git worktree add`, pnpm
// install --offline, pnpm build there). --native skips valgrind and prints read/write syscalls and
// user/system CPU per round trip instead (CPU is load-dependent; syscalls are not).
// KEEP_DIR=dir keeps callgrind's dump there; with NODE_OPTIONS=--perf-basic-prof the JIT's
// addresses in it can be named from /tmp/perf-PID.map (where the instructions go, per function).
// Needs Linux, valgrind (callgrind_control) and a built tree (pnpm build).
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
    kind: { type: "string", default: "netlab" },
    conns: { type: "string", default: "50" },
    depth: { type: "string", default: "1" },
    warm: { type: "string", default: "100" },
    n: { type: "string", default: "300" },
    native: { type: "boolean", default: false },
  },
});
const conns = Number(opts.conns);
const depth = Number(opts.depth);
const LINE = Buffer.from(`${"x".repeat(31)}\n`);
const server = [path.join(opts.repo, "bench/dist/suites/echo.js"), "--serve", opts.kind];
const outDir = process.env.KEEP_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "echo-insns-"));
const outFile = path.join(outDir, "callgrind.out");
const child = opts.native
  ? spawn(process.execPath, server, { stdio: ["pipe", "pipe", "ignore"] })
  : spawn("valgrind", ["--tool=callgrind", `--callgrind-out-file=${outFile}`, process.execPath, ...server], {
      stdio: ["pipe", "pipe", "ignore"],
    });
const port = await new Promise((resolve) =>
  readline.createInterface({ input: child.stdout }).once("line", resolve),
);
const sockets = await Promise.all(
  Array.from(
    { length: conns },
    () =>
      new Promise((resolve) => {
        const s = net.connect(Number(port), "127.0.0.1", () => resolve(s));
        s.setNoDelay(true);
      }),
  ),
);

/** Every connection does `perConn` closed-loop round trips with `depth` lines in flight. */
function roundTrips(perConn) {
  return Promise.all(
    sockets.map(
      (s) =>
        new Promise((resolve) => {
          let received = 0;
          let sent = 0;
          let done = 0;
          const send = () => {
            if (sent < perConn) {
              sent++;
              s.write(LINE);
            }
          };
          const onData = (d) => {
            received += d.length;
            for (; received >= LINE.length; received -= LINE.length) {
              if (++done === perConn) {
                s.off("data", onData);
                resolve();
                return;
              }
              send();
            }
          };
          s.on("data", onData);
          for (let i = 0; i < depth; i++) send();
        }),
    ),
  );
}

/** callgrind reads a command only while the guest runs: one connection chats until it is taken. */
function callgrind(flag) {
  return callgrindControl(
    child.pid,
    flag,
    () =>
      new Promise((resolve) => {
        sockets[0].once("data", resolve);
        sockets[0].write(LINE);
      }),
  );
}

function procSnapshot() {
  const io = fs.readFileSync(`/proc/${child.pid}/io`, "utf8");
  const field = (name) => Number(io.match(new RegExp(`^${name}: (\\d+)`, "m"))[1]);
  const stat = fs.readFileSync(`/proc/${child.pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { reads: field("syscr"), writes: field("syscw"), userTicks: Number(f[11]), sysTicks: Number(f[12]) };
}

await roundTrips(Number(opts.warm));
const counted = conns * Number(opts.n);
const result = { kind: opts.kind, repo: opts.repo, conns, depth, roundTrips: counted };
if (opts.native) {
  const a = procSnapshot();
  await roundTrips(Number(opts.n));
  const b = procSnapshot();
  const per = (x) => Number((x / counted).toFixed(3));
  Object.assign(result, {
    readCallsPerRt: per(b.reads - a.reads),
    writeCallsPerRt: per(b.writes - a.writes),
    userUsPerRt: per((b.userTicks - a.userTicks) * 1e4),
    sysUsPerRt: per((b.sysTicks - a.sysTicks) * 1e4),
  });
} else {
  await callgrind("-z");
  await roundTrips(Number(opts.n));
  await callgrind("-d");
  const instructions = dumpedInstructions(outDir);
  result.instructionsPerRt = Math.round(instructions / counted);
}
for (const s of sockets) s.destroy();
child.kill("SIGTERM");
await new Promise((resolve) => child.once("exit", resolve));
if (!process.env.KEEP_DIR) fs.rmSync(outDir, { recursive: true, force: true });
console.log(JSON.stringify(result));
