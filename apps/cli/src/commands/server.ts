import { readFileSync } from "node:fs";
import { TLS_PLAINTEXT_REPLY } from "@netlab/core/sniff";
import { plural } from "@netlab/core/units";
import type { BaseServer } from "@netlab/socketserver";
import type { Command } from "commander";
import {
  ADDRESS_HELP,
  addFamilyOptions,
  exposureWarning,
  formatBound,
  listenAddress,
  refuseTlsOverUnix,
} from "../address.js";
import { addLogOptions, createLogger, type Logger, type LogOpts, logConnections } from "../log.js";
import { formatDuration, parseDuration, parseNumber } from "../options.js";
import { action, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";
import { addServerTlsOptions, type ServerTlsFlags, serverTls } from "../tls-options.js";
import { addServerTokenOptions, refuseArgvToken, serverTokens, type TokenOpts } from "../token.js";
import { offerWords } from "../words.js";

/**
 * Whether this process is in its terminal's foreground process group (Linux: `pgrp` and `tpgid`
 * of /proc/self/stat). Elsewhere, or without /proc, it says yes: the console reads as before.
 */
function isForeground(): boolean {
  let stat: string;
  try {
    stat = readFileSync("/proc/self/stat", "utf8");
  } catch {
    return true;
  }
  // After "PID (COMMAND) ": state, ppid, pgrp, session, tty_nr, tpgid, … (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[2] === fields[5];
}

/** What every mode gets: the options common to all servers, already checked, defaults filled in. */
export interface ServerModeOptions {
  host: string;
  port: number;
  /** A Unix socket path (NUL + name: abstract) instead of host and port. */
  path?: string;
  /** `-6 --host ::`: IPv6 clients only. */
  ipv6Only: boolean;
  /** `--max-clients`: connections served at once. Default 1 000 in every mode. */
  maxConnections: number;
  /** `--idle-timeout` in ms: a connection that sends nothing this long is closed. Default 600 000; 0 is off. */
  idleTimeoutMs: number;
  /** `--line-timeout` in ms: a line still incomplete after this closes its connection. Default 30 000; 0 is off. */
  frameTimeoutMs: number;
  /** How long shutdown waits for peers to take what is queued for them, in ms (300: one Ctrl-C ends within 1 s). */
  drainTimeoutMs: number;
  /** `--tls`: the certificate and key to speak TLS with; undefined for plaintext. */
  tls: import("@netlab/socketserver").ServerTlsOptions | undefined;
  /** Every option commander parsed, for modes that add their own. */
  raw: Record<string, unknown>;
  /** The server's log (-v, -q, --log-format). */
  log: Logger;
}

/** The limits every mode of `lab server` applies unless told otherwise (the chat server's own). */
export const SERVER_LIMIT_DEFAULTS = {
  maxConnections: 1_000,
  idleTimeoutMs: 600_000,
  frameTimeoutMs: 30_000,
  drainTimeoutMs: 300,
} as const;

/** One `--mode`: a line for --help and how to build its server (not yet listening). */
export interface ServerMode {
  summary: string;
  /** The server, and the limits it applies beyond the common ones (for the `limits:` log line). */
  create(options: ServerModeOptions): Promise<{ server: BaseServer; limits?: string }>;
}

/**
 * The modes of `lab server`, in the order --help lists them. A mode is one entry: import its package
 * inside `create` so `lab --help` stays fast.
 */
export const SERVER_MODES: Record<string, ServerMode> = {
  chat: {
    summary: "a chat: rooms, nicks, /msg, history; lab client or plain nc can join",
    async create(o) {
      const { ChatServer } = await import("@netlab/chat");
      const count = (flag: string, name: string) =>
        o.raw[name] === undefined
          ? undefined
          : parseNumber(flag, String(o.raw[name]), { min: 0, max: 1_000_000, integer: true });
      const flood = count("--flood", "flood");
      const { tokens, authDelayMs } = await serverTokens(o.raw as TokenOpts);
      const backend = await clusterBackend(o.raw);
      const chat = new ChatServer({
        backend,
        tokens,
        authDelayMs,
        allowPlaintextAuth: (o.raw as TokenOpts).allowPlaintextAuth ?? false,
        host: o.host,
        port: o.port,
        path: o.path,
        ipv6Only: o.ipv6Only,
        maxClients: o.maxConnections,
        idleTimeoutMs: o.idleTimeoutMs,
        frameTimeoutMs: o.frameTimeoutMs,
        drainTimeoutMs: o.drainTimeoutMs,
        tls: o.tls,
        historySize: count("--history", "history"),
        floodMessages: flood === 0 ? Number.POSITIVE_INFINITY : flood,
        maxQueuedBytesTotal: await maxQueued(o.raw.maxQueued),
      });

      const log = o.log;
      chat.on("nick", (e: { from: string; to: string }) =>
        log.info(`nick ${e.from} -> ${e.to}`, { event: "nick", from: e.from, to: e.to }),
      );
      chat.on("disconnect", (p: { nick: string }, reason: string) => {
        if (reason !== "connection closed")
          log.info(`${p.nick} left: ${reason}`, { event: "left", nick: p.nick });
      });
      if (log.isVerbose) {
        chat.on("join", (e: { room: string; nick: string }) =>
          log.debug(`${e.nick} joined ${e.room}`, { event: "join", ...e }),
        );
        chat.on("leave", (e: { room: string; nick: string; reason?: string }) =>
          log.debug(`${e.nick} left ${e.room}${e.reason ? `: ${e.reason}` : ""}`, {
            event: "leave",
            room: e.room,
            nick: e.nick,
            reason: e.reason,
          }),
        );
      }
      if (process.stdin.isTTY) {
        // The operator console: each line typed here goes to every client as `<server> text`.
        const { createInterface } = await import("node:readline");
        const rl = createInterface({ input: process.stdin, terminal: false });
        // `lab server &`: a background process that reads its terminal is stopped (SIGTTIN), and
        // the whole server with it. Read only in the foreground: checked at once, on SIGCONT (`bg`
        // after Ctrl-Z) and each second (bash's `fg` of a running job sends no signal).
        const follow = () => (isForeground() ? rl.resume() : rl.pause());
        follow();
        process.on("SIGCONT", follow);
        const watch = setInterval(follow, 1_000).unref();
        rl.on("line", (text) => {
          if (text.trim() === "") return;
          chat.broadcast(text);
          log.info(`<server> ${text} (to ${plural(chat.stats().clients, "client")})`, { event: "broadcast" });
        });
        chat.socketServer.signal.addEventListener(
          "abort",
          () => {
            clearInterval(watch);
            process.off("SIGCONT", follow);
            rl.close();
          },
          { once: true },
        );
      }
      const { formatBytes } = await import("@netlab/core");
      if (backend) {
        chat.on("cluster", (e: { isDegraded: boolean; reason: string }) =>
          log.log(e.isDegraded ? "warn" : "info", e.reason, { event: "cluster", isDegraded: e.isDegraded }),
        );
        chat.on("lost", (e: { room: string; count: number; node: string }) =>
          log.warn(
            `cluster: ${e.count} message${e.count === 1 ? "" : "s"} from node ${e.node} lost in ${e.room} (pubsub)`,
            { event: "lost", room: e.room, count: e.count, node: e.node },
          ),
        );
        chat.on("error", (err: unknown) =>
          log.error(`cluster: ${err instanceof Error ? err.message : String(err)}`, { event: "cluster" }),
        );
        // Joined before listening: a cluster that cannot be reached is exit 1, not a half-started node.
        await chat.hub.start();
        log.info(`cluster: node ${backend.nodeId} joined through Redis at ${backend.address.where}`);
      }
      const queued = `output queues ${formatBytes(chat.options.maxQueuedBytesTotal)} in all`;
      const auth =
        tokens === undefined ? undefined : `${tokens.size} token${tokens.size === 1 ? "" : "s"} required`;
      return { server: chat.socketServer, limits: [queued, auth].filter(Boolean).join(", ") };
    },
  },
  echo: {
    summary: "each line comes back as sent (a line server: lab check line grades it)",
    async create(o) {
      const ss = await import("@netlab/socketserver");
      return { server: new ss.TCPServer(common(o), ss.EchoHandler) };
    },
  },
  upper: {
    summary: "each line comes back upper-cased (lab check line grades it too)",
    async create(o) {
      const ss = await import("@netlab/socketserver");
      return { server: new ss.TCPServer(common(o), ss.UpperHandler) };
    },
  },
};

/** The mode used without --mode. */
export const DEFAULT_SERVER_MODE = "chat";

/** The socketserver options every mode shares. */
function common(o: ServerModeOptions) {
  const { host, port, path, ipv6Only, maxConnections, idleTimeoutMs, frameTimeoutMs, drainTimeoutMs, tls } =
    o;
  return {
    host,
    port,
    path,
    ipv6Only,
    maxConnections,
    idleTimeoutMs,
    frameTimeoutMs,
    drainTimeoutMs,
    tls,
    // Only reached when nobody listens to `error`; logConnections does, so this is a safety net.
    log: (line: string) => o.log.error(line),
  };
}

/**
 * `--cluster URL` (or LAB_CLUSTER): the Redis backend, loaded only then, so a single node never
 * loads ioredis. Undefined without one.
 */
async function clusterBackend(raw: Record<string, unknown>) {
  const url = (raw.cluster as string | undefined) ?? process.env.LAB_CLUSTER;
  if (url === undefined || url === "") {
    for (const flag of ["nodeId", "clusterLease", "clusterBuffer", "clusterMaxLen", "clusterMode"]) {
      if (raw[flag] !== undefined) {
        throw new UsageError(
          `--${flag.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} needs --cluster`,
          "for example --cluster redis://127.0.0.1:6379",
        );
      }
    }
    return undefined;
  }
  const { RedisBackend, RedisPubSubBackend, ClusterError } = await import("@netlab/chat-redis");
  const mode = (raw.clusterMode as string | undefined) ?? "streams";
  if (mode !== "streams" && mode !== "pubsub") {
    throw new UsageError(
      `--cluster-mode must be streams or pubsub, got ${JSON.stringify(mode.slice(0, 40))}`,
      "streams loses nothing; pubsub is there to show what losing messages looks like",
    );
  }
  const Backend = mode === "pubsub" ? RedisPubSubBackend : RedisBackend;
  const time = (flag: string, name: string) =>
    raw[name] === undefined
      ? undefined
      : parseDuration(flag, String(raw[name]), { minMs: 200, maxMs: 3_600_000 });
  const count = (flag: string, name: string) =>
    raw[name] === undefined
      ? undefined
      : parseNumber(flag, String(raw[name]), { min: 1, max: 100_000_000, integer: true });
  const leaseMs = time("--cluster-lease", "clusterLease");
  try {
    return new Backend({
      url,
      nodeId: raw.nodeId as string | undefined,
      leaseMs,
      heartbeatMs: leaseMs === undefined ? undefined : Math.max(50, Math.floor(leaseMs / 3)),
      maxBufferedEvents: count("--cluster-buffer", "clusterBuffer"),
      maxStreamEntries: count("--cluster-max-len", "clusterMaxLen"),
    } as ConstructorParameters<typeof RedisBackend>[0]);
  } catch (err) {
    // A bad URL or node id is a usage mistake (exit 2), like any other bad flag.
    if (err instanceof ClusterError) throw new UsageError(err.message, err.hint);
    throw err;
  }
}

/** `--max-queued SIZE` in bytes; undefined (the chat default, 64 MiB) when not given. */
async function maxQueued(text: unknown): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseSize } = await import("@netlab/transfer");
  const bytes = parseSize(String(text));
  if (bytes === undefined || bytes < 64 * 1024) {
    throw new UsageError(
      `--max-queued must be a size of at least 64K, such as 64M or 1G, got ${JSON.stringify(text)}`,
      "suffixes: K, M, G (powers of 1024), KB, MB, GB (powers of 1000)",
    );
  }
  return bytes;
}

