// Issue #20, docs that run: every shell and TypeScript block in README.md and docs/**/*.md is run
// here, or carries `<!-- not-run: reason -->` just above its fence (counted and reported).
//
// What a block is:
// - A transcript (lines starting with `$ `): each command runs with bash, `lab` on PATH (the built
//   one), in a scratch folder; the output shown under a command (stdout and stderr, in the order
//   printed) must be what it prints. A listener (`lab udp listen`) runs in the background while
//   the commands after it run; then it gets Ctrl-C, and what it printed must be its shown output.
// - Any other shell block is a script: it runs with `bash -euo pipefail` and must exit 0.
// - A TypeScript block is bundled from the packages' sources and run with node; when a ```text
//   block after it starts with `<!-- output -->`, its stdout must be that.
//
// Markers, one per line, just above the fence:
// - `<!-- server -->`: the block's commands are servers that run until stopped. Each is started,
//   must print its ready line (a transcript's shown output, else listening/serving/proxying), and
//   stays up for the `<!-- client -->` blocks that follow it in the same file, which run in the
//   same folder. Then each server gets SIGINT and must exit 0 (a graceful shutdown).
// - `<!-- run-with: CMD; CMD -->`: servers started for this one block.
// - `<!-- alternatives -->`, with `<!-- server -->`: each server line is one way of doing the same
//   thing (on the same port): each is started, must be ready, and is stopped before the next.
// - `<!-- machines: NAME=ADDRESS … -->`: the block runs on other machines, emulated (see openNet):
//   on the first one named, and after a `# machine NAME` line, on that one. A block may be both
//   `<!-- client -->` and `<!-- server -->`: servers that join the group's servers.
// - `<!-- prelude: NAME -->`: a fragment that is part of a whole; PRELUDES[NAME] (docs-preludes.ts)
//   supplies the rest: for TypeScript, code before (and after) the block (the block's imports go
//   first, so the prelude may wrap its code in a function), the files it loads, and whether it
//   shows several files or ends with the output it prints as a comment; for a shell block,
//   commands run first in its folder (the files it names).
//
// Placeholders in shown output, and nowhere else: `…` stands for any text (a timing, a
// fingerprint, a date), `<port>` for a port number. Everything else is compared exactly.
//
// Ports: each block or server group runs in a private network namespace, with a private /tmp
// for the docs' socket paths (`unshare -rnm`), so the docs' own ports (the default 5001, 8474 …)
// and paths are free and used as written; nothing outside sees them. Server lines are `lab
// server|files|proxy|udp echo`, `redis-server` and `nc -l` (ready once its port listens).
// Where user namespaces are not allowed, the ports the docs write out become free ports, and
// groups that start servers are skipped with a message (they rely on default ports).
import { spawnSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { afterAll, describe, expect, it } from "vitest";
import { LAB_BIN, type LabProcess, startProcess } from "../helpers/lab.js";
import { HAS_REDIS, REDIS_MISSING } from "../helpers/redis.js";
import { PRELUDES } from "./docs-preludes.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const RUN_LANGS = new Set(["sh", "bash", "shell", "console", "ts", "typescript"]);
/** Ports the docs write out; without a namespace each becomes a free port, the same in a group. */
const DOC_PORTS = [
  5001, 5002, 5003, 5999, 6001, 6002, 6003, 7401, 7402, 7403, 7404, 7405, 7406, 8000, 8474, 9000, 9999,
];
/** How long a server may take to print its ready line. */
const READY_TIMEOUT_MS = 30_000;
/** How long one command, script or program may run. */
const STEP_TIMEOUT_MS = 60_000;

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  notRun?: string;
  server?: boolean;
  client?: boolean;
  prelude?: string;
  /** `<!-- run-with: CMD; CMD -->`: servers started (with the block's ports) before it runs. */
  runWith?: string[];
  /** `<!-- alternatives -->`: its servers are ways of doing one thing: each runs, then stops. */
  alternatives?: boolean;
  /** `<!-- machines: NAME=ADDRESS … -->`: the machines the block's commands run on. */
  machines?: Map<string, string>;
  output?: string;
}

