import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { clientTrust, connectTls } from "@netlab/tls";
import getPort from "get-port";
import { killChild, sleep } from "../child.js";
import type { Report, Suite } from "../types.js";
import { fmt, median, nowMs, percentile } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));
const MiB = 1024 * 1024;

/** A `lab` child whose stderr is watched for its ready line (and the TLS fingerprint). */
interface LabChild {
  child: ChildProcess;
  port: number;
  fingerprint: string | undefined;
}

async function startLab(
  args: (port: number) => string[],
  env: Record<string, string>,
  isTls: boolean,
): Promise<LabChild> {
  const port = await getPort({ host: "127.0.0.1" });
  const child = spawn(process.execPath, [LAB_BIN, ...args(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env, NO_COLOR: "1" },
  });
  let text = "";
  const fingerprint = await new Promise<string | undefined>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`lab ${args(port).join(" ")} not ready: ${text}`)),
      15_000,
    );
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      text += d;
      const ready = isTls
        ? /TLS identity (SHA256:\S+)/.exec(text)
        : /(listening|serving) .*127\.0\.0\.1:\d+/.exec(text);
      if (ready) {
        clearTimeout(timer);
        resolve(isTls ? ready[1] : undefined);
      }
    });
    child.once("exit", () => reject(new Error(`lab exited before it was ready: ${text}`)));
  });
  return { child, port, fingerprint };
}

/** Runs `lab ARGS` to the end; rejects on a non-zero exit. */
function runLab(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LAB_BIN, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, ...env, NO_COLOR: "1" },
    });
    let err = "";
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      err += d;
    });
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`lab ${args.join(" ")}: ${code} ${err}`)),
    );
  });
}

/** Connect + handshake + pin check + close, `count` times in a row; each duration in ms. */
async function handshakes(port: number, pin: string | undefined, count: number): Promise<number[]> {
  const trust = pin ? await clientTrust({ pin }) : undefined;
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = nowMs();
    const socket: net.Socket = trust
      ? (await connectTls({ host: "127.0.0.1", port, trust })).socket
      : await new Promise<net.Socket>((resolve, reject) => {
          const s = net.connect({ host: "127.0.0.1", port }, () => resolve(s));
          s.once("error", reject);
        });
    times.push(nowMs() - start);
    socket.destroy();
  }
  return times;
}

/** Writes `size` pseudo-random bytes. */
async function makeFile(file: string, size: number): Promise<void> {
  const cipher = createCipheriv("aes-256-ctr", createHash("sha256").update("tls").digest(), Buffer.alloc(16));
  const zeros = Buffer.alloc(MiB);
  const fh = await open(file, "w");
  try {
    for (let at = 0; at < size; at += MiB)
      await fh.write(cipher.update(zeros.subarray(0, Math.min(MiB, size - at))));
  } finally {
    await fh.close();
  }
}

const CLIENTS = 50;
const SENDERS = 5;
const WINDOW = 8;

/**
 * Chat fan-out against `port`: CLIENTS text-mode clients (TLS or not) in this process, SENDERS of
 * them sending with WINDOW messages in flight each (the next goes when client 0, a listener, has
 * received one); message lines delivered to all clients per second over `seconds`.
 */
