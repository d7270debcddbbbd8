import { once } from "node:events";
import { escapeControls, safeLine, UNSAFE_TEXT } from "@netlab/core/terminal";
import type { Command } from "commander";
import {
  ADDRESS_HELP,
  addFamilyOptions,
  addressArgument,
  type ConnectAddress,
  checkFamily,
  connectAddress,
  formatWhere,
  portArgument,
  refuseTlsOverUnix,
} from "../address.js";
import { collect, parseDuration } from "../options.js";
import { defaultReclaimFile, ReclaimStore } from "../reclaim-store.js";
import { action, reportError, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt as onSignals } from "../signals.js";
import { addClientTlsOptions, type ClientTlsFlags, clientTls } from "../tls-options.js";
import { addClientTokenOptions, canPrompt, clientToken, promptToken, type TokenOpts } from "../token.js";
import { stopWatching } from "../watch.js";

interface ClientOpts extends TokenOpts, ClientTlsFlags {
  host: string;
  port: string;
  /** One positional address (HOST:PORT, [::1]:PORT, unix:/path), instead of nc's HOST PORT. */
  address?: string;
  ipv4?: boolean;
  ipv6?: boolean;
  nick?: string;
  /** `--node HOST:PORT`, repeated: the nodes of a cluster to fail over between. */
  node?: string[];
  /** Whether `--host`/`--port` were given (not their defaults): with --node alone, the first node comes first. */
  isAddressGiven?: boolean;
  /** nc's `HOST PORT` words as typed, for a message about the host. */
  hostAsTyped?: string;
  reconnect: boolean;
  /** `--no-keep-nick` sets it false: no reclaim token is read from or written to disk. */
  keepNick: boolean;
  json?: boolean;
  wait: string;
  connectTimeout: string;
  stallTimeout: string;
  lineTimeout: string;
  reconnectTimeout: string;
}

/** After Ctrl-C or SIGTERM, how long the client may spend saying goodbye before it exits anyway, in ms. */
const INTERRUPT_GRACE_MS = 400;