function markdownFiles(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? docs(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
    );
  return ["README.md", ...docs("docs")];
}

/** The fenced blocks of one Markdown file, with the markers before each and an output block after. */
function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    const block: Block = { file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, end).join("\n") };
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === "") k--;
    for (; k >= 0; k--) {
      const m = /^<!-- ([\w-]+)(?:: (.+?))? -->$/.exec(lines[k]!.trim());
      if (!m || m[1] === "output") break;
      const [, name, arg] = m;
      if (name === "not-run") block.notRun = arg;
      else if (name === "run-with") block.runWith = arg!.split(";").map((c) => c.trim());
      else if (name === "server") block.server = true;
      else if (name === "client") block.client = true;
      else if (name === "alternatives") block.alternatives = true;
      else if (name === "prelude") block.prelude = arg;
      else if (name === "machines")
        block.machines = new Map(arg!.split(/\s+/).map((m) => m.split("=") as [string, string]));
      else throw new Error(`${file}:${k + 1}: unknown docs marker <!-- ${name} -->`);
    }
    let n = end + 1;
    while (n < lines.length && lines[n]!.trim() === "") n++;
    if (lines[n]?.trim() === "<!-- output -->" && lines[n + 1]?.startsWith("```")) {
      const close = lines.findIndex((l, j) => j > n + 1 && l.startsWith("```"));
      block.output = `${lines.slice(n + 2, close).join("\n")}\n`;
    }
    blocks.push(block);
    i = end;
  }
  return blocks;
}

const blocks = markdownFiles()
  .flatMap((f) => extractBlocks(f, readFileSync(join(root, f), "utf8")))
  .filter((b) => RUN_LANGS.has(b.lang));

/** A server block with its client blocks, or one block on its own: what one test runs. */
interface Group {
  name: string;
  blocks: Block[];
}

function groups(runnable: Block[]): Group[] {
  const out: Group[] = [];
  for (const b of runnable) {
    const last = out.at(-1);
    const head = last?.blocks[0];
    if (b.client) {
      if (!last || !head?.server || head.file !== b.file)
        throw new Error(
          `${b.file}:${b.line}: a <!-- client --> block needs a <!-- server --> block before it`,
        );
      last.blocks.push(b);
      last.name += `+${b.line}`;
    } else out.push({ name: `${b.file}:${b.line}`, blocks: [b] });
  }
  return out;
}

