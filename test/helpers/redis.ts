import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { onTestFinished } from "vitest";
import { type LabProcess, runProcess, startProcess } from "./lab.js";

/** Whether `redis-server` and `redis-cli` are on PATH; the cluster tests skip without them. */
export const HAS_REDIS =
  spawnSync("sh", ["-c", "command -v redis-server && command -v redis-cli"]).status === 0;

/** What a test prints when it skips for want of Redis. */
export const REDIS_MISSING =
  "redis-server is not installed: the cluster tests are skipped (install it: sudo apt-get install redis-server)";

/** Options for {@link startRedis}. */
export interface RedisOptions {
  /** `--appendonly yes` in a temporary folder, so a restart keeps the streams. Default false. */
  appendOnly?: boolean;
  /** `--requirepass`. */
  password?: string;
}

/** A `redis-server` a test started on a free port of 127.0.0.1; stopped when the test ends. */
export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` (with the password when there is one). */
  readonly url: string;
  /** Runs `redis-cli -p PORT ARGS...` and returns its stdout. */
  cli(...args: string[]): Promise<string>;
  /** Stops it (SHUTDOWN, so the append-only file is complete) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder. */
  restart(): Promise<void>;
}

/**
 * Starts `redis-server` on a port from get-port (127.0.0.1 only, no RDB snapshots) and waits until
 * it accepts connections. A port taken meanwhile gets one retry on another.
 * @example const redis = await startRedis(); startLab(["server", "--cluster", redis.url]);
 */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), "netlab-redis-"));
  let port = await getPort({ host: "127.0.0.1" });
  let proc: LabProcess | undefined;
  const args = () => [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--dir",
    dir,
    "--appendonly",
    opts.appendOnly ? "yes" : "no",
    ...(opts.password ? ["--requirepass", opts.password] : []),
  ];
  const launch = async () => {
    proc = startProcess("redis-server", args(), { killOnFinish: false });
    await proc.waitForOutput("Ready to accept connections", { timeoutMs: 10_000 });
  };
  const stopNow = async () => {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    p.child.kill("SIGTERM"); // redis-server saves the append-only file and exits on SIGTERM
    await p.exited;
  };
  onTestFinished(async () => {
    await stopNow();
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    await launch();
  } catch (err) {
    if (!/in use/i.test(proc?.stdout() ?? "")) throw err;
    await stopNow();
    port = await getPort({ host: "127.0.0.1" });
    await launch();
  }
  const auth = opts.password ? ["-a", opts.password, "--no-auth-warning"] : [];
  return {
    port,
    url: `redis://${opts.password ? `:${opts.password}@` : ""}127.0.0.1:${port}`,
    async cli(...cmd: string[]) {
      const r = await runProcess("redis-cli", ["-p", String(port), ...auth, ...cmd], { timeoutMs: 5_000 });
      return r.stdout;
    },
    stop: stopNow,
    restart: launch,
  };
}