/** `lab client`: an interactive chat client on a TTY, a scriptable line client when piped. */
export function registerClient(program: Command): void {
  const cmd = program
    .command("client")
    .description("join a chat server (or talk to any line-based TCP server)")
    .argument("[host]", "server address, as in nc HOST PORT (default: --host)")
    .argument("[port]", "server port (default: --port)")
    .option("--host <host>", "server address: a name, an IP, [::1], unix:/path or @name", "127.0.0.1")
    .option("-p, --port <port>", "server port", "5001");
  addFamilyOptions(cmd, "connect")
    .option("--nick <name>", "the nick to ask for (1-32 letters, digits, _ or -)")
    .option(
      "--node <host:port>",
      "a node of the same chat cluster to fail over to (repeatable); on a drop the next one in turn is tried",
      collect,
    )
    .option(
      "--no-reconnect",
      "do not reconnect when the server goes away (a terminal reconnects; so does a pipe given --node)",
    )
    .option(
      "--no-keep-nick",
      "do not keep the server's reclaim token for the nick on disk (by default a restarted client takes its nick back at once)",
    )
    .option("--json", "print each chat event as one JSON line (for programs; on a terminal too)")
    .option(
      "--wait <time>",
      "piped, against a plain line server: after end of input, wait this long without data before exiting",
      "500ms",
    )
    .option("--connect-timeout <time>", "give up connecting after this long", "10s")
    .option(
      "--stall-timeout <time>",
      "give up when the server owes an answer (to a line you sent, or its welcome) and sends nothing for this long, or reads nothing of what you send (with --node: go to the next node, and ping a quiet one this often); 0 waits forever",
      "10s",
    )
    .option(
      "--line-timeout <time>",
      "give up when a netlab chat server has sent part of a line and no end to it for this long (a trickle, an endless line); 0 waits forever",
      "30s",
    )
    .option(
      "--reconnect-timeout <time>",
      "on a terminal, stop reconnecting after this long without a connection; 0 retries forever",
      "1m",
    );
  addClientTokenOptions(cmd);
  addClientTlsOptions(cmd);
  cmd
    .addHelpText(
      "after",
      `
Examples:
  lab client --nick alice                  chat on the server at 127.0.0.1:5001
  lab client 127.0.0.1 5001                the same, as nc HOST PORT (or -p 5001)
  printf 'hi\\n/who\\n' | lab client          send two lines, print the replies, exit
  echo hello | lab client --port 9000      talk to any line server (nothing is added to what you type)
  lab client --tls --nick alice            over TLS, trusting the server's certificate on first use
  lab client --host '[::1]'                over IPv6; --host unix:/tmp/chat.sock for a Unix socket
  lab client --node 10.0.0.11:5001 --node 10.0.0.12:5001
                                           a cluster (lab server --cluster): on a drop, the next node

${ADDRESS_HELP}

A server started with --token-file asks for a token: from --token-file FILE, else $LAB_TOKEN,
else (on a terminal) a prompt that does not echo. Never on the command line.

On a terminal: type to talk, /help for the server's commands; q, /quit or Ctrl-D leave. When the
connection drops the client reconnects (with --node, to the next node in turn) and rejoins the room
it was in, under its nick if that is free; in a cluster it asks for the messages it missed, each
once: "* connection to A lost; now on B, resumed after id X". Messages replayed from a room's
history show the time they were said: "[12:03] (history) <alice> hi".
Piped: each input line is sent and every line received is printed to stdout; the client exits 0
at q, /quit or end of input once the replies have arrived (a netlab server confirms; for other
servers, after --wait without data or when the server closes); a drop ends it, unless --node
named nodes to fail over to (the "* connection to A lost" line goes to stderr). Times take 500ms,
2s or 1m; a bare number is seconds.

The server's reclaim token for your nick is kept in reclaim.json in ~/.config/netlab (or
$XDG_CONFIG_HOME/netlab; mode 0600), so a client killed without a goodbye and started again takes
its nick back at once; leaving (q, /quit, Ctrl-D, Ctrl-C) forgets it. --no-keep-nick keeps none.

Text from the server is shown, never obeyed: on a terminal, control and bidi characters appear as
^[ or <U+202E>. Piped to a file or a program the text is exact; --json escapes them as \\u001b.
Ctrl-C or SIGTERM leaves within a second, exit 130.
TLS: exit 35 when the handshake fails, 60 when the certificate is not trusted (changed since first
use, not the pinned one, not signed by --tls-ca); nothing is sent to a server that is not trusted.`,
    )
    .action(
      action(async (host: string | undefined, port: string | undefined, opts: ClientOpts) => {
        const isAddressGiven =
          host !== undefined ||
          cmd.getOptionValueSource("host") !== "default" ||
          cmd.getOptionValueSource("port") !== "default";
        // nc's HOST PORT, or one address in the grammar every command reads (HOST:PORT, [::1]:PORT, unix:/path).
        if (port !== undefined) checkHostPortWords(host ?? opts.host, port);
        if (port !== undefined && host !== undefined && cmd.getOptionValueSource("host") === "cli") {
          throw new UsageError(
            `${host} and --host ${opts.host} are two hosts`,
            `write lab client ${host} ${port} or lab client --host ${opts.host} --port ${port}`,
          );
        }
        if (port !== undefined && cmd.getOptionValueSource("port") === "cli") {
          throw new UsageError(
            `${port} and --port ${opts.port} are two ports`,
            `write lab client ${host} ${port} or lab client ${host} --port ${opts.port}`,
          );
        }
        return runClient(
          port === undefined
            ? { ...opts, address: host, isAddressGiven }
            : {
                ...opts,
                host: host ?? opts.host,
                port,
                isAddressGiven,
                hostAsTyped: host === undefined ? undefined : `${host} ${port}`,
              },
        );
      }),
    );
}

