import { readFile } from "node:fs/promises";
import { formatRate, parseRate } from "@netlab/core/units";
import type { Command } from "commander";
import { exposureWarning, hostFlag } from "../address.js";
import { parseDuration, parseNumber, parsePort } from "../options.js";
import { action, UsageError } from "../run.js";
import { offerWords } from "../words.js";
import { REPLY_LIMIT_TEXT } from "./udp-shared.js";

interface DemoFlags {
  scene: string;
  clients?: string;
  script?: string;
  host: string;
  port: string;
  expectTimeout: string;
  json?: boolean;
  tls?: boolean;
  rate?: string;
  cluster?: string | true;
}

const MAX_CLIENTS = 6;
/** Kept in step with @netlab/tui's SCENES (not imported: this module must not load the TUI). */
const SCENES = ["chat", "transfer", "udp", "proxy"];

/**
 * `lab demo`: a chat server and N clients side by side in one terminal (an Ink app), or, with
 * `--script FILE`, the same lab played headlessly with every pane's transcript printed.
 */
export function registerDemo(program: Command): void {
  const cmd = program
    .command("demo")
    .description("a chat server and several clients side by side in one terminal")
    .option(
      "--scene <name>",
      "what to show: chat, transfer (a file server and uploaders), udp (echo and pingers) or proxy (toxics on the wire)",
      "chat",
    )
    .option(
      "--clients <n>",
      `clients (uploaders, pingers in the other scenes) to start with, 1..${MAX_CLIENTS} (default: 3)`,
    )
    .option(
      "--script <file>",
      "play a scripted conversation without a terminal and print every pane's transcript",
    )
    .option("--host <host>", "IP address or name the servers bind (not a Unix socket)", "127.0.0.1")
    .option(
      "-p, --port <port>",
      "the server's port, so nc or lab client can join the demo (the file server's, udp echo's or proxy's in the other scenes; 0 = any free port)",
      "0",
    )
    .option("--expect-timeout <time>", "how long each `expect` in a script waits", "3s")
    .option("--json", "with --script: print the panes as JSON")
    .option(
      "--rate <rate>",
      "transfer scene: each uploader sends at most this many bytes per second, e.g. 1MiB/s or 500K (a bare number is bytes/s) (default: no limit)",
    )
    .option(
      "--cluster [url]",
      "chat scene as a cluster: two lab server --cluster nodes joined through Redis at URL (default: a redis-server started on a free port for the demo), clients spread over them, each message marked a→b (sent on node a, delivered by b)",
    )
    .option("--tls", "chat scene over TLS: the wire view shows ciphertext, the panes plaintext")
    .addHelpText(
      "after",
      `
Keys: Tab/Shift-Tab focus · Enter send · ^N add client · ^D drop/reconnect · ^R restart server ·
      ^W wire view · PgUp/PgDn scroll · ^C quit

Examples:
  lab demo                       three clients and a server, in this terminal
  lab demo --clients 5
  lab demo --scene udp           a UDP echo server with adjustable loss and delay, and pingers
  lab demo --scene transfer      a file server and uploaders: progress bars and verified hashes
  lab demo --scene transfer --rate 2MiB/s   the same, slow enough to watch the bars fill
  lab demo --scene proxy         a client, lab proxy and a server: see chunks coalesce and slice
  lab demo --port 7000           then, in another terminal: nc -N 127.0.0.1 7000
  lab demo --cluster             two nodes through a redis-server of its own: which node each message crossed
  lab demo --tls                 the chat over TLS: Ctrl-W shows the encrypted bytes on the wire
  lab demo --script lesson.txt   play a script headlessly (e.g. in CI) and print the transcripts

A script, one command a line (see docs/demo.md):
  client 1: hello everyone
  expect client 2: hello everyone
  restart server
  expect client 1: reconnected`,
    )
    .action(
      action(async (flags: DemoFlags) => {
        if (!SCENES.includes(flags.scene)) {
          throw new UsageError(`unknown scene "${flags.scene}"`, `choose from: ${SCENES.join(", ")}`);
        }
        const clients = flags.clients === undefined ? undefined : parseClients(flags.clients);
        const expectTimeoutMs = parseSeconds("--expect-timeout", flags.expectTimeout);
        const port = parsePort(flags.port, { allowZero: true });
        const host = demoHost(flags.host);
        if (flags.json && flags.script === undefined) {
          throw new UsageError("--json only applies with --script", "lab demo --script FILE --json");
        }
        if (flags.cluster !== undefined && flags.scene !== "chat") {
          throw new UsageError("--cluster runs the chat scene only", "drop --scene, or drop --cluster");
        }
        if (flags.cluster !== undefined && flags.tls) {
          throw new UsageError("--cluster and --tls do not go together in the demo", "drop one of them");
        }
        const cluster = flags.cluster === undefined ? undefined : await clusterUrl(flags.cluster);
        if (flags.tls && flags.scene !== "chat") {
          throw new UsageError("--tls runs the chat scene only", "drop --scene, or drop --tls");
        }
        const rateBytesPerSecond = flags.rate === undefined ? undefined : await parseRateFlag(flags.rate);
        if (flags.rate !== undefined && flags.scene !== "transfer") {
          throw new UsageError(
            "--rate slows the transfer scene only",
            "lab demo --scene transfer --rate 1MiB/s",
          );
        }
        if (flags.script !== undefined && flags.scene !== "chat") {
          throw new UsageError(
            "--script plays the chat scene only",
            "drop --scene, or run the scene in a terminal",
          );
        }
        const exposed = exposure(flags.scene);
        if (flags.script !== undefined) {
          try {
            await playScript(flags.script, {
              clients,
              host,
              port,
              tls: flags.tls ?? false,
              cluster,
              expectTimeoutMs,
              json: flags.json ?? false,
              exposure: exposed.check,
            });
          } finally {
            exposed.sayAgain();
          }
          return;
        }
        if (!process.stdin.isTTY || !process.stdout.isTTY) {
          throw new UsageError(
            "lab demo needs a terminal (stdin and stdout are not a TTY)",
            "run it in a terminal, or play a script headlessly: lab demo --script FILE",
          );
        }
        // React's production build loads and renders faster; nothing here needs its dev checks.
        process.env.NODE_ENV ??= "production";
        const { runDemo } = await loadTui();
        try {
          await runDemo({
            scene: flags.scene as "chat" | "transfer" | "udp" | "proxy",
            clients,
            host,
            port,
            tls: flags.tls ?? false,
            rateBytesPerSecond,
            cluster,
            exposure: exposed.check,
          });
        } finally {
          exposed.sayAgain();
        }
      }),
    );
  offerWords(cmd, "--scene", SCENES);
}