/** The limits in force, for the log: `1000 clients, idle timeout 600 s, line timeout 30 s`. */
function limitsText(o: ServerModeOptions): string {
  const seconds = (ms: number) => (ms === 0 ? "off" : `${ms / 1000} s`);
  return `${plural(o.maxConnections, "client")}, idle timeout ${seconds(o.idleTimeoutMs)}, line timeout ${seconds(o.frameTimeoutMs)}`;
}

interface ServerOpts extends TokenOpts, ServerTlsFlags, LogOpts {
  mode: string;
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  maxClients?: string;
  idleTimeout?: string;
  lineTimeout?: string;
  [key: string]: unknown;
}

/** `lab server`: run one of the servers on the socketserver framework until Ctrl-C. */
export function registerServer(program: Command): void {
  const modes = Object.entries(SERVER_MODES)
    .map(([name, m]) => `  ${name.padEnd(8)} ${m.summary}`)
    .join("\n");
  const cmd = program
    .command("server")
    .description("run a chat (default) or a line server on localhost until Ctrl-C")
    .option(
      "--mode <mode>",
      `what the server does: ${Object.keys(SERVER_MODES).join(", ")}`,
      DEFAULT_SERVER_MODE,
    )
    .option(
      "--host <host>",
      "address to bind (0.0.0.0 or :: to accept other machines; unix:/path or @name for a Unix socket)",
      "127.0.0.1",
    )
    .option("-p, --port <port>", "port to listen on (0 = any free port)", "5001");
  addFamilyOptions(cmd, "listen")
    .option(
      "--max-clients <n>",
      "connections served at once; the next gets one 'server full' line (default: 1000)",
    )
    .option(
      "--idle-timeout <time>",
      `close a connection that sends nothing for this long; 0 = off (default: ${formatDuration(SERVER_LIMIT_DEFAULTS.idleTimeoutMs)})`,
    )
    .option(
      "--line-timeout <time>",
      `close a connection whose line is still incomplete after this long (slowloris); 0 = off (default: ${formatDuration(SERVER_LIMIT_DEFAULTS.frameTimeoutMs)})`,
    )
    .option("--history <n>", "chat: messages a joiner sees from the room's past (default: 50)")
    .option(
      "--flood <n>",
      "chat: messages per 5 s before a warning, twice that disconnects; 0 = off (default: 30)",
    )
    .option(
      "--max-queued <size>",
      "chat: output queued for all clients together; past it the largest queues are cut (default: 64M)",
    )
    .option(
      "--cluster <url>",
      "chat: join other nodes through Redis, redis://HOST:PORT (or LAB_CLUSTER); rooms span every node",
    )
    .option("--node-id <id>", "chat cluster: this node's id, unique in the cluster (default: HOSTNAME-PID)")
    .option(
      "--cluster-lease <time>",
      "chat cluster: a node silent this long is gone, its users leave every room (default: 15s)",
    )
    .option(
      "--cluster-buffer <n>",
      "chat cluster: room events held while Redis is unreachable; past it messages are refused (default: 10000)",
    )
    .option("--cluster-max-len <n>", "chat cluster: entries each room's stream keeps (default: 10000)")
    .option(
      "--cluster-mode <mode>",
      "chat cluster: streams (nothing lost, one order) or pubsub (to see messages lost on a reconnect, and counted) (default: streams)",
    );
  offerWords(cmd, "--mode", Object.keys(SERVER_MODES));
  offerWords(cmd, "--cluster-mode", ["streams", "pubsub"]);
  addServerTokenOptions(cmd, "chat: /auth TOKEN or hello.token; name: binds the nick, :ro is listen-only");
  addServerTlsOptions(cmd);
  addLogOptions(cmd, "a line per chat room join and leave");
  cmd
    .addHelpText(
      "after",
      `
Modes:
${modes}

Examples:
  lab server                               a chat on 127.0.0.1:5001; join with lab client or nc 127.0.0.1 5001
  lab server --mode upper --port 9000      then: echo hello | nc -N 127.0.0.1 9000  → HELLO
  lab server --mode echo --max-clients 2 --idle-timeout 30
  lab server --cluster redis://127.0.0.1:6379 --node-id a   one node of a chat cluster (docs/cluster.md)
  lab server --tls                         TLS; prints the certificate's SHA256 fingerprint on start
  lab server --host :: --port 5001         IPv6 and IPv4 (peers shown as 127.0.0.1:…)
  lab server --host unix:/tmp/chat.sock    a Unix socket (mode 0600); nc -U /tmp/chat.sock

${ADDRESS_HELP}

Tokens (chat): --token-file FILE makes every client send one first (/auth TOKEN from nc, or
lab client --token-file / LAB_TOKEN). Without TLS this also needs --allow-plaintext-auth.

Limits (every mode): --max-clients, --idle-timeout, --line-timeout; chat also cuts a client that
stops reading once 1 MiB is queued for it, and the largest queues once --max-queued is passed.
Logs go to stderr: 'listening on HOST:PORT (MODE)', 'limits: …', then one line per connect and
disconnect (peer, bytes, duration, why it closed). Each line is 'UTC-TIME LEVEL MESSAGE'; -q keeps
warnings, errors and the listening line; --log-format json for one JSON object per line, plain for
the message alone (docs/logging.md). Ctrl-C (or SIGTERM) shuts down within a second and exits 0.

TLS: --tls uses netlab's own certificate (EC P-256, made on first use in $XDG_CONFIG_HOME/netlab/
identity, for localhost, 127.0.0.1, ::1 and each --tls-san) and logs 'TLS identity SHA256:…' after
the ready line: clients compare it on first use. A handshake must finish within 10 s; a plaintext
client gets one line saying the port speaks TLS.`,
    )
    .action(action(async (opts: ServerOpts) => runServer(opts)));
}