/** nc's `HOST PORT` words: the port said as a word (not as --port), and no second port or path. */
function checkHostPortWords(host: string, port: string): void {
  if (host.startsWith("unix:") || host.startsWith("@")) {
    throw new UsageError(
      `${JSON.stringify(host)} is a Unix socket, which has no port (${port})`,
      `write lab client ${host}`,
    );
  }
  if (/^(\[[^\]]*\]|[^:]*):\d+$/.test(host)) {
    throw new UsageError(
      `${JSON.stringify(host)} already has a port, and ${port} is another`,
      `write lab client ${host} or lab client HOST ${port}`,
    );
  }
  portArgument(port);
}

async function runClient(opts: ClientOpts): Promise<void> {
  const [where, ...failover] = clientAddresses(opts);
  refuseTlsOverUnix(where, opts);
  const waitMs = parseDuration("--wait", opts.wait, { minMs: 0, maxMs: 3_600_000 });
  const connectTimeoutMs = parseDuration("--connect-timeout", opts.connectTimeout, {
    minMs: 100,
    maxMs: 3_600_000,
  });
  const stallTimeoutMs = secondsOrForever("--stall-timeout", opts.stallTimeout);
  const reconnectTimeoutMs = secondsOrForever("--reconnect-timeout", opts.reconnectTimeout);
  const frameTimeoutMs = secondsOrForever("--line-timeout", opts.lineTimeout);
  const chat = await import("@netlab/chat");
  if (opts.nick !== undefined) {
    try {
      chat.checkNick(opts.nick);
    } catch (err) {
      // The package's hint speaks to a chat user (/nick alice_2); here the option is what to fix.
      const e = err as Error & { hint?: string };
      throw new UsageError(e.message, e.hint?.replaceAll("/nick ", "--nick "));
    }
  }
  const isTty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  // --json is for reading the events themselves: on a terminal too it prints them as JSON lines and
  // sends each line typed, as it does piped, rather than drawing the chat.
  const isInteractive = isTty && !opts.json;
  const token = await clientToken(opts);
  // Asked only when a server wants a token and none was given; the terminal is free until then.
  let asking: Promise<string | undefined> | undefined;
  const requestToken =
    token === undefined && canPrompt()
      ? () => {
          asking = promptToken(`token for ${formatWhere(where)}: `);
          return asking;
        }
      : undefined;
  const keeper = opts.keepNick ? await keepNick(chat, where, opts.nick) : undefined;
  const client = new chat.ChatClient({
    token,
    requestToken,
    ...where,
    failover,
    nick: opts.nick,
    reclaimToken: keeper?.offered,
    onReclaim: keeper?.granted,
    // Piped, a drop ends the run, unless the nodes to fail over to were named.
    reconnect: (isTty || failover.length > 0) && opts.reconnect,
    connectTimeoutMs,
    stallTimeoutMs,
    frameTimeoutMs,
    reconnectTimeoutMs,
    tls: await clientTls(opts, (line) => process.stderr.write(`${safeLine(line)}\n`)),
  });
  if (keeper) client.on("event", keeper.watch);
  const left = async () => keeper?.left();
  if (isInteractive) {
    await runInteractive(client, chat, () => asking, left);
  } else {
    const settleMs = 5_000 + waitMs + (Number.isFinite(stallTimeoutMs) ? stallTimeoutMs : 0);
    await runPiped(client, chat, { json: opts.json ?? false, waitMs, settleMs }, () => asking, left);
  }
}

/**
 * Keeps the server's reclaim token for our nick in reclaim.json, so that a client killed without
 * a goodbye (a closed terminal, a crash) and started again takes its nick back at once instead of
 * finding it NICK_TAKEN until the server notices the old connection is dead. A clean leave (q,
 * /quit, end of input, Ctrl-C: the server is told) gives the nick up, and forgets the token.
 */
