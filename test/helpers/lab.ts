import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { onTestFinished } from "vitest";

/** The built `lab` entry point that end-to-end tests spawn. */
export const LAB_BIN = fileURLToPath(new URL("../../apps/cli/dist/bin.js", import.meta.url));

/** Options for {@link startLab}. */
export interface StartOptions {
  /** Extra environment variables. NO_COLOR is always set. */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the process when the current test finishes (default true). */
  killOnFinish?: boolean;
}

/** A running `lab` process with its output captured. */
export interface LabProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the first match once stdout+stderr (or the named stream) matches `pattern`. */
  waitForOutput(
    pattern: string | RegExp,
    opts?: { stream?: "stdout" | "stderr" | "both"; timeoutMs?: number },
  ): Promise<string>;
  /** Writes to stdin. */
  write(text: string | Uint8Array): void;
  /** Closes stdin. */
  endInput(): void;
  /** Resolves with the exit code (or 128+signal) once the process has ended and its stdio closed. */
  readonly exited: Promise<number>;
  /** Sends `signal` and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number>;
}

let scratchConfig: string | undefined;

/**
 * The XDG_CONFIG_HOME every spawned process gets unless the test gives its own: one folder per
 * test process, removed at its exit, so that what lab keeps there (known_hosts, reclaim.json)
 * never lands in the real ~/.config.
 */