async function runServer(opts: ServerOpts): Promise<void> {
  const mode = SERVER_MODES[opts.mode];
  if (!mode) {
    throw new UsageError(
      `unknown --mode ${JSON.stringify(opts.mode)}`,
      `choose one of: ${Object.keys(SERVER_MODES).join(", ")}`,
    );
  }
  refuseArgvToken(opts);
  if (opts.mode !== "chat" && opts.tokenFile !== undefined) {
    throw new UsageError(
      "--token-file works with --mode chat only",
      "echo and upper serve anyone who connects",
    );
  }
  if (opts.cluster !== undefined && opts.mode !== "chat") {
    throw new UsageError(
      `--cluster joins chat servers; --mode ${opts.mode} has no rooms to share`,
      "drop --mode, or --cluster",
    );
  }
  const log = createLogger(opts);
  const where = listenAddress(opts);
  refuseTlsOverUnix(where, opts);
  const defaults = SERVER_LIMIT_DEFAULTS;
  const maxConnections =
    opts.maxClients === undefined
      ? defaults.maxConnections
      : parseNumber("--max-clients", opts.maxClients, { min: 1, max: 1_000_000, integer: true });
  const ms = (flag: string, text: string | undefined, fallback: number) =>
    text === undefined ? fallback : parseDuration(flag, text, { minMs: 0, maxMs: 86_400_000 * 365 });
  const modeOptions: ServerModeOptions = {
    ...where,
    maxConnections,
    idleTimeoutMs: ms("--idle-timeout", opts.idleTimeout, defaults.idleTimeoutMs),
    frameTimeoutMs: ms("--line-timeout", opts.lineTimeout, defaults.frameTimeoutMs),
    drainTimeoutMs: defaults.drainTimeoutMs,
    tls: undefined,
    raw: opts,
    log,
  };
  const tlsSetup = await serverTls(
    opts,
    `${TLS_PLAINTEXT_REPLY}; try: lab client --tls --port ${where.port === 0 ? "PORT" : where.port}\n`,
  );
  modeOptions.tls = tlsSetup?.tls;
  const { server, limits } = await mode.create(modeOptions);
  // A chat's connections are its access log, shown by default as nginx's are.
  logConnections(server, log, "info");

  // Handlers go in before the ready line: a script that signals as soon as it reads the line
  // must get a graceful shutdown, not the default kill.
  const stopSignals = onInterrupt(
    () => {
      const open = server.connections.size;
      log.info(`shutting down (${open} connection${open === 1 ? "" : "s"} open)`);
      void server.shutdown();
    },
    { onAgain: (signal) => log.warn(`${signal} again: exiting without waiting`) },
  );
  try {
    await server.listen();
    log.ready(`listening on ${formatBound(server.address)} (${opts.mode})`, {
      event: "listening",
      address: formatBound(server.address),
      mode: opts.mode,
    });
    log.info(`limits: ${[limitsText(modeOptions), limits].filter(Boolean).join(", ")}`);
    const bound = { ...where, host: server.address.host };
    // echo and upper take no tokens: nothing to suggest, but as reachable as a chat.
    const exposed =
      opts.mode !== "chat"
        ? exposureWarning(
            bound,
            `have any line sent ${opts.mode === "upper" ? "back upper-cased" : "back"}`,
            "",
          )
        : opts.tokenFile === undefined
          ? exposureWarning(bound, "join the chat under any free nick")
          : undefined;
    if (exposed) log.warn(exposed, { event: "exposed" });
    for (const line of tlsSetup?.lines ?? []) log.ready(line);
    await server.serveForever();
  } finally {
    stopSignals();
  }
  log.info("stopped");
}