const temp = mkdtempSync(join(tmpdir(), "lab-docs-"));
const bin = mkdtempSync(join(temp, "bin-"));
symlinkSync(LAB_BIN, join(bin, "lab"));
const PATH = [bin, dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/**
 * A private network and a private /tmp, in one user namespace: the holder mounts a tmpfs on /tmp
 * (the docs' `/tmp/upper.sock` is then the run's own) and binds this test's scratch folder back
 * at its path through a descriptor opened before (mount -c: the path itself is hidden by then).
 */
const PRIVATE_NET_AND_TMP = [
  'exec 3<"$0"',
  "mount -t tmpfs tmpfs /tmp",
  'mkdir -p "$0"',
  'mount -c --bind "/proc/$$/fd/3" "$0"',
  "exec 3<&-",
  "ip link set lo up",
].join(" && ");

const works = (args: string[]) => spawnSync("unshare", args, { timeout: 5_000 }).status === 0;
/**
 * What this machine lets us make: the network and /tmp; only the network where mounts are not
 * allowed in a user namespace (then /tmp is shared: the docs' socket paths still work, one run
 * at a time); or nothing.
 */
const NAMESPACES: { unshare: string[]; setup: string; enter: string[] } | undefined = (() => {
  if (spawnSync("nsenter", ["--help"], { timeout: 5_000 }).status !== 0) return undefined;
  if (works(["-rnm", "bash", "-c", PRIVATE_NET_AND_TMP, temp]))
    return { unshare: ["-rnm"], setup: PRIVATE_NET_AND_TMP, enter: ["-n", "-m"] };
  if (works(["-rn", "bash", "-c", "ip link set lo up"]))
    return { unshare: ["-rn"], setup: "ip link set lo up", enter: ["-n"] };
  return undefined;
})();
const HAS_NETNS = NAMESPACES !== undefined;
const NO_NETNS =
  "user namespaces are not available (unshare -rnm, nsenter from util-linux, ip from iproute2): blocks that start servers on the docs' default ports are skipped";

/** Where a group's processes run: a private network namespace, or the machine's own network. */
interface Net {
  /** Runs a command; with `on`, on the emulated machine of that address (namespaces only). */
  spawn(
    command: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    on?: string,
  ): Promise<LabProcess>;
  /** The group's text with its doc ports made free ones (outside a namespace only). */
  ports(text: string): string;
}

/** Tests run concurrently, so each group kills its own processes (the helper's hook is per test). */
async function openNet(text: string, procs: LabProcess[], spaces: number[]): Promise<Net> {
  const track = (p: LabProcess) => {
    procs.push(p);
    return p;
  };
  if (NAMESPACES) {
    // The holder keeps the namespace alive while the group runs.
    const holder = track(
      startProcess(
        "unshare",
        [...NAMESPACES.unshare, "bash", "-c", `${NAMESPACES.setup} && echo up && exec cat`, temp],
        {
          killOnFinish: false,
        },
      ),
    );
    await holder.waitForOutput("up");
    spaces.push(holder.child.pid!);
    // Entering a mount namespace moves to its root: each command is given its folder (--wd).
    const enter = (pid: number) => ["-t", String(pid), "-U", ...NAMESPACES.enter, "--preserve-credentials"];
    const run = async (pid: number, script: string) => {
      const r = await finish(
        track(startProcess("nsenter", [...enter(pid), "sh", "-ec", script], { killOnFinish: false })),
      );
      expect(r.code, `${script}\n${r.stderr}`).toBe(0);
    };
    // Machines for blocks that name other hosts: each is a network namespace of its own (in the
    // group's user namespace, sharing its /tmp), with eth0 on a bridge in the group's namespace:
    // one LAN, so "on machine A … on machine B" runs as written, addresses and ports included.
    const machines = new Map<string, Promise<number>>();
    const machine = (address: string) => {
      const made = async () => {
        if (machines.size === 0)
          await run(holder.child.pid!, "ip link add lan type bridge && ip link set lan up");
        const box = track(
          startProcess(
            "nsenter",
            [...enter(holder.child.pid!), "unshare", "-n", "sh", "-c", "echo up && exec cat"],
            {
              killOnFinish: false,
            },
          ),
        );
        await box.waitForOutput("up");
        const pid = box.child.pid!;
        spaces.push(pid);
        await run(
          holder.child.pid!,
          `ip link add v${pid} type veth peer name eth0 netns ${pid} && ip link set v${pid} master lan up`,
        );
        await run(pid, `ip addr add ${address}/24 dev eth0 && ip link set eth0 up && ip link set lo up`);
        return pid;
      };
      const pid = machines.get(address) ?? made();
      machines.set(address, pid);
      return pid;
    };
    return {
      spawn: async (command, args, cwd, env, on) =>
        track(
          startProcess(
            "nsenter",
            [
              ...enter(await (on === undefined ? holder.child.pid! : machine(on))),
              `--wd=${cwd}`,
              command,
              ...args,
            ],
            {
              cwd,
              env,
              name: [command, ...args].join(" "),
              killOnFinish: false,
            },
          ),
        ),
      ports: (t) => t,
    };
  }
  const map = new Map<string, string>();
  for (const port of DOC_PORTS)
    if (new RegExp(`\\b${port}\\b`).test(text))
      map.set(String(port), String(await getPort({ host: "127.0.0.1" })));
  return {
    spawn: async (command, args, cwd, env) =>
      track(startProcess(command, args, { cwd, env, killOnFinish: false })),
    ports: (t) => t.replace(/\b\d{4}\b/g, (p) => map.get(p) ?? p),
  };
}

/**
 * Shown output as a pattern: `…` is any text, `<port>` a number, the rest literal. A line that is
 * only `…` stands for any number of lines, none included (an excerpt's cut).
 */
function shownAsPattern(shown: string): RegExp {
  const inline = (line: string) =>
    line
      .split(/(…|<port>)/)
      .map((p) =>
        p === "…" ? "[\\s\\S]*?" : p === "<port>" ? "\\d+" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
      )
      .join("");
  let source = "";
  let first = true;
  for (const line of shown.split("\n")) {
    if (line === "…") source += first ? "(?:[^\\n]*(?:\\n|$))*?" : "(?:\\n[^\\n]*)*?";
    else {
      source += (first ? "" : "\\n") + inline(line);
      first = false;
    }
  }
  return new RegExp(`^${source}$`);
}

function expectShown(actual: string, shown: string, what: string): void {
  if (!/…|<port>/.test(shown)) expect(actual, what).toBe(shown);
  else expect(actual, `${what}\nshown:\n${shown}`).toMatch(shownAsPattern(shown));
}

/** `$ command` lines, each with the output shown under it. */
function transcript(code: string): { command: string; output: string }[] {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of code.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), output: [] });
    else steps.at(-1)?.output.push(line);
  }
  return steps.map((s) => ({ command: s.command, output: s.output.join("\n").trimEnd() }));
}

