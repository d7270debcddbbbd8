import { type ChildProcess, spawn } from "node:child_process";
import net from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { formatHostPort, parseAddress as parseCoreAddress } from "@netlab/core";
import getPort from "get-port";
import { CheckError } from "./errors.js";

/**
 * A `HOST:PORT`, `:PORT`, `PORT` or `[v6]:PORT` target in every command's address grammar (host
 * defaults to 127.0.0.1), with its hints (`::1:5001` → `[::1]:5001`, a port out of range). A Unix
 * socket is INVALID_OPTION: the tests slice and delay through an in-process TCP proxy.
 */
export function parseAddress(text: string): { host: string; port: number } {
  let address: ReturnType<typeof parseCoreAddress>;
  try {
    address = parseCoreAddress(/^\d+$/.test(text) ? `:${text}` : text);
  } catch (err) {
    const e = err as { message: string; hint?: string };
    throw new CheckError("INVALID_OPTION", `target ${e.message}`, {
      hint:
        e.hint ??
        "give an address (127.0.0.1:5001, 5001) or a command after --: lab check line -- python3 server.py {port}",
    });
  }
  if (address.kind !== "host") {
    throw new CheckError(
      "INVALID_OPTION",
      `target ${JSON.stringify(text)} is a Unix socket: lab check grades TCP servers`,
      {
        hint: "run the server on a port (127.0.0.1:5001), or give its command after -- with {port}",
      },
    );
  }
  return { host: address.host, port: address.port };
}

/** Options for {@link startTarget}. */
export interface StartTargetOptions {
  /** Values for `{file}`, `{dir}` besides `{port}` and `{host}`. */
  placeholders?: Record<string, string>;
  /** How long the program has to start listening, ms. Default 10 000. */
  startupTimeoutMs?: number;
  /** How long after SIGTERM before SIGKILL, ms. Default 2 000. */
  stopTimeoutMs?: number;
  /** Bytes of its stderr kept, to show when it exits early. Default 2 048. */
  stderrTailBytes?: number;
  cwd?: string;
}

/** {@link StartTargetOptions} defaults. */
export const TARGET_DEFAULTS = {
  startupTimeoutMs: 10_000,
  stopTimeoutMs: 2_000,
  stderrTailBytes: 2_048,
} as const;

/** A program `lab check` started; `stop()` ends it by its own process id. */
export interface StartedTarget {
  host: string;
  port: number;
  pid: number;
  /** The last bytes of its stderr. */
  stderrTail(): string;
  /**
   * How the program ended, once it has (`exited with code 1; its stderr ends: …`, its last two
   * stderr lines), else undefined: a port that stops answering mid-run is then explained.
   */
  ended(): string | undefined;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once it exited. Harmless twice. */
  stop(): Promise<void>;
}

/**
 * Starts `command args…` with `{port}` (a free port from get-port), `{host}` and the given
 * placeholders substituted, and waits until something accepts connections on that port. Throws
 * PORT_PLACEHOLDER_MISSING, TARGET_EXITED (with its stderr tail) or NOT_LISTENING.
 * @example await using t = await startTarget(["python3", "server.py", "{port}"]);
 */