/**
 * What anyone who reaches a scene's server can do, in the words its command's own warning uses
 * (lab server, lab files, lab udp echo with its default --reply-rate, lab proxy).
 */
const EXPOSED: Readonly<Record<string, () => string>> = {
  chat: () => "join the chat under any free nick",
  transfer: () => "list, download and upload files",
  // A function, read when the demo starts: udp-shared.js is part of an import cycle through
  // program.js, so its constant may not be set yet while this module loads.
  udp: () =>
    `aim its echoes at any address by forging the source, at most ${formatRate(parseRate(REPLY_LIMIT_TEXT.rate) ?? 0)} at each`,
  proxy: () => "connect through it to the demo's echo server",
};

/**
 * The warning every server command gives when others can reach it, for the scene's server (the
 * demo has no --token-file): `check` gives it for the address bound, shown in the server pane (a
 * line on stderr would vanish behind the alternate screen); `sayAgain` prints it on stderr once the
 * demo is over, where it stays.
 */
function exposure(scene: string): { check?: (host: string) => string | undefined; sayAgain(): void } {
  const what = EXPOSED[scene]?.();
  if (what === undefined) return { sayAgain: () => {} };
  let said: string | undefined;
  return {
    check: (host) => {
      const warning = exposureWarning({ host }, what, "");
      said ??= warning;
      return warning;
    },
    sayAgain: () => {
      if (said === undefined) return;
      process.stderr.write(
        `lab: warning: ${said}\nhint: that was the demo's server while it ran; leave out --host (127.0.0.1) to keep it on this machine\n`,
      );
    },
  };
}