async function fanOut(port: number, isTls: boolean, seconds: number): Promise<number> {
  const sockets: net.Socket[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) {
      const socket = await new Promise<net.Socket>((resolve, reject) => {
        const s: net.Socket = isTls
          ? tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => resolve(s))
          : net.connect({ host: "127.0.0.1", port, noDelay: true }, () => resolve(s));
        s.once("error", reject);
      });
      socket.setNoDelay(true);
      sockets.push(socket);
    }
    let delivered = 0;
    let isCounting = false;
    let isRunning = true;
    const send = (k: number) => {
      if (isRunning) sockets[k + 1]!.write(`m${k} ${"x".repeat(60)}\n`);
    };
    // Everyone joins in text mode (the server decides after its hello grace), senders take nicks s0…
    const joined = Promise.all(
      sockets.map(
        (s) =>
          new Promise<void>((resolve) => {
            let seen = "";
            const onData = (d: Buffer) => {
              seen += d.toString("latin1");
              if (seen.includes("joined #lobby")) {
                s.off("data", onData);
                resolve();
              }
            };
            s.on("data", onData);
          }),
      ),
    );
    await joined;
    let renamed = 0;
    let onRenamed: (() => void) | undefined;
    sockets.forEach((s, i) => {
      let rest = "";
      s.on("data", (d: Buffer) => {
        const text = rest + d.toString("latin1");
        const lines = text.split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          const m = /^<s(\d+)> m/.exec(line);
          if (!m) {
            if (i === 0 && / is now known as s\d+$/.test(line) && ++renamed === SENDERS) onRenamed?.();
            continue;
          }
          if (isCounting) delivered++;
          if (i === 0) send(Number(m[1]));
        }
      });
    });
    const allRenamed = new Promise<void>((resolve, reject) => {
      onRenamed = resolve;
      setTimeout(() => reject(new Error("the senders' /nick was not confirmed in 10 s")), 10_000).unref();
    });
    for (let k = 0; k < SENDERS; k++) sockets[k + 1]!.write(`/nick s${k}\n`);
    await allRenamed;
    for (let k = 0; k < SENDERS; k++) for (let w = 0; w < WINDOW; w++) send(k);
    await sleep(500); // warm-up
    isCounting = true;
    const start = nowMs();
    await sleep(seconds * 1000);
    isCounting = false;
    const rate = delivered / ((nowMs() - start) / 1000);
    isRunning = false;
    return rate;
  } finally {
    for (const s of sockets) s.destroy();
  }
}

/**
 * TLS costs, each paired with plaintext in the same run: handshake latency on loopback, a verified
 * `lab transfer` upload, and chat fan-out. Servers are `lab` child processes, as users run them.
 */
