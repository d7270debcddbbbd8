import { type ChildProcess, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  MAX_UNIX_PATH_BYTES,
  parseAddress as parseCoreAddress,
  type SocketTarget,
  socketTarget,
} from "@netlab/core";
import getPort from "get-port";
import { formatTarget } from "./conn.js";
import { CheckError } from "./errors.js";

/**
 * A target in every command's address grammar: `HOST:PORT`, `:PORT`, `PORT` or `[v6]:PORT` (host
 * defaults to 127.0.0.1), `unix:/path` or `@name` (a Unix socket, abstract on Linux), with the
 * grammar's hints (`::1:5001` → `[::1]:5001`, `/tmp/s.sock` → `unix:/tmp/s.sock`).
 * @example parseAddress("unix:/tmp/echo.sock") // { path: "/tmp/echo.sock" }
 */
export function parseAddress(text: string): SocketTarget {
  try {
    return socketTarget(parseCoreAddress(/^\d+$/.test(text) ? `:${text}` : text));
  } catch (err) {
    const e = err as { message: string; hint?: string };
    throw new CheckError("INVALID_OPTION", `target ${e.message}`, {
      hint:
        e.hint ??
        "give an address (127.0.0.1:5001, 5001, unix:/path) or a command after --: lab check line -- python3 server.py {port}",
    });
  }
}

/** Options for {@link startTarget}. */
export interface StartTargetOptions {
  /** Values for `{file}`, `{dir}` besides `{port}`, `{host}` and `{socket}`. */
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

/** The file name `{socket}` stands for, in a fresh private folder (mode 0700) of the system's temp dir. */
export const SOCKET_FILE_NAME = "server.sock";

/** A program `lab check` started; `stop()` ends it by its own process id. */
export interface StartedTarget {
  /** Where it listens: `{ host, port }` for `{port}`, `{ path }` for `{socket}`. */
  target: SocketTarget;
  pid: number;
  /** The last bytes of its stderr. */
  stderrTail(): string;
  /**
   * How the program ended, once it has (`exited with code 1; its stderr ends: …`, its last two
   * stderr lines), else undefined: a port that stops answering mid-run is then explained.
   */
  ended(): string | undefined;
  /**
   * SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves once it exited and the `{socket}`
   * folder, socket file and all, is removed. Harmless twice.
   */
  stop(): Promise<void>;
}

/**
 * Starts `command args…` with `{port}` (a free port from get-port) or `{socket}` (a Unix socket
 * path in a fresh private folder), `{host}` and the given placeholders substituted, and waits
 * until something accepts connections there. Throws PORT_PLACEHOLDER_MISSING, INVALID_OPTION
 * (both `{port}` and `{socket}`), TARGET_EXITED (with its stderr tail) or NOT_LISTENING.
 * @example await using t = await startTarget(["python3", "server.py", "{port}"]);
 */
export async function startTarget(argv: string[], options: StartTargetOptions = {}): Promise<StartedTarget> {
  const o = { ...TARGET_DEFAULTS, ...options };
  if (argv.length === 0)
    throw new CheckError("INVALID_OPTION", "no command after --", {
      hint: "lab check line -- python3 server.py {port}",
    });
  const hasPort = argv.some((a) => a.includes("{port}"));
  const hasSocket = argv.some((a) => a.includes("{socket}"));
  if (!hasPort && !hasSocket) {
    throw new CheckError(
      "PORT_PLACEHOLDER_MISSING",
      `the command has no {port} or {socket}: netlab cannot tell it where to listen`,
      {
        hint: `write {port} where the program takes its port (or {socket} for a Unix socket path): lab check … -- ${argv.join(" ")} {port}`,
      },
    );
  }
  if (hasPort && hasSocket) {
    throw new CheckError("INVALID_OPTION", "the command has both {port} and {socket}: netlab grades one", {
      hint: "keep {port} for a TCP server, or {socket} for a Unix socket server",
    });
  }
  const host = "127.0.0.1";
  let where: SocketTarget;
  let socketDir: string | undefined;
  const values: Record<string, string> = { ...o.placeholders, host };
  if (hasSocket) {
    socketDir = await makeSocketDir();
    where = { path: path.join(socketDir, SOCKET_FILE_NAME) };
    values.socket = where.path;
  } else {
    const port = await getPort({ host });
    where = { host, port };
    values.port = String(port);
  }
  // Removed however this process ends, as the program is killed: a check leaves no socket behind.
  const removeDirOnExit = () => {
    if (socketDir) rmSync(socketDir, { recursive: true, force: true });
  };
  if (socketDir) process.once("exit", removeDirOnExit);
  const removeDir = async () => {
    if (!socketDir) return;
    process.off("exit", removeDirOnExit);
    await rm(socketDir, { recursive: true, force: true });
  };
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
    target: where,
    pid: child.pid ?? -1,
    stderrTail,
    ended: () => {
      if (!exit) return undefined;
      const last = exit.error ? "" : lastLines(2);
      return last ? `${how()}; its stderr ends: ${last}` : how();
    },
    stop: async () => {
      await stopChild(child, exited, () => exit !== undefined, o.stopTimeoutMs);
      await removeDir();
    },
  };
  const listenWord = hasSocket ? `on ${formatTarget(where)}` : `on port ${values.port}`;
  const deadline = performance.now() + o.startupTimeoutMs;
  for (;;) {
    if (exit) {
      // Let the last of its stderr arrive: the reason it exited is usually there.
      await new Promise((r) =>
        child.stderr && !child.stderr.readableEnded ? child.stderr.once("close", r) : r(undefined),
      );
      const last = lastLines(5);
      await removeDir();
      throw new CheckError(
        "TARGET_EXITED",
        exit.error
          ? `${command} ${how()}`
          : `${command} ${how()} before listening ${listenWord}${last ? `; its stderr ends: ${last}` : ""}`,
        {
          hint: !exit.error
            ? "run the command by hand to see the whole error"
            : command.includes("/")
              ? `is ${command} there and executable (chmod +x)? or run it by its interpreter: python3 ${command}`
              : `is ${command} installed and on PATH? (a program in this folder is ./${command})`,
        },
      );
    }
    if (await accepts(where)) return target;
    if (performance.now() > deadline) {
      await target.stop();
      throw new CheckError(
        "NOT_LISTENING",
        `${command} did not listen on ${formatTarget(where)} within ${o.startupTimeoutMs / 1000} s`,
        {
          hint: hasSocket
            ? "does it listen on the Unix socket path given by {socket}? (--startup-timeout raises the wait)"
            : "does it bind the port given by {port} on 127.0.0.1? (--startup-timeout raises the wait)",
        },
      );
    }
    await Promise.race([delay(50), exited]);
  }
}

/**
 * A fresh folder for `{socket}`: private (mkdtemp makes it 0700), so no other user can connect
 * or plant a socket, and short enough for the kernel's limit on a socket path.
 */
async function makeSocketDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-check-socket-"));
  const bytes = Buffer.byteLength(path.join(dir, SOCKET_FILE_NAME));
  if (bytes > MAX_UNIX_PATH_BYTES) {
    await rm(dir, { recursive: true, force: true });
    throw new CheckError(
      "INVALID_OPTION",
      `a socket in the temp folder ${os.tmpdir()} would have a ${bytes}-byte path, over the kernel's ${MAX_UNIX_PATH_BYTES}`,
      { hint: "point TMPDIR at a shorter folder, such as TMPDIR=/tmp" },
    );
  }
  return dir;
}

function accepts(where: SocketTarget): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(where);
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