/**
 * Every scene's servers are TCP ones (UDP in the udp scene), so a Unix socket address is refused
 * by name here rather than as "not a host name", which left the user guessing what the demo takes.
 */
function demoHost(text: string): string {
  if (/^(unix:|@)/.test(text)) {
    throw new UsageError(
      `lab demo's servers listen on an IP address (TCP; UDP in --scene udp), not on a Unix socket: ${JSON.stringify(text)}`,
      "give --host 127.0.0.1 or ::1; a chat on a Unix socket is lab server --host unix:/path",
    );
  }
  return hostFlag(text);
}

async function playScript(
  file: string,
  opts: {
    clients: number | undefined;
    host: string;
    port: number;
    tls: boolean;
    cluster: string | true | undefined;
    expectTimeoutMs: number;
    json: boolean;
    exposure: ((host: string) => string | undefined) | undefined;
  },
): Promise<void> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(
      `cannot read script ${file}: ${code === "ENOENT" ? "no such file" : (err as Error).message}`,
      "pass a file with one command a line (docs/demo.md), or - for stdin",
    );
  }
  const { runScript, ScriptError } = await loadTui();
  try {
    await runScript({
      text,
      clients: opts.clients,
      host: opts.host,
      port: opts.port,
      tls: opts.tls,
      cluster: opts.cluster,
      expectTimeoutMs: opts.expectTimeoutMs,
      json: opts.json,
      exposure: opts.exposure,
      write: (t) => process.stdout.write(t),
    });
  } catch (err) {
    // A script that does not parse is a usage error; one that fails while playing is a failure.
    if (err instanceof ScriptError && err.code === "BAD_SCRIPT") throw new UsageError(err.message, err.hint);
    throw err;
  }
}

/**
 * @netlab/tui from its bundle when that is up to date (Ink, React and the lab in a few files, the
 * chat lab's sockets started before Ink loads: about a second less to start on a 2-core machine),
 * otherwise from its modules as `tsc` built them.
 */
async function loadTui(): Promise<import("@netlab/tui/load").Tui> {
  // Node 22.1+ (not 20): V8 caches the compiled TUI on disk (in the OS temp folder) for the next start.
  const nodeModule = (await import("node:module")) as { enableCompileCache?: () => unknown };
  nodeModule.enableCompileCache?.();
  const { bundleState, loadBundle } = await import("@netlab/tui/load");
  // The bundle's own entry either way: `@netlab/tui` itself imports Ink at once, before runDemo
  // could take CI out of the environment (Ink then draws nothing until it exits).
  return bundleState() === "fresh" ? loadBundle() : await import("@netlab/tui/cli");
}

function parseClients(value: string): number {
  return parseNumber("--clients", value, {
    min: 1,
    max: MAX_CLIENTS,
    integer: true,
    hint: "e.g. lab demo --clients 3",
  });
}

/**
 * `--cluster [URL]`: true (start a redis-server) or the URL, checked now so a bad one is a usage
 * error before anything starts; @netlab/chat-redis loads only then.
 */
async function clusterUrl(value: string | true): Promise<string | true> {
  if (value === true) return true;
  const { parseClusterUrl, ClusterError } = await import("@netlab/chat-redis");
  try {
    parseClusterUrl(value);
  } catch (err) {
    if (err instanceof ClusterError) throw new UsageError(err.message, err.hint);
    throw err;
  }
  return value;
}

/** `--rate`: a size per second through @netlab/core's one parser (loaded only when given). */
async function parseRateFlag(text: string): Promise<number> {
  const { parseRate } = await import("@netlab/core");
  const rate = parseRate(text);
  if (rate === undefined) {
    throw new UsageError(
      `--rate must be a rate such as 1MiB/s or 500K (a bare number is bytes per second), got ${JSON.stringify(text)}`,
      "lab demo --scene transfer --rate 1MiB/s",
    );
  }
  return rate;
}

function parseSeconds(flag: string, value: string): number {
  return parseDuration(flag, value, { minMs: 1, maxMs: 600_000 });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
