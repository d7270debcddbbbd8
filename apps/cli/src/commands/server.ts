import type { BaseServer, ConnectionInfo, PeerAddress } from "@netlab/socketserver";
import type { Command } from "commander";
import { parseNumber, parsePort } from "../options.js";
import { action, UsageError } from "../run.js";

/** What every mode gets: the options common to all servers, already checked. */
export interface ServerModeOptions {
  host: string;
  port: number;
  /** `--max-clients`; undefined when not given (the framework default, 10 000, applies). */
  maxConnections: number | undefined;
  /** `--idle-timeout` in ms; undefined when not given. */
  idleTimeoutMs: number | undefined;
  /** Every option commander parsed, for modes that add their own. */
  raw: Record<string, unknown>;
}

/** One `--mode`: a line for --help and how to build its server (not yet listening). */
export interface ServerMode {
  summary: string;
  create(options: ServerModeOptions): Promise<BaseServer>;
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
      const chat = new ChatServer({
        host: o.host,
        port: o.port,
        maxClients: o.maxConnections,
        idleTimeoutMs: o.idleTimeoutMs,
        historySize: count("--history", "history"),
        floodMessages: flood === 0 ? Number.POSITIVE_INFINITY : flood,
      });
      chat.on("nick", (e: { from: string; to: string }) => log(`nick ${e.from} -> ${e.to}`));
      chat.on("disconnect", (p: { nick: string }, reason: string) => {
        if (reason !== "connection closed") log(`${p.nick} left: ${reason}`);
      });
      if (process.stdin.isTTY) {
        // The operator console: each line typed here goes to every client as `<server> text`.
        const { createInterface } = await import("node:readline");
        const rl = createInterface({ input: process.stdin, terminal: false });
        rl.on("line", (text) => {
          if (text.trim() === "") return;
          chat.broadcast(text);
          log(`<server> ${text} (to ${chat.stats().clients} clients)`);
        });
        chat.socketServer.signal.addEventListener("abort", () => rl.close(), { once: true });
      }
      return chat.socketServer;
    },
  },
  echo: {
    summary: "each line comes back as sent",
    async create(o) {
      const ss = await import("@netlab/socketserver");
      return new ss.TCPServer(common(o), ss.EchoHandler);
    },
  },
  upper: {
    summary: "each line comes back upper-cased",
    async create(o) {
      const ss = await import("@netlab/socketserver");
      return new ss.TCPServer(common(o), ss.UpperHandler);
    },
  },
};

/** The mode used without --mode. */
export const DEFAULT_SERVER_MODE = "chat";

/** The socketserver options every mode shares. */
function common(o: ServerModeOptions) {
  return {
    host: o.host,
    port: o.port,
    ...(o.maxConnections === undefined ? {} : { maxConnections: o.maxConnections }),
    ...(o.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: o.idleTimeoutMs }),
  };
}

interface ServerOpts {
  mode: string;
  host: string;
  port: string;
  maxClients?: string;
  idleTimeout?: string;
  [key: string]: unknown;
}

/** `lab server`: run one of the servers on the socketserver framework until Ctrl-C. */
export function registerServer(program: Command): void {
  const modes = Object.entries(SERVER_MODES)
    .map(([name, m]) => `  ${name.padEnd(8)} ${m.summary}`)
    .join("\n");
  program
    .command("server")
    .description("run a chat (default) or a line server on localhost until Ctrl-C")
    .option(
      "--mode <mode>",
      `what the server does: ${Object.keys(SERVER_MODES).join(", ")}`,
      DEFAULT_SERVER_MODE,
    )
    .option("--host <host>", "address to bind (use 0.0.0.0 to accept other machines)", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 = any free port)", "5001")
    .option(
      "--max-clients <n>",
      "connections served at once; the next gets one 'server full' line (default 10000; chat 1000)",
    )
    .option("--idle-timeout <seconds>", "close a connection that sends nothing for this long (chat: 600)")
    .option("--history <n>", "chat: messages a joiner sees from the room's past (default 50)")
    .option(
      "--flood <n>",
      "chat: messages per 5 s before a warning, twice that disconnects; 0 = off (default 30)",
    )
    .addHelpText(
      "after",
      `
Modes:
${modes}

Examples:
  lab server                               a chat on 127.0.0.1:5001; join with lab client or nc 127.0.0.1 5001
  lab server --mode upper --port 9000      then: echo hello | nc 127.0.0.1 9000  → HELLO
  lab server --mode echo --max-clients 2 --idle-timeout 30

Logs go to stderr: 'listening on HOST:PORT (MODE)', then one line per connect and disconnect.
Ctrl-C (or SIGTERM) shuts down gracefully and exits 0.`,
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
  const port = parsePort(opts.port, { allowZero: true });
  const maxConnections =
    opts.maxClients === undefined
      ? undefined
      : parseNumber("--max-clients", opts.maxClients, { min: 1, max: 1_000_000, integer: true });
  const idleSeconds =
    opts.idleTimeout === undefined
      ? undefined
      : parseNumber("--idle-timeout", opts.idleTimeout, { min: 0.001, max: 86_400 * 365, integer: false });
  const server = await mode.create({
    host: opts.host,
    port,
    maxConnections,
    idleTimeoutMs: idleSeconds === undefined ? undefined : Math.round(idleSeconds * 1000),
    raw: opts,
  });
  logConnections(server);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      log(`${signal} again: exiting without waiting`);
      process.exit(130);
    }
    const open = server.connections.size;
    log(`shutting down (${open} connection${open === 1 ? "" : "s"} open)`);
    void server.shutdown();
  };
  // Handlers go in before the ready line: a script that signals as soon as it reads the line
  // must get a graceful shutdown, not the default kill.
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await server.listen();
    const { host, port: bound } = server.address;
    log(`listening on ${formatHostPort(host, bound)} (${opts.mode})`);
    await server.serveForever();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  log("stopped");
}

/** One stderr line per connect and disconnect, and per handler error. */
function logConnections(server: BaseServer): void {
  server.on("open", (info: ConnectionInfo) => log(`connect ${formatPeer(info.peer)} (#${info.id})`));
  server.on("close", (info: ConnectionInfo) =>
    log(`disconnect ${formatPeer(info.peer)} (#${info.id}, ${info.bytesIn} B in, ${info.bytesOut} B out)`),
  );
  server.on("refuse", (peer: PeerAddress) => log(`refuse ${formatPeer(peer)}: server full`));
  server.on("error", (err: unknown, peer?: PeerAddress) => {
    const message = err instanceof Error ? err.message : String(err);
    log(peer ? `error from ${formatPeer(peer)}: ${message}` : `error: ${message}`);
  });
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function formatPeer(peer: PeerAddress): string {
  return peer.family === "unix" ? peer.address || "unix socket" : formatHostPort(peer.address, peer.port);
}