const isTranscript = (b: Block) => b.code.split("\n").some((l) => l.startsWith("$ "));
const isTypeScript = (b: Block) => b.lang === "ts" || b.lang === "typescript";

/** A line that starts a server: it runs until stopped, so it is started and waited for. */
const SERVER_LINE = /^(\w+=\S*\s+)*(lab (server|files|proxy|udp echo)|redis-server|nc\s.*-\w*l\b)/;
/** A transcript's command that runs until stopped, in a terminal of its own. */
const RUNS_UNTIL_STOPPED = /^(lab udp listen)\b/;
/** What a server prints once it accepts connections. */
const READY = /listening|serving|proxying|Ready to accept connections/;

/**
 * The steps of a server block: a transcript's commands are servers whose shown output is their
 * ready line; in a script, each server line is one, and the lines between are run as scripts.
 */
function serverSteps(b: Block): Step[] {
  if (isTranscript(b))
    return transcript(b.code).map((s) => ({
      server: s.command,
      ready: new RegExp(shownAsPattern(s.output).source.slice(1, -1)),
      on: firstMachine(b),
    }));
  const steps: Step[] = [];
  let on = firstMachine(b);
  for (const line of b.code.split("\n")) {
    // `# machine A`: the lines after it run on machine A.
    const named = /^#\s*machine (\S+)/.exec(line.trim())?.[1];
    if (named !== undefined) {
      on = b.machines?.get(named);
      if (on === undefined) throw new Error(`${b.file}:${b.line}: no machine ${named} in <!-- machines -->`);
    }
    const last = steps.at(-1);
    if (SERVER_LINE.test(line.trim()))
      steps.push({ server: line.trim(), ready: /^nc\s/.test(line.trim()) ? undefined : READY, on });
    else if (last?.script !== undefined && last.on === on) last.script += `\n${line}`;
    else steps.push({ script: line, on });
  }
  return steps.filter((s) => s.server || s.script!.replace(/#.*/g, "").trim() !== "");
}

/** One step of a server block: a server to start, or a script to run, on a machine or not. */
interface Step {
  server?: string;
  script?: string;
  /** What it prints once ready; none (nc -l): ready once its port listens. */
  ready?: RegExp;
  on?: string;
}

const firstMachine = (b: Block) => b.machines?.values().next().value;

/** `exec` the command itself (after its variable assignments), so signals reach it. */
const execLine = (command: string) => command.replace(/^((?:\w+=\S*\s+)*)/, "$1exec ");

async function runGroup(group: Group, skip: (why: string) => void): Promise<void> {
  const all = group.blocks;
  const startsServers = all.some((b) => b.server || b.runWith || b.machines);
  if (startsServers && !HAS_NETNS) return skip(NO_NETNS);
  const needsRedis = all.some((b) => [b.code, ...(b.runWith ?? [])].some((c) => /^redis-server\b/m.test(c)));
  if (needsRedis && !HAS_REDIS) return skip(REDIS_MISSING);
  const procs: LabProcess[] = [];
  const spaces: number[] = [];
  try {
    await runIn(group, procs, spaces);
  } finally {
    killNamespaces(spaces);
    for (const p of procs.reverse()) await stopWithin(p, "SIGKILL");
  }
}

/**
 * Kills every process still in these processes' network namespaces: a script's `cmd &` outlives
 * the script when a step times out, and only the namespace knows it is the group's.
 */
function killNamespaces(pids: number[]): void {
  const netns = (pid: number | string) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      return undefined; // gone already, or not ours to read
    }
  };
  const ours = new Set(pids.map(netns).filter((ns) => ns !== undefined));
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    const ns = netns(pid);
    if (ns === undefined || !ours.has(ns)) continue;
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // it ended meanwhile
    }
  }
}