async function keepNick(chat: Chat, where: ConnectAddress, nick: string | undefined) {
  const store = new ReclaimStore(defaultReclaimFile(), formatWhere(where), (text) =>
    process.stderr.write(`${safeLine(`lab: note: ${text}`)}\n`),
  );
  const offered = nick === undefined ? undefined : await store.token(chat.nickKey(nick));
  let held: string | undefined;
  return {
    offered,
    granted: (grant: { nick: string; token: string }) => {
      const key = chat.nickKey(grant.nick);
      if (held !== undefined && held !== key) store.drop(held);
      held = key;
      store.put(key, grant.token);
    },
    /** A welcome under another nick: the token offered was wrong or spent (the nick is someone else's). */
    watch: (e: import("@netlab/chat").ChatEvent) => {
      if (e.type !== "welcome" || offered === undefined || nick === undefined) return;
      const key = chat.nickKey(nick);
      if (chat.nickKey(e.nick) !== key && held !== key) store.drop(key);
    },
    left: async () => {
      if (held !== undefined) store.drop(held);
      await store.flushed();
    },
  };
}

/**
 * The addresses to connect to, in turn: the argument (or --host/--port), then each --node; with
 * --node alone, the nodes. Cluster nodes are TCP addresses: a Unix socket cannot fail over.
 */
function clientAddresses(opts: ClientOpts): [ConnectAddress, ...ConnectAddress[]] {
  const first = connectAddress(opts, opts.address);
  const family = first.family;
  const nodes = (opts.node ?? []).map((text) => {
    const node = addressArgument(text);
    if (node.path === undefined) checkFamily(node.host, opts, `--node ${text}`);
    return { ...node, family };
  });
  if (nodes.some((n) => n.path !== undefined) || (nodes.length > 0 && first.path !== undefined)) {
    throw new UsageError(
      "--node names a chat server over TCP, not a Unix socket",
      "give each node as HOST:PORT, such as --node 10.0.0.12:5001",
    );
  }
  const [head, ...rest] = nodes;
  if (head !== undefined && !opts.isAddressGiven) return [head, ...rest];
  return [first, ...nodes];
}

/** A time in ms, with 0 meaning no limit (`Infinity`). */
function secondsOrForever(flag: string, text: string): number {
  const ms = parseDuration(flag, text, { minMs: 0, maxMs: 86_400_000, hint: "0 means no limit" });
  return ms === 0 ? Number.POSITIVE_INFINITY : ms;
}

/**
 * Ctrl-C or SIGTERM, at any moment (connecting included): `leave` gets INTERRUPT_GRACE_MS to say
 * goodbye (the room sees a quit), then the process exits 130 whatever the server does.
 */
function onInterrupt(leave: () => Promise<unknown>): () => void {
  let isInterrupted = false;
  const interrupt = () => {
    if (isInterrupted) return;
    isInterrupted = true;
    const grace = new Promise((resolve) => setTimeout(resolve, INTERRUPT_GRACE_MS).unref());
    void Promise.race([leave().catch(() => {}), grace])
      .then(() => stopWatching())
      .finally(() => process.exit(EXIT_INTERRUPTED));
  };
  onSignals(interrupt);
  return interrupt;
}

const UNSAFE_TEXT_GLOBAL = new RegExp(UNSAFE_TEXT.source, "g");

/**
 * One JSON line whose strings carry the exact text, with every character a terminal could act on
 * written as a `\uXXXX` escape (JSON.stringify leaves DEL, C1, bidi controls and U+2028 raw): the same
 * value for a program, inert on a terminal.
 */