export async function startTarget(argv: string[], options: StartTargetOptions = {}): Promise<StartedTarget> {
  const o = { ...TARGET_DEFAULTS, ...options };
  if (argv.length === 0)
    throw new CheckError("INVALID_OPTION", "no command after --", {
      hint: "lab check line -- python3 server.py {port}",
    });
  if (!argv.some((a) => a.includes("{port}"))) {
    throw new CheckError(
      "PORT_PLACEHOLDER_MISSING",
      `the command has no {port}: netlab cannot tell it where to listen`,
      {
        hint: `write {port} where the program takes its port: lab check … -- ${argv.join(" ")} {port}`,
      },
    );
  }
  const host = "127.0.0.1";
  const port = await getPort({ host });
  const values: Record<string, string> = { ...o.placeholders, port: String(port), host };
  const args = argv.map((a) => a.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole));
  const [command, ...rest] = args as [string, ...string[]];
  const child = spawn(command, rest, { cwd: o.cwd, stdio: ["ignore", "ignore", "pipe"] });
  const unhook = killOnExit(child);
  let tail = Buffer.alloc(0);
  child.stderr?.on("data", (d: Buffer) => {
    tail = Buffer.concat([tail, d]);
    if (tail.length > o.stderrTailBytes) tail = tail.subarray(tail.length - o.stderrTailBytes);
  });
  let exit: { code: number | null; signal: string | null; error?: Error } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      exit = { code: null, signal: null, error };
      unhook();
      resolve();
    });
    child.once("exit", (code, signal) => {
      exit ??= { code, signal };
      unhook();
      resolve();
    });
  });
  const stderrTail = () => tail.toString("utf8");
  const how = (): string =>
    exit?.error
      ? `could not be started (${spawnFailure(exit.error)})`
      : exit?.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit?.code}`;
  // Python 3.11+ underlines the failing expression with a line of ^ and ~: no words in it.
  const lastLines = (n: number): string =>
    stderrTail()
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !/^[\^~]+$/.test(l))
      .slice(-n)
      .join(" | ");
  const target: StartedTarget = {
    host,
    port,
    pid: child.pid ?? -1,
    stderrTail,
    ended: () => {
      if (!exit) return undefined;
      const last = exit.error ? "" : lastLines(2);
      return last ? `${how()}; its stderr ends: ${last}` : how();
    },
    stop: () => stopChild(child, exited, () => exit !== undefined, o.stopTimeoutMs),
  };
  const deadline = performance.now() + o.startupTimeoutMs;
  for (;;) {
    if (exit) {
      // Let the last of its stderr arrive: the reason it exited is usually there.
      await new Promise((r) =>
        child.stderr && !child.stderr.readableEnded ? child.stderr.once("close", r) : r(undefined),
      );
      const last = lastLines(5);
      throw new CheckError(
        "TARGET_EXITED",
        exit.error
          ? `${command} ${how()}`
          : `${command} ${how()} before listening on port ${port}${last ? `; its stderr ends: ${last}` : ""}`,
        {
          hint: !exit.error
            ? "run the command by hand to see the whole error"
            : command.includes("/")
              ? `is ${command} there and executable (chmod +x)? or run it by its interpreter: python3 ${command}`
              : `is ${command} installed and on PATH? (a program in this folder is ./${command})`,
        },
      );
    }
    if (await accepts(host, port)) return target;
    if (performance.now() > deadline) {
      await target.stop();
      throw new CheckError(
        "NOT_LISTENING",
        `${command} did not listen on ${formatHostPort(host, port)} within ${o.startupTimeoutMs / 1000} s`,
        {
          hint: "does it bind the port given by {port} on 127.0.0.1? (--startup-timeout raises the wait)",
        },
      );
    }
    await Promise.race([delay(50), exited]);
  }
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.setTimeout(500, () => {
      s.destroy();
      resolve(false);
    });
  });
}

async function stopChild(
  child: ChildProcess,
  exited: Promise<void>,
  isDone: () => boolean,
  graceMs: number,
): Promise<void> {
  if (isDone() || child.pid === undefined) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => {
    if (!isDone()) child.kill("SIGKILL");
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Kills `child` (SIGKILL: nothing can be awaited then) if this process exits first, however it
 * exits: a closed stdout (`lab check … | head -1`), a second Ctrl-C, a crash. The program must not
 * outlive the check that started it. Returns the function that removes the hook.
 */
export function killOnExit(child: ChildProcess): () => void {
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", kill);
  return () => process.off("exit", kill);
}

/** Why spawn() failed, in words: `spawn x ENOENT` says nothing to a learner. */
function spawnFailure(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT") return "no such program";
  if (code === "EACCES") return "permission denied: not executable";
  return code ?? err.message;
}