async function runIn(group: Group, procs: LabProcess[], spaces: number[]): Promise<void> {
  const all = group.blocks;
  const net = await openNet(
    all.map((b) => [b.code, ...(b.runWith ?? []), b.output ?? ""].join("\n")).join("\n"),
    procs,
    spaces,
  );
  const cwd = mkdtempSync(join(temp, "run-"));
  // HOME is the scratch folder too, so TLS identities and known_hosts are the run's own.
  // DOCS_ROOT lets a prelude copy the repository's fixtures (the reader's own programs).
  const env = { PATH, NO_COLOR: "1", HOME: cwd, DOCS_ROOT: root };
  const bash = async (script: string, flags: string[] = [], on?: string) =>
    finish(await net.spawn("bash", [...flags, "-c", script], cwd, env, on));
  const servers: { name: string; proc: LabProcess }[] = [];
  const start = async (command: string, ready: RegExp | undefined, on?: string) => {
    const proc = await net.spawn("bash", ["-c", execLine(command)], cwd, env, on);
    if (ready) await proc.waitForOutput(ready, { timeoutMs: READY_TIMEOUT_MS });
    else {
      // A server that says nothing (nc -l): wait until its port (the line's last number) listens.
      const port = command
        .split(/[<>]/)[0]!
        .match(/\b\d{2,5}\b/g)
        ?.at(-1);
      const wait = `until ss -Hltn "sport = :${port}" | grep -q .; do sleep 0.05; done`;
      const r = await bash(`timeout ${READY_TIMEOUT_MS / 1000} bash -c '${wait}'`, [], on);
      expect(r.code, `${command} listens on ${port}`).toBe(0);
    }
    servers.push({ name: command, proc });
  };
  for (const b of all) {
    const prelude = b.prelude === undefined ? undefined : PRELUDES[b.prelude];
    if (b.prelude !== undefined && !prelude)
      throw new Error(`${b.file}:${b.line}: no prelude named ${b.prelude}`);
    if (prelude?.sh) {
      const r = await bash(prelude.sh, ["-euo", "pipefail"]);
      expect(r.code, `prelude ${b.prelude}: ${r.stderr}`).toBe(0);
    }
    for (const command of b.runWith ?? []) await start(net.ports(command), READY);
    if (b.server) {
      for (const s of serverSteps(b)) {
        if (s.server) {
          await start(net.ports(s.server), s.ready, s.on);
          if (b.alternatives) await stopServer(servers.pop()!);
        } else {
          const r = await bash(net.ports(s.script!), ["-euo", "pipefail"], s.on);
          expect(r.code, `${b.file}:${b.line}: ${s.script}\n${r.stdout}\n${r.stderr}`).toBe(0);
        }
      }
    } else if (isTypeScript(b)) {
      await runTypeScript(b, net, cwd, env);
    } else if (isTranscript(b)) {
      const running: { command: string; output: string; proc: LabProcess }[] = [];
      for (const { command, output } of transcript(net.ports(b.code))) {
        if (RUNS_UNTIL_STOPPED.test(command)) {
          // A server or listener in another terminal: it runs while the commands after it do,
          // and what it printed meanwhile is compared when they are done.
          const proc = await net.spawn(
            "bash",
            ["-c", `exec 2>&1\n${execLine(command)}`],
            cwd,
            env,
            firstMachine(b),
          );
          const ready = shownAsPattern(output.split("\n")[0]!).source.slice(1, -1);
          await proc.waitForOutput(new RegExp(ready), { timeoutMs: READY_TIMEOUT_MS });
          running.push({ command, output, proc });
          continue;
        }
        // One pipe for stdout and stderr: the lines come in the order a terminal shows them.
        const r = await bash(`exec 2>&1\n${command}`, [], firstMachine(b));
        // A terminal shows CRLF (HTTP headers, as curl -i prints them) as a line end.
        const shown = r.stdout.replace(/\r\n/g, "\n").trimEnd();
        expectShown(shown, output, `${b.file}:${b.line}: $ ${command}`);
      }
      for (const { command, output, proc } of running) {
        // Its last lines may still be on their way; if they never come, the comparison says how not.
        await proc
          .waitForOutput(new RegExp(shownAsPattern(output).source.slice(1, -1)), { timeoutMs: 10_000 })
          .catch(() => {});
        await stopServer({ name: command, proc });
        expectShown(proc.stdout().trimEnd(), output, `${b.file}:${b.line}: $ ${command}`);
      }
    } else {
      const r = await bash(net.ports(b.code), ["-euo", "pipefail"], firstMachine(b));
      expect(r.code, `${b.file}:${b.line} exits 0\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
  }
  for (const s of servers.reverse()) await stopServer(s);
}

/** A server's job is to run until stopped: Ctrl-C ends it cleanly, with exit 0. */
async function stopServer(s: { name: string; proc: LabProcess }): Promise<void> {
  expect(await stopWithin(s.proc, "SIGINT"), `${s.name} exits 0 on Ctrl-C\n${s.proc.stderr()}`).toBe(0);
}

async function stopWithin(proc: LabProcess, signal: NodeJS.Signals): Promise<number> {
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
  const code = await proc.stop(signal);
  clearTimeout(timer);
  return code;
}

async function finish(proc: LabProcess): Promise<{ code: number; stdout: string; stderr: string }> {
  proc.endInput();
  const timer = setTimeout(() => proc.child.kill("SIGKILL"), STEP_TIMEOUT_MS);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout: proc.stdout(), stderr: proc.stderr() };
}

async function runTypeScript(
  block: Block,
  net: Net,
  cwd: string,
  env: Record<string, string>,
): Promise<void> {
  const esbuild = createRequire(join(root, "apps/cli/package.json"))("esbuild") as {
    build(options: Record<string, unknown>): Promise<unknown>;
  };
  const prelude = block.prelude === undefined ? undefined : PRELUDES[block.prelude];
  const dir = join(cwd, "ts");
  mkdirSync(dir, { recursive: true });
  // The modules are ES modules, whatever their file names (a worker's `./worker.js`).
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  const { main, others } = modules(block.code, prelude?.modules === true);
  const out = join(dir, "block.mjs");
  // Imports go first, so a prelude may wrap the block's code in a function (for a `return`, or
  // to give it parameters): ES modules hoist imports anyway, so the meaning is the same.
  const { imports, body } = liftImports(main);
  const source = [imports, prelude?.before ?? "", body, prelude?.after ?? ""].join("\n");
  writeFileSync(join(dir, "block.ts"), source);
  const bundle = (contents: string, outfile: string) =>
    esbuild.build({
      // bench depends on every library package; apps/cli adds the rest.
      stdin: { contents, resolveDir: join(root, "bench"), loader: "ts" },
      nodePaths: [join(root, "apps/cli/node_modules")],
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node20",
      conditions: ["@netlab/source"],
      outfile,
      logLevel: "silent",
      banner: {
        js: 'import { createRequire as __r } from "node:module"; const require = __r(import.meta.url);',
      },
    });
  await bundle(net.ports(source), out);
  const files = { ...others, ...prelude?.files };
  for (const [name, text] of Object.entries(files)) await bundle(net.ports(text), join(dir, name));
  const r = await finish(await net.spawn(process.execPath, [out], dir, env));
  expect(r.code, `${block.file}:${block.line}\n${r.stderr}`).toBe(0);
  if (block.output !== undefined)
    expectShown(r.stdout, net.ports(block.output), `${block.file}:${block.line} prints`);
  if (prelude?.shownInComment)
    expectShown(r.stdout.trimEnd(), trailingComment(block.code), `${block.file}:${block.line} prints`);
}

/**
 * A block that shows several files (`// main.ts`, then `// worker.ts`): main.ts is the program,
 * each other one a module bundled next to it as NAME.js, the name the program loads.
 */
function modules(code: string, split: boolean): { main: string; others: Record<string, string> } {
  if (!split) return { main: code, others: {} };
  const parts = code.split(/^\/\/ ([\w-]+)\.ts$/m);
  const others: Record<string, string> = {};
  let main: string | undefined;
  for (let i = 1; i < parts.length; i += 2) {
    if (parts[i] === "main") main = parts[i + 1]!;
    else others[`${parts[i]}.js`] = parts[i + 1]!;
  }
  if (main === undefined) throw new Error("a block of several files needs a `// main.ts` part");
  return { main, others };
}

function liftImports(code: string): { imports: string; body: string } {
  const imports: string[] = [];
  const body = code.replace(/^import .* from "[^"]+";$/gm, (line) => {
    imports.push(line);
    return "";
  });
  return { imports: imports.join("\n"), body };
}

/** The `// …` lines that end a block, as one line: what the block says it prints. */
function trailingComment(code: string): string {
  const lines = code.trimEnd().split("\n");
  let k = lines.length;
  while (k > 0 && lines[k - 1]!.trim().startsWith("//")) k--;
  return lines
    .slice(k)
    .map((l) => l.trim().replace(/^\/\/ ?/, ""))
    .join(" ");
}

describe("#20 docs that run", () => {
  const runnable = blocks.filter((b) => b.notRun === undefined);
  const skipped = blocks.filter((b) => b.notRun !== undefined);

  it("finds the blocks and reports the ones marked not-run", () => {
    const report = skipped.map((b) => `  ${b.file}:${b.line} (${b.lang}): ${b.notRun}`).join("\n");
    process.stderr.write(
      `docs: ${blocks.length} shell/TypeScript blocks, ${runnable.length} run, ${skipped.length} marked not-run:\n${report}\n`,
    );
    expect(runnable.length).toBeGreaterThan(5);
    for (const b of skipped) expect(b.notRun, `${b.file}:${b.line} says why`).toMatch(/\w{3,}/);
  });

  // Each group has its own folder and network (or free ports), so groups run side by side. The
  // longest start first (those with servers, the most commands first), so none starts last alone.
  const commands = (g: Group) =>
    g.blocks.reduce(
      (n, b) => n + (isTypeScript(b) ? 1 : b.code.split("\n").filter((l) => /^\$? ?\w/.test(l)).length),
      0,
    );
  const starts = (g: Group) => g.blocks.some((b) => b.server || b.runWith || b.machines);
  const longestFirst = groups(runnable).sort(
    (a, b) => Number(starts(b)) - Number(starts(a)) || commands(b) - commands(a),
  );
  it.concurrent.for(longestFirst.map((g) => [g.name, g] as const))(
    "%s runs as shown",
    { timeout: 150_000 },
    async ([, group], ctx) => runGroup(group, (why) => ctx.skip(why)),
  );
});