export const tlsSuite: Suite = {
  name: "tls",
  description: "TLS handshake p50/p99, verified transfer and chat fan-out over TLS vs plaintext",
  async run(ctx) {
    const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-bench-tls-"));
    const env = { XDG_CONFIG_HOME: path.join(dir, "config") };
    const rounds = ctx.scale >= 1 ? 3 : 1;
    const reports: Report[] = [];
    const loadBefore = os.loadavg()[0]!;
    try {
      // Handshakes: against `lab server --mode echo`, each connection pin-checked as --tls-pin does.
      const count = Math.max(50, Math.round(500 * ctx.scale));
      const plainTimes: number[] = [];
      const tlsTimes: number[] = [];
      for (let round = 0; round < rounds; round++) {
        for (const isTls of [false, true]) {
          const server = await startLab(
            (p) => ["server", "--mode", "echo", "--port", String(p), ...(isTls ? ["--tls"] : [])],
            env,
            isTls,
          );
          try {
            await handshakes(server.port, server.fingerprint, 20); // warm-up
            (isTls ? tlsTimes : plainTimes).push(
              ...(await handshakes(server.port, server.fingerprint, count)),
            );
          } finally {
            await killChild(server.child);
          }
        }
        ctx.log(`handshakes round ${round + 1}/${rounds}: TLS p50 ${fmt(median(tlsTimes), 2)} ms`);
      }
      reports.push({
        title: "TLS handshake on loopback",
        columns: ["connection", "count", "p50 ms", "p99 ms"],
        rows: [
          [
            "TCP connect (plaintext)",
            plainTimes.length,
            fmt(median(plainTimes), 2),
            fmt(percentile(plainTimes, 0.99), 2),
          ],
          [
            "TCP connect + TLS 1.3 handshake + pin check",
            tlsTimes.length,
            fmt(median(tlsTimes), 2),
            fmt(percentile(tlsTimes, 0.99), 2),
          ],
        ],
        notes: [
          "Client: connectTls from @netlab/tls in the bench process, one connection at a time, each closed before the next; server: `lab server --mode echo --tls` (netlab's own EC P-256 certificate).",
          "Targets (issue 15): p50 ≤ 5 ms, p99 ≤ 15 ms.",
          `Load average at the start: ${loadBefore.toFixed(1)} on ${os.cpus().length} cores (other work on the machine shows in p99 first).`,
        ],
      });

      // Verified transfer: the same upload through lab files / lab transfer, with and without --tls.
      const size = Math.max(32 * MiB, Math.round((512 * ctx.scale) | 0) * MiB);
      const shared = path.join(dir, "shared");
      await mkdir(shared);
      const src = path.join(dir, "src.bin");
      await makeFile(src, size);
      const transferSeconds: Record<"plain" | "tls", number[]> = { plain: [], tls: [] };
      const upload = async (kind: "plain" | "tls"): Promise<number> => {
        const isTls = kind === "tls";
        const server = await startLab(
          (p) => ["files", shared, "--no-fsync", "--port", String(p), ...(isTls ? ["--tls"] : [])],
          env,
          isTls,
        );
        try {
          // No dirty pages left by the last row to be written back during this one.
          spawnSync("sync");
          const start = nowMs();
          await runLab(
            [
              "transfer",
              src,
              "--name",
              "up.bin",
              "--overwrite",
              "--port",
              String(server.port),
              ...(isTls ? ["--tls", "--tls-pin", server.fingerprint!] : []),
            ],
            env,
          );
          return (nowMs() - start) / 1000;
        } finally {
          await killChild(server.child);
        }
      };
      await upload("plain"); // warm-up: the source file in the page cache, the binaries loaded
      for (let round = 0; round < rounds; round++) {
        // Alternate which goes first, so neither always follows the other's write-back.
        const order = round % 2 === 0 ? (["plain", "tls"] as const) : (["tls", "plain"] as const);
        for (const kind of order) transferSeconds[kind].push(await upload(kind));
        ctx.log(
          `transfer round ${round + 1}/${rounds}: plain ${fmt(transferSeconds.plain.at(-1)!, 2)} s, TLS ${fmt(transferSeconds.tls.at(-1)!, 2)} s`,
        );
      }
      const mbps = (kind: "plain" | "tls") => size / MiB / median(transferSeconds[kind]);
      // Each round's TLS time against the plaintext time of the same round: the load of a shared
      // machine moves both together, so the paired ratio is steadier than a ratio of medians.
      const pairedTransfer = median(transferSeconds.plain.map((plain, i) => plain / transferSeconds.tls[i]!));
      reports.push({
        title: "Verified transfer over TLS",
        columns: ["transfer", "MiB", "seconds", "MiB/s", "× plaintext"],
        rows: (["plain", "tls"] as const).map((kind) => [
          kind === "tls" ? "lab transfer --tls (upload, SHA-256)" : "lab transfer (upload, SHA-256)",
          size / MiB,
          fmt(median(transferSeconds[kind]), 2),
          fmt(mbps(kind), 0),
          kind === "tls" ? `${pairedTransfer.toFixed(2)}×` : "1.00×",
        ]),
        notes: [
          `Median of ${rounds} interleaved round(s); × plaintext is the median of each round's paired ratio. lab files --no-fsync (the disk is not what is measured); the client's process start is included. Load average at the start: ${loadBefore.toFixed(1)} on ${os.cpus().length} cores.`,
          "Target (issue 15): TLS ≥ 0.45 × plaintext.",
        ],
      });

      // Chat fan-out: `lab server` with and without --tls, the same clients and load.
      const seconds = Math.max(1, 2 * ctx.scale);
      const rates: Record<"plain" | "tls", number[]> = { plain: [], tls: [] };
      for (let round = 0; round < rounds; round++) {
        for (const kind of ["plain", "tls"] as const) {
          const isTls = kind === "tls";
          const server = await startLab(
            (p) => ["server", "--port", String(p), "--flood", "0", ...(isTls ? ["--tls"] : [])],
            env,
            isTls,
          );
          try {
            rates[kind].push(await fanOut(server.port, isTls, seconds));
          } finally {
            await killChild(server.child);
          }
        }
        ctx.log(
          `fan-out round ${round + 1}/${rounds}: plain ${fmt(rates.plain.at(-1)!, 0)}/s, TLS ${fmt(rates.tls.at(-1)!, 0)}/s`,
        );
      }
      reports.push({
        title: "Chat fan-out over TLS",
        columns: ["server", "delivered/s", "× plaintext"],
        rows: (["plain", "tls"] as const).map((kind) => [
          kind === "tls" ? "lab server --tls" : "lab server",
          fmt(median(rates[kind]), 0),
          kind === "tls" ? `${median(rates.tls.map((r, i) => r / rates.plain[i]!)).toFixed(2)}×` : "1.00×",
        ]),
        notes: [
          `${CLIENTS} text-mode clients in the bench process (all decrypting when TLS), ${SENDERS} senders with ${WINDOW} lines in flight each, ${seconds} s measured after a warm-up; median of ${rounds} interleaved round(s), × plaintext the median of the paired per-round ratios. Load average at the start: ${loadBefore.toFixed(1)} on ${os.cpus().length} cores.`,
          "Target (issue 15): TLS ≥ 0.5 × plaintext.",
        ],
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return reports;
  },
};
