// Issue #20 "one style": every command, enumerated from the commander program itself (so a new
// command is checked the day it is added), run through one table of checks: help defaults, usage
// errors with a did-you-mean, Ctrl-C exit codes (130 for a job cut short, 0 for a server stopped)
// and --json output even when nothing came back.

import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { SERVER_MODES } from "../../apps/cli/src/commands/server.js";
import { SHORT_FLAG_MEANINGS } from "../../apps/cli/src/options.js";
import { buildProgram } from "../../apps/cli/src/program.js";
import { type LabProcess, runLab, startLab, startServer } from "../helpers/lab.js";

type Command = ReturnType<typeof buildProgram>;
type Option = Command["options"][number];

/** How many `lab` processes run at once: the machine is shared. */
const POOL = 4;

interface Entry {
  path: string[];
  cmd: Command;
}

/** Every command and subcommand of `lab`, from the program `lab` itself builds. */
function allCommands(): Entry[] {
  const out: Entry[] = [];
  const walk = (cmd: Command, path: string[]) => {
    for (const sub of cmd.commands) {
      const p = [...path, sub.name()];
      out.push({ path: p, cmd: sub });
      walk(sub, p);
    }
  };
  walk(buildProgram(), []);
  return out;
}

const COMMANDS = allCommands();
const name = (path: string[]) => `lab ${path.join(" ")}`;

/** Runs `fn` over `items`, at most `limit` at a time, keeping their order. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const visible = (cmd: Command): Option[] =>
  cmd.options.filter((o) => !o.hidden && o.long !== "--help" && o.long !== "--version");

/** A time option: its placeholder says so (`<time>`; `<seconds>` or `<ms>` are caught below). */
const isTimeOption = (o: Option) => /<(time|seconds|secs?|s|ms|millis)>/.test(o.flags);

/** What --help prints as an option's default, as commander words it. */
function shownDefault(o: Option): string | undefined {
  // A repeatable option starts empty: help says nothing (checked: no "(default: [])").
  if (Array.isArray(o.defaultValue) && o.defaultValue.length === 0) return undefined;
  if (o.defaultValue === undefined || typeof o.defaultValue === "boolean") return o.defaultValueDescription;
  return o.defaultValueDescription ?? JSON.stringify(o.defaultValue);
}

/** At most one message: nothing, one line, or a `lab:` line and its `hint:`; never a stack trace. */
function oneMessage(stderr: string): string | undefined {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  if (/^\s+at /m.test(stderr)) return `stack trace on stderr:\n${stderr}`;
  if (lines.length <= 1) return undefined;
  if (lines.length === 2 && lines[0]?.startsWith("lab: ") && lines[1]?.startsWith("hint: ")) return undefined;
  return `more than one message on stderr:\n${stderr}`;
}