function configHome(): string {
  if (scratchConfig === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), "netlab-test-config-"));
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    scratchConfig = dir;
  }
  return scratchConfig;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * The bound tests put on "one Ctrl-C or SIGTERM ends it within 1 s" (docs/security.md), from the
 * signal to the process gone. lab aims at 1 s, but at load 13 on a 2-core machine a bare
 * `node -e` that exits on SIGTERM took up to 0.5 s to be gone and lab demo 1.1 s (its test failed
 * at 1 s). 1.8 s still fails a shutdown that sits out the shortest wait it could wrongly wait for
 * (a chat server's 2 s drain; stall, reconnect and -W timeouts are longer) or that hangs.
 */
export const SIGNAL_EXIT_MS = 1_800;

/** How long after the process exits its stdio may stay open before the run counts as ended anyway. */
const CLOSE_GRACE_MS = 2_000;

/** Spawns `lab ARGS...`; the process is killed when the test finishes. */
export function startLab(args: string[], opts: StartOptions = {}): LabProcess {
  return startProcess(process.execPath, [LAB_BIN, ...args], {
    ...opts,
    env: { NO_COLOR: "1", FORCE_COLOR: "0", ...opts.env },
    name: `lab ${args.join(" ")}`,
  });
}

/**
 * Spawns any command (nc, python3, a tool to compare with) with its output captured, as
 * {@link startLab} does for `lab`; `name` is how errors call it (default: the command line).
 */
export function startProcess(
  command: string,
  args: string[],
  opts: StartOptions & { name?: string } = {},
): LabProcess {
  const name = opts.name ?? [command, ...args].join(" ");
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: { ...process.env, XDG_CONFIG_HOME: configHome(), ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    out += d;
    notify();
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    notify();
  });
  child.stdin?.on("error", () => {}); // the process may exit before reading all input
  // Resolved on "close", not "exit": "close" comes after stdout and stderr have been read to the
  // end, so a finished run never reports its exit code with output still in the pipe. A grandchild
  // that inherited the pipes could hold them open forever, so CLOSE_GRACE_MS after "exit" the
  // pipes are dropped and the exit code stands.
  const exited = new Promise<number>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      resolve(code ?? 128 + (SIGNALS[signal ?? ""] ?? 0));
      notify();
    };
    child.on("close", finish);
    // A command that cannot start (not installed): say so on stderr and end as a shell would.
    child.on("error", (e) => {
      err += `${e.message}\n`;
      finish(127, null);
    });
    child.on("exit", (code, signal) => {
      setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish(code, signal);
      }, CLOSE_GRACE_MS).unref();
    });
  });
  let isExited = false;
  void exited.then(() => {
    isExited = true;
  });

  if (opts.killOnFinish !== false) {
    onTestFinished(async () => {
      if (isExited) return;
      child.kill("SIGKILL");
      await exited;
    });
  }

  const lab: LabProcess = {
    child,
    stdout: () => out,
    stderr: () => err,
    waitForOutput(pattern, { stream = "both", timeoutMs = 10_000 } = {}) {
      const text = () => (stream === "stdout" ? out : stream === "stderr" ? err : `${out}${err}`);
      const match = (): string | undefined => {
        const t = text();
        if (typeof pattern === "string") return t.includes(pattern) ? pattern : undefined;
        return pattern.exec(t)?.[0];
      };
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = match();
          if (m !== undefined) {
            done();
            resolve(m);
          } else if (isExited) {
            done();
            reject(new Error(`${name} exited before printing ${String(pattern)}\n${dump()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${String(pattern)}\n${dump()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    write(text) {
      child.stdin?.write(text);
    },
    endInput() {
      child.stdin?.end();
    },
    exited,
    async stop(signal = "SIGTERM") {
      if (!isExited) child.kill(signal);
      return exited;
    },
  };
  const dump = () => `--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  return lab;
}

/** The result of a finished `lab` run. */
export interface LabResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link runLab} and {@link runProcess}. */
export type RunOptions = StartOptions & { input?: string | Uint8Array; timeoutMs?: number };

/** Runs `lab ARGS...` to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function runLab(args: string[], opts: RunOptions = {}): Promise<LabResult> {
  return finish(startLab(args, opts), opts);
}

/** Runs any command to completion (killed after `timeoutMs`), feeding `input` on stdin. */
export function runProcess(command: string, args: string[], opts: RunOptions = {}): Promise<LabResult> {
  return finish(startProcess(command, args, opts), opts);
}

async function finish(proc: LabProcess, opts: RunOptions): Promise<LabResult> {
  if (opts.input !== undefined) proc.write(opts.input);
  proc.endInput();
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

/**
 * Whether `unshare -rn` can give a process a network of its own (user namespaces, util-linux and
 * iproute2): there a server may bind 0.0.0.0 and still reach nothing but that namespace's loopback.
 */
export const canIsolateNetwork =
  spawnSync("unshare", ["-rn", "sh", "-c", "ip link set lo up"], { timeout: 5_000 }).status === 0 &&
  spawnSync("nsenter", ["--help"], { timeout: 5_000 }).status === 0;

/** Why a test that needs {@link runLabIsolated} did not run. */
export const ISOLATION_MISSING =
  "skipped: needs user namespaces (as root, or sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0), unshare and nsenter (apt install util-linux) and ip (apt install iproute2)";

/**
 * Starts `lab ARGS...` in a network namespace of its own with only loopback up, for a test of
 * binding beyond loopback (0.0.0.0, ::) that must stay unreachable from other machines. The
 * process is lab itself (unshare and sh exec it), so signals reach it.
 */
export function startLabIsolated(args: string[], opts: StartOptions = {}): LabProcess {
  const inside = ["sh", "-c", 'ip link set lo up && exec "$@"', "sh", process.execPath, LAB_BIN, ...args];
  return startProcess("unshare", ["-rn", ...inside], { ...opts, name: `lab ${args.join(" ")} (isolated)` });
}

/**
 * Runs `lab ARGS...` to completion inside the network namespace of `isolated` (a
 * {@link startLabIsolated} process): a client of a server bound beyond loopback there.
 */
export function runLabInNetworkOf(
  isolated: LabProcess,
  args: string[],
  opts: RunOptions = {},
): Promise<LabResult> {
  const enter = ["-t", String(isolated.child.pid), "-U", "-n", "--preserve-credentials"];
  return runProcess("nsenter", [...enter, process.execPath, LAB_BIN, ...args], opts);
}

/** {@link startLabIsolated}, run to completion as {@link runLab} runs. */
export function runLabIsolated(args: string[], opts: RunOptions = {}): Promise<LabResult> {
  return finish(startLabIsolated(args, opts), opts);
}

/** How {@link startLabOnTerminal} sizes the terminal and what it sets in the environment. */
export interface TerminalOptions extends StartOptions {
  /** Terminal width (stty cols and COLUMNS). Default 120. */
  cols?: number;
  /** Terminal height (stty rows and LINES). Default 40. */
  rows?: number;
  /** More `NAME=value` words for `env`, e.g. `TZ=UTC`. */
  envWords?: string[];
  /**
   * In a network namespace of its own, as {@link startLabIsolated}: for a server on a terminal
   * (lab demo) bound beyond loopback. Check {@link canIsolateNetwork} first.
   */
  isolated?: boolean;
}

/** A word the shell passes through unchanged. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/**
 * Spawns `lab ARGS...` on a pseudo-terminal of `cols`×`rows` (util-linux `script`), as a person
 * runs it: stdin and stdout are a TTY, NO_COLOR is set and LAB_TOKEN is not.
 */
export function startLabOnTerminal(args: string[], opts: TerminalOptions = {}): LabProcess {
  const { cols = 120, rows = 40, envWords = [], isolated = false } = opts;
  const lab = [process.execPath, LAB_BIN, ...args].map(shellQuote).join(" ");
  const env = ["NO_COLOR=1", `COLUMNS=${cols}`, `LINES=${rows}`, ...envWords].join(" ");
  // exec: lab must be the terminal's only foreground process, as under an interactive shell. With
  // dash as script's shell (SHELL unset, as in CI) a waiting `sh -c` parent dies of the Ctrl-C
  // that lab handles, and script then reports 130 whatever lab exits with.
  const script = [
    "-qfec",
    `stty cols ${cols} rows ${rows}; exec env -u LAB_TOKEN ${env} ${lab}`,
    "/dev/null",
  ];
  const name = `lab ${args.join(" ")} (on a terminal${isolated ? ", isolated" : ""})`;
  if (!isolated) return startProcess("script", script, { ...opts, name });
  const inside = ["sh", "-c", 'ip link set lo up && exec "$@"', "sh", "script", ...script];
  return startProcess("unshare", ["-rn", ...inside], { ...opts, name });
}

/** Runs `lab ARGS...` to completion on a pseudo-terminal, as {@link runLab} does piped. */
export function runLabOnTerminal(
  args: string[],
  opts: TerminalOptions & RunOptions = {},
): Promise<LabResult> {
  return finish(startLabOnTerminal(args, opts), opts);
}

/** Each redraw of a progress line in terminal output (split at `\r`, newlines and erase-line) that contains `marker`. */
export function progressDraws(output: string, marker: string): string[] {
  return output
    .split("\x1b[K")
    .flatMap((s) => s.split(/[\r\n]+/))
    .filter((s) => s.includes(marker));
}

/**
 * Starts a `lab` server on a free port and waits until it prints `ready(port)`. A port taken
 * between get-port and listen (EADDRINUSE) gets one retry on a fresh port.
 * @example const { lab, port } = await startServer((p) => ["server", "--port", String(p)], (p) => `listening on 127.0.0.1:${p}`);
 */
export async function startServer(
  args: (port: number) => string[],
  ready: (port: number) => string | RegExp,
  opts: StartOptions = {},
): Promise<{ lab: LabProcess; port: number }> {
  for (let attempt = 0; ; attempt++) {
    const port = await getPort({ host: "127.0.0.1" });
    const lab = startLab(args(port), opts);
    try {
      await lab.waitForOutput(ready(port));
      return { lab, port };
    } catch (err) {
      if (attempt === 0 && /in use|EADDRINUSE/i.test(lab.stderr())) continue;
      throw err;
    }
  }
}