function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(
    UNSAFE_TEXT_GLOBAL,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

type Chat = typeof import("@netlab/chat");

/** Why a server may close on us that is a failure even after the input ended. */
const FAILURES: ReadonlySet<string> = new Set([
  "SERVER_FULL",
  "STALLED",
  "AUTH_FAILED",
  "AUTH_REQUIRED",
  "NICK_TAKEN",
  "NICK_RECLAIMED",
  "WRONG_PROTOCOL",
]);

/** Piped stdin: send each line, print each line received, leave at q, /quit or EOF once replies arrived. */
async function runPiped(
  client: import("@netlab/chat").ChatClient,
  chat: Chat,
  opts: { json: boolean; waitMs: number; settleMs: number },
  tokenPrompt: () => Promise<string | undefined> | undefined,
  left: () => Promise<void>,
): Promise<void> {
  // Piped to a file or a program: the exact text. Piped input but a terminal for output: escaped.
  const isTerminal = process.stdout.isTTY === true;
  let isStdoutFull = false;
  let pending: string[] = [];
  const flush = () => {
    const text = pending.join("");
    pending = [];
    // Read from the server only as fast as stdout is read: a flood into a slow pipe stays bounded.
    if (process.stdout.write(text) || isStdoutFull) return;
    isStdoutFull = true;
    client.pause();
    process.stdout.once("drain", () => {
      isStdoutFull = false;
      client.resume();
    });
  };
  const out = (text: string) => {
    // One write a turn, not one a line: on Linux a write to a pipe is a system call each, and
    // the lines of one read from the server come in one turn.
    if (pending.length === 0) process.nextTick(flush);
    pending.push(`${text}\n`);
  };
  let isLeaving = false;
  client.on("event", (e: import("@netlab/chat").ChatEvent) => {
    // The goodbye to our own quit and the settle() pong are not replies the user asked for.
    if (isLeaving || (e.type === "pong" && typeof e.id === "string" && e.id.startsWith("settle-"))) return;
    out(
      opts.json ? jsonLine(e) : chat.formatEvent(e, client.nick, { escape: isTerminal, markHistory: true }),
    );
  });
  // Status, not chat: stderr, so what a program reads on stdout stays the chat's.
  client.on("reconnected", (r: import("@netlab/chat").Reconnected) =>
    process.stderr.write(`${reconnectedLine(r)}\n`),
  );
  client.on("line", (line: string) =>
    out(opts.json ? jsonLine({ type: "line", text: line }) : isTerminal ? safeLine(line) : line),
  );
  let isInputDone = false;
  let dropped: Error | undefined;
  const lost = new Promise<void>((resolve) => {
    client.on("state", (state: string, err?: Error & { code?: string }) => {
      if (state !== "closed") return;
      // After the input ended a server may close (that is how line servers answer), but one
      // that refused us or stopped answering is a failure whenever it happens.
      const isFailure = FAILURES.has(err?.code ?? "");
      if (err && (!isInputDone || isFailure)) dropped = err;
      resolve();
    });
  });
  onInterrupt(() => {
    isLeaving = true;
    // Typed at a terminal (--json there): it echoed ^C after what was typed. The shell ends that
    // line for a process that died of SIGINT, not for one that exits 130 itself.
    if (process.stdin.isTTY && process.stderr.isTTY) process.stderr.write("\n");
    return client.close().then(left);
  });
  await client.connect();
  if (process.stdin.isTTY) {
    // Lines typed at a terminal (stdout a pipe: `lab client | tee log`): a server that wants a
    // token asks for it there first. A line reader beside the prompt would read the token too and
    // send it to the room as a message.
    if (client.mode === "unknown") await Promise.race([once(client, "mode"), once(client, "state")]);
    await tokenPrompt();
    if (isLeaving) return; // Ctrl-C at the prompt: onInterrupt exits 130
  }

  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  const inputDone = (async () => {
    for await (const line of rl) {
      if (client.state === "closed") break;
      if (line === "q" || line.trim().toLowerCase() === "/quit") break;
      client.send(line);
      // Read on only as the server takes what we send: `yes | lab client` holds a bounded amount.
      await client.drained();
    }
    isInputDone = true;
    rl.close();
  })();
  await Promise.race([inputDone, lost]);
  if (client.state !== "closed") await client.settle({ quietMs: opts.waitMs, timeoutMs: opts.settleMs });
  isLeaving = true;
  await client.close();
  // A drop is no goodbye: the server may still hold the session, which the kept token can take back.
  if (dropped) process.exitCode = reportError(dropped);
  else await left();
  // stdin may still be open (a terminal-less parent that never closes it): do not wait for it.
  process.stdin.destroy();
}

/**
 * The one line a reconnect prints: `* connection to A lost; now on B, resumed after id X` when it
 * failed over to another node, `* reconnected to A, back in #room` when it came back to the same.
 */
function reconnectedLine(r: import("@netlab/chat").Reconnected): string {
  const back =
    r.since !== undefined
      ? `, resumed after id ${r.since} in ${r.room}`
      : r.room !== undefined
        ? `, back in ${r.room}`
        : "";
  const line =
    r.from === r.to
      ? `* reconnected to ${r.to}${back}`
      : `* connection to ${r.from} lost; now on ${r.to}${back}`;
  // The room name came from the server.
  return safeLine(line);
}

const COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

/**
 * A terminal client: incoming lines are printed above the prompt; what is being typed stays put.
 * Everything from the server is escaped before it is painted: colours are ours, never the peer's.
 */
async function runInteractive(
  client: import("@netlab/chat").ChatClient,
  chat: Chat,
  tokenPrompt: () => Promise<string | undefined> | undefined,
  left: () => Promise<void>,
): Promise<void> {
  const readline = await import("node:readline");
  const { stdin, stdout } = process;
  const hasColor = !process.env.NO_COLOR && stdout.hasColors?.() === true;
  const paint = (code: number, text: string) => (hasColor ? `\x1b[${code}m${text}\x1b[0m` : text);
  const nickColor = (nick: string) => {
    let h = 0;
    for (const ch of nick) h = (h * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
    return COLORS[h % COLORS.length]!;
  };
  const colorNicks = (text: string) =>
    text.replace(/^(<|\* |\*|-> \*)([\p{L}\p{N}_-]+)/u, (_m, lead: string, nick: string) =>
      nick === "server" && lead === "<"
        ? `${lead}${paint(1, nick)}`
        : `${lead}${paint(nickColor(nick), nick)}`,
    );
  const stamp = (at = Date.now()) => paint(90, chat.clockTime(at, Date.now()));

  let rl: import("node:readline").Interface | undefined;
  let isLeaving = false;
  let isInterrupted = false;
  onInterrupt(() => {
    isInterrupted = true;
    isLeaving = true;
    rl?.close(); // the terminal leaves raw mode before the process exits
    // Raw mode echoes no ^C: end the prompt's line ourselves, as Ctrl-D does, or the shell's
    // prompt would be drawn after ours on the same line.
    if (rl) stdout.write("\n");
    return client.close().then(left);
  });
  // Connect first: a refused connection is one error line from action(), before any prompt.
  await client.connect();
  // A server that wants a token is asked for it (no echo) before the chat prompt takes the
  // terminal. What arrives meanwhile is kept, and replayed once the prompt and its listeners exist.
  const early: [string, unknown[]][] = [];
  const keepers = (["event", "line", "state"] as const).map((name) => {
    const keep = (...args: unknown[]) => early.push([name, args]);
    client.on(name, keep);
    return () => client.off(name, keep);
  });
  if (client.mode === "unknown") await Promise.race([once(client, "mode"), once(client, "state")]);
  await tokenPrompt();
  for (const stop of keepers) stop();
  if (isInterrupted) return; // Ctrl-C at the token prompt: onInterrupt exits 130, no chat prompt
  const prompt = readline.createInterface({ input: stdin, output: stdout, terminal: true, historySize: 200 });
  rl = prompt;
  const promptText = () => `${safeLine(client.room ?? client.address, 40)}> `;
  /**
   * Prints `text` above the prompt, each line escaped, then decorated (coloured) by `decorate`,
   * stamped with the time it was said (`at`, a history line's) or now.
   */
  const print = (text: string, decorate: (line: string) => string = (line) => line, at?: number) => {
    const lines = text.split("\n").map((line) => decorate(escapeControls(line)));
    if (isLeaving) {
      for (const line of lines) stdout.write(`${line}\n`);
      return;
    }
    // Clear the prompt and whatever is typed (it may wrap), print above, then redraw it as it was.
    const { rows } = prompt.getCursorPos();
    readline.moveCursor(stdout, 0, -rows);
    readline.cursorTo(stdout, 0);
    readline.clearScreenDown(stdout);
    for (const line of lines) stdout.write(`${stamp(at)} ${line}\n`);
    // readline redraws by first moving up the rows its cursor was below the prompt's start
    // (prevRows): that move was made above, so a typed line that wraps would otherwise draw over
    // the last rows just printed. The cursor is at the start of the prompt's row now.
    (prompt as unknown as { prevRows: number }).prevRows = 0;
    prompt.setPrompt(promptText());
    prompt.prompt(true);
  };
  const red = (line: string) => paint(31, line);

  let wasDropped = false;
  let failure: Error | undefined;
  const finished = new Promise<void>((resolve) => {
    client.on("event", (e: import("@netlab/chat").ChatEvent) => {
      if (e.type === "pong" || isLeaving) return;
      const text = chat.formatEvent(e, client.nick, { escape: true });
      if (e.type === "message" && e.history) print(`(history) ${text}`, (line) => paint(2, line), e.ts);
      else if (e.type === "error") print(text, red);
      else if (e.type === "notice" && e.kind !== "operator") print(text, (line) => paint(33, line));
      else if (e.type === "welcome" || e.type === "who" || e.type === "rooms") print(text);
      else print(text, colorNicks);
    });
    client.on("line", (line: string) => print(safeLine(line)));
    client.on("reconnected", (r: import("@netlab/chat").Reconnected) =>
      print(reconnectedLine(r), (line) => paint(32, line)),
    );
    client.on("state", (state: string, err?: Error) => {
      if (state === "reconnecting" && err && !wasDropped) {
        wasDropped = true;
        print(`* ${safeLine(err.message)}; reconnecting (Ctrl-D to leave)`, (line) => paint(33, line));
      } else if (state === "connected") {
        wasDropped = false;
      } else if (state === "closed") {
        failure = err;
        resolve();
      }
    });
  });

  for (const [name, args] of early) client.emit(name, ...args);
  prompt.setPrompt(promptText());
  prompt.prompt();
  prompt.on("line", (line) => {
    const cmd = line.trim().toLowerCase();
    if (cmd === "q" || cmd === "/quit") {
      prompt.close();
      return;
    }
    if (client.mode === "json" && line.trim() !== "") {
      // The server echoes what we said (with its time and id): drop the typed copy so it shows once.
      // Enter left the cursor one row below the last the line drew on, and a line that fills its
      // last row exactly has the cursor wrapped to a row of its own (readline's getCursorPos rule).
      const columns = stdout.columns || 80;
      const rows = Math.floor([...`${promptText()}${line}`].length / columns) + 1;
      readline.moveCursor(stdout, 0, -rows);
      readline.clearScreenDown(stdout);
    }
    client.send(line);
    prompt.prompt();
  });
  // Ctrl-C in raw mode arrives here rather than as a signal: the same as SIGINT.
  prompt.on("SIGINT", () => process.emit("SIGINT"));
  prompt.on("close", () => {
    if (isLeaving) return;
    isLeaving = true;
    stdout.write("\n");
    void client.close();
  });
  await finished;
  if (isInterrupted) return; // onInterrupt exits 130
  prompt.close();
  if (!failure) await left();
  // A dropped connection with no way back (stalled, gave up reconnecting, --no-reconnect): say why.
  if (failure) process.exitCode = reportError(failure);
}