describe("#20 one style, every command", () => {
  it("#20: enumerates every command of the program (a new one is checked automatically)", () => {
    const names = COMMANDS.map((e) => e.path.join(" "));
    for (const known of ["server", "client", "files", "transfer", "udp ping", "udp echo", "get", "proxy"]) {
      expect(names).toContain(known);
    }
  });

  it("#20: --help shows number defaults as numbers (times with a unit), never [] or quoted", async () => {
    const failures = await pool(COMMANDS, POOL, async ({ path, cmd }) => {
      const r = await runLab([...path, "--help"], { timeoutMs: 10_000 });
      const help = r.stdout.replace(/\s+/g, " ");
      const bad: string[] = [];
      if (r.code !== 0) bad.push(`exit ${r.code}`);
      // One spelling, commander's: "(default: 30)", also where a description says it itself.
      for (const noise of [/\(default: \[\]\)/, /\(default: "/, /\(default: \{/, /\(default \d/]) {
        if (noise.test(help)) bad.push(`help shows ${noise.source}`);
      }
      for (const o of visible(cmd)) {
        const shown = shownDefault(o);
        if (shown === undefined) continue;
        if (!help.includes(`(default: ${shown})`)) bad.push(`${o.long}: (default: ${shown}) not in help`);
        if (/^"/.test(shown)) bad.push(`${o.long}: default ${shown} is shown quoted`);
        if (isTimeOption(o) && !/^\d+(\.\d+)?(us|ms|s|m|h)$/.test(shown)) {
          bad.push(`${o.long}: time default ${shown} has no unit`);
        }
      }
      // A time takes a unit (500ms, 2s, 1m): its placeholder is <time>, never <seconds> or <ms>.
      for (const o of visible(cmd)) {
        if (/<(seconds|secs?|s|ms|millis)>/.test(o.flags)) bad.push(`${o.long}: ${o.flags} takes no unit`);
      }
      // -s, -i, -v (and -f, -q) mean what they mean in curl wherever they appear.
      for (const o of cmd.options) {
        const meaning = SHORT_FLAG_MEANINGS[o.short as keyof typeof SHORT_FLAG_MEANINGS];
        if (meaning && !o.hidden && o.long !== meaning)
          bad.push(`${o.short} is ${o.long}, elsewhere ${meaning}`);
      }
      return bad.map((b) => `${name(path)}: ${b}`);
    });
    expect(failures.flat()).toEqual([]);
  });

  it("#20: an unknown option gets lab: + hint: with a did-you-mean, exit 2, on every command", async () => {
    const all = [{ path: [] as string[], cmd: buildProgram() }, ...COMMANDS];
    const failures = await pool(all, POOL, async ({ path, cmd }) => {
      // Mandatory options are given: commander reports a missing one before an unknown one.
      const required = cmd.options.filter((o) => o.mandatory).flatMap((o) => [o.long ?? "", "x"]);
      const near = visible(cmd).find((o) => o.long && !o.long.startsWith("--no-"))?.long;
      // A command that takes unknown options on (examples run passes them to the example) is
      // still checked for the lab:/hint: form and exit 2.
      const typo = near ? `${near}x` : "--no-such-option";
      const r = await runLab([...path, ...required, typo], { timeoutMs: 10_000 });
      const lines = r.stderr.trim().split("\n");
      const bad: string[] = [];
      if (r.code !== 2) bad.push(`exit ${r.code}, want 2`);
      if (lines.length !== 2 || !lines[0]?.startsWith("lab: ") || !lines[1]?.startsWith("hint: ")) {
        bad.push(`stderr is not lab: + hint:\n${r.stderr}`);
      }
      const takesUnknown = (cmd as unknown as { _allowUnknownOption: boolean })._allowUnknownOption;
      if (near && !takesUnknown) {
        if (lines[0] !== `lab: unknown option '${typo}'`) bad.push(`first line ${lines[0]}`);
        if (!lines[1]?.startsWith(`hint: did you mean ${near}?`)) bad.push(`no did-you-mean: ${lines[1]}`);
      }
      return bad.map((b) => `${name(path)} ${typo}: ${b}`);
    });
    expect(failures.flat()).toEqual([]);
  });

  it("#20: an unknown subcommand gets a did-you-mean, exit 2, in every command group", async () => {
    // A group whose own action takes an argument (lab url URL) reads a mistyped subcommand as that.
    const groups = [{ path: [] as string[], cmd: buildProgram() }, ...COMMANDS].filter(
      (e) => e.cmd.commands.length > 0 && e.cmd.registeredArguments.length === 0,
    );
    const failures = await pool(groups, POOL, async ({ path, cmd }) => {
      const sub = cmd.commands[0]?.name() ?? "";
      const typo = `${sub}x`;
      const r = await runLab([...path, typo], { timeoutMs: 10_000 });
      const lines = r.stderr.trim().split("\n");
      const ok =
        r.code === 2 &&
        lines.length === 2 &&
        lines[0] === `lab: unknown command '${typo}'` &&
        new RegExp(`^hint: did you mean .*\\b${sub}\\b`).test(lines[1] ?? "");
      return ok ? [] : [`${name([...path, typo])}: exit ${r.code}\n${r.stderr}`];
    });
    expect(failures.flat()).toEqual([]);
  });
});

/** Resolves with `value` after `ms`; the timer does not keep the run alive. */
const timeout = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms).unref());

/** A TCP server that accepts and never answers, and a UDP socket that reads and never replies. */
interface Sinks {
  tcpPort: number;
  udpPort: number;
  /** Resolves at the next TCP connection or datagram after the call. */
  nextContact(): Promise<void>;
  close(): Promise<void>;
}

async function startSinks(): Promise<Sinks> {
  const sockets = new Set<Socket>();
  let waiters: (() => void)[] = [];
  const contact = () => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const tcp = createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    s.resume();
    contact();
  });
  const tcpPort = await getPort({ host: "127.0.0.1" });
  await new Promise<void>((resolve) => tcp.listen(tcpPort, "127.0.0.1", resolve));
  const udp = createSocket("udp4");
  udp.on("message", contact);
  const udpPort = await getPort({ host: "127.0.0.1" });
  await new Promise<void>((resolve) => udp.bind(udpPort, "127.0.0.1", resolve));
  return {
    tcpPort,
    udpPort,
    nextContact: () => new Promise((resolve) => waiters.push(resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => tcp.close(resolve));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}

describe("#20 one style: Ctrl-C", () => {
  let sinks: Sinks;
  let dir: string;
  beforeAll(async () => {
    sinks = await startSinks();
    dir = mkdtempSync(join(tmpdir(), "lab-style-"));
    writeFileSync(join(dir, "hello.txt"), "hello\n");
    await prepare();
  });
  afterAll(async () => {
    await sinks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A command cut short: its run, and what shows it is under way (the sink hears from it). */
  interface ClientCase {
    args: () => string[];
    /** Resolves once the command is doing its job (default: the sinks hear from it). */
    started?: (lab: LabProcess) => Promise<unknown>;
    /** Its stderr is a server-style log (timestamped lines), not one message. */
    logs?: boolean;
  }
  let listenPort = 0;
  /** Where client commands go: the sinks, or (for the failure check) ports where nothing listens. */
  let target: { tcp: number; udp: number } | undefined;
  const tcp = () => String(target?.tcp ?? sinks.tcpPort);
  const udp = () => String(target?.udp ?? sinks.udpPort);
  const CLIENTS: Record<string, ClientCase> = {
    client: { args: () => ["client", "-p", tcp()] },
    "transfer (upload)": { args: () => ["transfer", join(dir, "hello.txt"), "-p", tcp()] },
    "transfer --get": { args: () => ["transfer", "--get", "hello.txt", "-o", join(dir, "out"), "-p", tcp()] },
    "transfer --list": { args: () => ["transfer", "--list", "-p", tcp()] },
    get: { args: () => ["get", `http://127.0.0.1:${tcp()}/`] },
    "udp ping": { args: () => ["udp", "ping", "-p", udp(), "-c", "100"] },
    "udp send --wait": { args: () => ["udp", "send", `127.0.0.1:${udp()}`, "hi", "--wait", "30s"] },
    // With -c the job is that many datagrams; without, udp listen is a server (below).
    "udp listen -c": {
      args: () => ["udp", "listen", "-p", String(listenPort), "-c", "1"],
      started: (lab) => lab.waitForOutput("listening on udp"),
      logs: true,
    },
    replay: {
      args: () => ["replay", join(dir, "session.jsonl"), "--to", `127.0.0.1:${tcp()}`, "--wait", "30s"],
    },
    check: {
      // The target connects to the sink (so the test knows check started it) and never listens.
      args: () => [
        "check",
        "echo",
        "--startup-timeout",
        "30s",
        "--",
        process.execPath,
        "-e",
        `require("net").connect(${tcp()}, "127.0.0.1"); setInterval(() => {}, 1000)`,
        "{port}",
      ],
    },
  };

  /** Picks udp listen's port and records the short session replay plays. */
  const prepare = async () => {
    listenPort = await getPort({ host: "127.0.0.1" });
    // replay needs a recorded session: a short one from lab server --record.
    const record = join(dir, "session.jsonl");
    const { lab: server, port } = await startServer(
      (p) => ["server", "--mode", "upper", "-p", String(p), "--record", record],
      (p) => `listening on 127.0.0.1:${p}`,
      { killOnFinish: false },
    );
    await runLab(["client", "-p", String(port), "--wait", "200ms"], {
      input: "hi\n",
      timeoutMs: 10_000,
      killOnFinish: false,
    });
    expect(await server.stop("SIGINT")).toBe(0);
  };

  it("#20: a client command pointed where nothing listens says lab: + hint:, exits non-zero, no trace", async () => {
    target = { tcp: await getPort({ host: "127.0.0.1" }), udp: await getPort({ host: "127.0.0.1" }) };
    try {
      // udp listen -c waits for datagrams, not for a peer; check with a command waits for it to listen.
      const cases = Object.entries(CLIENTS).filter(([what]) => what !== "udp listen -c" && what !== "check");
      cases.push(["check", { args: () => ["check", "echo", `127.0.0.1:${tcp()}`] }]);
      const failures = await pool(cases, POOL, async ([what, c]) => {
        const r = await runLab(c.args(), { timeoutMs: 15_000 });
        const lines = r.stderr.trim().split("\n");
        const last = lines.slice(-2);
        const ok =
          r.code !== 0 &&
          r.code !== 137 &&
          !/^\s+at /m.test(r.stderr) &&
          last[0]?.startsWith("lab: ") === true &&
          last[1]?.startsWith("hint: ") === true;
        return ok ? [] : [`${what}: exit ${r.code}\n${r.stderr}`];
      });
      expect(failures.flat()).toEqual([]);
    } finally {
      target = undefined;
    }
  });

  it("#20: a client command interrupted before its job is done exits 130, one message, no trace", async () => {
    // One at a time: each waits for the sink to hear from it, and the sinks are shared.
    const failures: string[] = [];
    for (const [what, c] of Object.entries(CLIENTS)) {
      const contact = sinks.nextContact();
      const lab = startLab(c.args());
      // Its start included: lab alone can take 3+ s to start on a loaded 2-core machine.
      const started = await Promise.race([
        (c.started?.(lab) ?? contact).then(() => "started" as const),
        lab.exited.then(() => "exited" as const),
        timeout(15_000, "silent" as const),
      ]);
      if (started !== "started") {
        lab.child.kill("SIGKILL");
        failures.push(
          `${what}: ${started} before its job started (exit ${await lab.exited})\n${lab.stderr()}`,
        );
        continue;
      }
      lab.child.kill("SIGINT");
      const code = await Promise.race([lab.exited, timeout(5_000, "still running" as const)]);
      if (code === "still running") {
        lab.child.kill("SIGKILL");
        failures.push(`${what}: still running 5 s after Ctrl-C\n${lab.stderr()}`);
        continue;
      }
      if (code !== 130) failures.push(`${what}: exit ${code} on Ctrl-C, want 130\n${lab.stderr()}`);
      const msg = c.logs
        ? /^\s+at /m.test(lab.stderr())
          ? `stack trace on stderr:\n${lab.stderr()}`
          : undefined
        : oneMessage(lab.stderr());
      if (msg) failures.push(`${what}: ${msg}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  /** A server: its run and its ready line. */
  const SERVERS: Record<string, { args: (port: number) => string[]; ready: (port: number) => RegExp }> = {
    ...Object.fromEntries(
      Object.keys(SERVER_MODES).map((mode) => [
        `server --mode ${mode}`,
        {
          args: (p: number) => ["server", "--mode", mode, "-p", String(p)],
          ready: (p: number) => new RegExp(`listening on 127\\.0\\.0\\.1:${p}`),
        },
      ]),
    ),
    files: {
      args: (p) => ["files", dir, "-p", String(p)],
      ready: (p) => new RegExp(`on 127\\.0\\.0\\.1:${p}`),
    },
    "udp echo": {
      args: (p) => ["udp", "echo", "-p", String(p)],
      ready: (p) => new RegExp(`udp 127\\.0\\.0\\.1:${p}`),
    },
    "udp listen": {
      args: (p) => ["udp", "listen", "-p", String(p)],
      ready: (p) => new RegExp(`udp 127\\.0\\.0\\.1:${p}`),
    },
    proxy: {
      args: (p) => ["proxy", `127.0.0.1:${p}`, `127.0.0.1:${tcp()}`],
      ready: (p) => new RegExp(`proxying 127\\.0\\.0\\.1:${p}`),
    },
    "proxy --udp": {
      args: (p) => ["proxy", "--udp", `127.0.0.1:${p}`, `127.0.0.1:${udp()}`],
      ready: (p) => new RegExp(`proxying udp 127\\.0\\.0\\.1:${p}`),
    },
  };

  it("#20: a server stopped with Ctrl-C shuts down gracefully and exits 0, in every mode", async () => {
    const failures = await pool(Object.entries(SERVERS), POOL, async ([what, s]) => {
      const { lab } = await startServer(s.args, s.ready);
      const code = await lab.stop("SIGINT");
      const bad: string[] = [];
      if (code !== 0) bad.push(`${what}: exit ${code} on Ctrl-C, want 0\n${lab.stderr()}`);
      if (!/stopped/.test(lab.stderr())) bad.push(`${what}: no 'stopped' line\n${lab.stderr()}`);
      if (/^\s+at /m.test(lab.stderr())) bad.push(`${what}: stack trace\n${lab.stderr()}`);
      return bad;
    });
    expect(failures.flat()).toEqual([]);
  }, 60_000);
});

describe("#20 one style: --json", () => {
  let sinks: Sinks;
  let dir: string;
  beforeAll(async () => {
    sinks = await startSinks();
    dir = mkdtempSync(join(tmpdir(), "lab-style-json-"));
  });
  afterAll(async () => {
    await sinks.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Every command with --json, run where nothing comes back. A command given --json that is not in
   * this table fails the test, so a new one is checked the day it gets the option. A report (ping,
   * a listing, a send) prints one even when it is empty; a stream of events (a chat session,
   * datagrams as they come) is JSON Lines, where nothing is zero lines.
   */
  interface JsonCase {
    args: string[];
    stream?: boolean;
    /** Runs until stopped: Ctrl-C it once this shows on stderr. */
    stopAfter?: string;
    /** What the report must say: undefined when it does, else what is wrong. */
    check?: (value: Record<string, unknown>) => string | undefined;
  }
  const JSON_CASES: Record<string, () => Promise<JsonCase | undefined>> = {
    client: async () => {
      const { port } = await startServer(
        (p) => ["server", "--mode", "echo", "-p", String(p)],
        (p) => `listening on 127.0.0.1:${p}`,
      );
      return { args: ["client", "-p", String(port), "--json", "--wait", "200ms"], stream: true };
    },
    transfer: async () => {
      const empty = mkdtempSync(join(dir, "empty-"));
      const { port } = await startServer(
        (p) => ["files", empty, "-p", String(p)],
        (p) => new RegExp(`on 127\\.0\\.0\\.1:${p}`),
      );
      return { args: ["transfer", "--list", "--json", "-p", String(port)] };
    },
    "udp ping": async () => ({
      args: [
        "udp",
        "ping",
        "-p",
        String(sinks.udpPort),
        "-c",
        "2",
        "--interval",
        "50ms",
        "-W",
        "200ms",
        "--json",
      ],
    }),
    "udp send": async () => ({
      args: ["udp", "send", `127.0.0.1:${sinks.udpPort}`, "hi", "--wait", "200ms", "--json"],
    }),
    "udp listen": async () => ({
      args: ["udp", "listen", "-p", String(await getPort({ host: "127.0.0.1" })), "--json"],
      stream: true,
      stopAfter: "listening on udp",
    }),
    // The sink never echoes: the one test fails at its deadline, and the report says so.
    check: async () => ({
      args: [
        "check",
        "echo",
        `127.0.0.1:${sinks.tcpPort}`,
        "--only",
        "echo.all-bytes",
        "--timeout",
        "300ms",
        "--json",
      ],
      check: (v) => {
        const summary = v.summary as { total?: number; failed?: number } | undefined;
        return summary?.total === 1 && summary.failed === 1 ? undefined : "want 1 test, 1 failed";
      },
    }),
    url: async () => ({ args: ["url", "--json", "http://example.test/"] }),
    // The url group's --json reaches its subcommands, as it would any option of theirs.
    "url join": async () => ({
      args: ["url", "join", "http://a/b/", "c", "--json"],
      check: (v) => (v.url === "http://a/b/c" ? undefined : "want url http://a/b/c"),
    }),
    "url quote": async () => ({
      args: ["url", "quote", "a b", "--json"],
      check: (v) => (v.text === "a%20b" ? undefined : "want text a%20b"),
    }),
    get: async () => {
      // An HTTP server whose answer has an empty body.
      const server = createHttpServer((_req, res) => res.end());
      const port = await getPort({ host: "127.0.0.1" });
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
      onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return {
        args: ["get", "--json", `http://127.0.0.1:${port}/`],
        check: (v) => (v.status === 200 && v.bytes === 0 ? undefined : "want status 200, bytes 0"),
      };
    },
    examples: async () => ({ args: ["examples", "--json"] }),
    demo: async () => {
      const script = join(dir, "empty-script.txt");
      writeFileSync(script, "");
      return { args: ["demo", "--script", script, "--json"] };
    },
    // lab bench --json runs the benchmarks (minutes of CPU): checked by bench's own tests.
    bench: async () => undefined,
  };

  it("#20: every command with --json prints valid JSON even when nothing came back", async () => {
    const withJson = COMMANDS.filter((e) => e.cmd.options.some((o) => o.long === "--json")).map((e) =>
      e.path.join(" "),
    );
    const failures: string[] = [];
    for (const what of withJson) {
      if (!(what in JSON_CASES)) failures.push(`${what}: has --json but no case in JSON_CASES`);
    }
    const results = await pool(Object.entries(JSON_CASES), POOL, async ([what, make]) => {
      const c = await make();
      if (!c) return [];
      const lab = startLab(c.args);
      lab.endInput();
      if (c.stopAfter) {
        await lab.waitForOutput(c.stopAfter);
        await lab.stop("SIGINT");
      }
      const timer = setTimeout(() => lab.child.kill("SIGKILL"), 15_000);
      const code = await lab.exited;
      clearTimeout(timer);
      const out = lab.stdout().trim();
      if (/^\s+at /m.test(lab.stderr())) return [`${what}: stack trace\n${lab.stderr()}`];
      if (out === "") {
        return c.stream
          ? []
          : [`${what}: printed nothing on stdout with --json (exit ${code})\n${lab.stderr()}`];
      }
      try {
        const wrong = c.check?.(JSON.parse(out));
        return wrong ? [`${what}: ${wrong}: ${out}`] : [];
      } catch {
        // JSON Lines: one value a line.
        const bad = out.split("\n").find((line) => {
          try {
            JSON.parse(line);
            return false;
          } catch {
            return true;
          }
        });
        return bad === undefined ? [] : [`${what}: not JSON: ${bad}`];
      }
    });
    failures.push(...results.flat());
    expect(failures).toEqual([]);
  }, 60_000);
});
