import type { Command } from "commander";
import { parseNumber, parsePort } from "../options.js";
import { action, UsageError } from "../run.js";

interface ClientOpts {
  host: string;
  port: string;
  nick?: string;
  reconnect: boolean;
  json?: boolean;
  wait: string;
}

/** `lab client`: an interactive chat client on a TTY, a scriptable line client when piped. */
export function registerClient(program: Command): void {
  program
    .command("client")
    .description("join a chat server (or talk to any line-based TCP server)")
    .option("--host <host>", "server address", "127.0.0.1")
    .option("--port <port>", "server port", "5001")
    .option("--nick <name>", "the nick to ask for (1-32 letters, digits, _ or -)")
    .option("--no-reconnect", "on a TTY, do not reconnect when the server goes away")
    .option("--json", "print each chat event as one JSON line (piped use)")
    .option(
      "--wait <ms>",
      "piped, against a plain line server: after end of input, wait this long without data before exiting",
      "500",
    )
    .addHelpText(
      "after",
      `
Examples:
  lab client --nick alice                  chat on the server at 127.0.0.1:5001
  printf 'hi\\n/who\\n' | lab client          send two lines, print the replies, exit
  echo hello | lab client --port 9000      talk to any line server (nothing is added to what you type)

On a terminal: type to talk, /help for the server's commands; q, /quit or Ctrl-D leave.
Piped: each input line is sent and every line received is printed to stdout; the client exits 0
at q, /quit or end of input once the replies have arrived (a netlab server confirms; for other
servers, after --wait ms without data or when the server closes).`,
    )
    .action(action(async (opts: ClientOpts) => runClient(opts)));
}

async function runClient(opts: ClientOpts): Promise<void> {
  const port = parsePort(opts.port);
  const waitMs = parseNumber("--wait", opts.wait, { min: 0 });
  const chat = await import("@netlab/chat");
  if (opts.nick !== undefined) {
    try {
      chat.checkNick(opts.nick);
    } catch (err) {
      const e = err as Error & { hint?: string };
      throw new UsageError(e.message, e.hint);
    }
  }
  const isTty = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  const client = new chat.ChatClient({
    host: opts.host,
    port,
    nick: opts.nick,
    reconnect: isTty && opts.reconnect,
  });
  if (isTty) {
    await runInteractive(client, chat);
  } else {
    await runPiped(client, chat, { json: opts.json ?? false, waitMs });
  }
}

type Chat = typeof import("@netlab/chat");

/** Piped stdin: send each line, print each line received, leave at q, /quit or EOF once replies arrived. */
async function runPiped(
  client: import("@netlab/chat").ChatClient,
  chat: Chat,
  opts: { json: boolean; waitMs: number },
): Promise<void> {
  const out = (text: string) => process.stdout.write(`${text}\n`);
  let isLeaving = false;
  client.on("event", (e: import("@netlab/chat").ChatEvent) => {
    // The goodbye to our own quit and the settle() pong are not replies the user asked for.
    if (isLeaving || (e.type === "pong" && typeof e.id === "string" && e.id.startsWith("settle-"))) return;
    out(opts.json ? JSON.stringify(e) : chat.formatEvent(e, client.nick));
  });
  client.on("line", (line: string) => out(opts.json ? JSON.stringify({ type: "line", text: line }) : line));
  let isInputDone = false;
  let dropped: Error | undefined;
  const lost = new Promise<void>((resolve) => {
    client.on("state", (state: string, err?: Error & { code?: string }) => {
      if (state !== "closed") return;
      if (err && (!isInputDone || err.code === "SERVER_FULL")) dropped = err;
      resolve();
    });
  });
  await client.connect();
  // Ctrl-C or SIGTERM: leave properly (the room sees a quit), then exit 130 / 143.
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => {
      isLeaving = true;
      void client.close().finally(() => process.exit(code));
    });
  }

  const { createInterface } = await import("node:readline");
  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  const inputDone = (async () => {
    for await (const line of rl) {
      if (client.state === "closed") break;
      if (line === "q" || line.trim().toLowerCase() === "/quit") break;
      client.send(line);
    }
    isInputDone = true;
    rl.close();
  })();
  await Promise.race([inputDone, lost]);
  if (client.state !== "closed")
    await client.settle({ quietMs: opts.waitMs, timeoutMs: 5_000 + opts.waitMs });
  isLeaving = true;
  await client.close();
  if (dropped) {
    const hint = (dropped as { hint?: string }).hint;
    process.stderr.write(`lab: ${dropped.message}\n${hint ? `hint: ${hint}\n` : ""}`);
    process.exitCode = 1;
  }
  // stdin may still be open (a terminal-less parent that never closes it): do not wait for it.
  process.stdin.destroy();
}

const COLORS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

/** A terminal client: incoming lines are printed above the prompt; what is being typed stays put. */
async function runInteractive(client: import("@netlab/chat").ChatClient, chat: Chat): Promise<void> {
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
  const stamp = () => {
    const d = new Date();
    return paint(90, `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`);
  };

  // Connect first: a refused connection is one error line from action(), before any prompt.
  await client.connect();
  const rl = readline.createInterface({ input: stdin, output: stdout, terminal: true, historySize: 200 });
  const promptText = () => `${client.room ?? client.host + ":" + client.port}> `;
  let isLeaving = false;
  const print = (text: string) => {
    if (isLeaving) {
      stdout.write(`${text}\n`);
      return;
    }
    // Clear the prompt and whatever is typed (it may wrap), print above, then redraw it as it was.
    const { rows } = rl.getCursorPos();
    readline.moveCursor(stdout, 0, -rows);
    readline.cursorTo(stdout, 0);
    readline.clearScreenDown(stdout);
    for (const line of text.split("\n")) stdout.write(`${stamp()} ${line}\n`);
    rl.setPrompt(promptText());
    rl.prompt(true);
  };

  let wasDropped = false;
  let exitCode = 0;
  const finished = new Promise<void>((resolve) => {
    client.on("event", (e: import("@netlab/chat").ChatEvent) => {
      if (e.type === "pong" || isLeaving) return;
      const text = chat.formatEvent(e, client.nick);
      if (e.type === "error") print(paint(31, text));
      else if (e.type === "notice" && e.kind !== "operator") print(paint(33, text));
      else if (e.type === "welcome" || e.type === "who" || e.type === "rooms") print(text);
      else print(colorNicks(text));
    });
    client.on("line", (line: string) => print(line));
    client.on("state", (state: string, err?: Error) => {
      if (state === "reconnecting" && err && !wasDropped) {
        wasDropped = true;
        print(paint(33, `* ${err.message}; reconnecting (Ctrl-D to leave)`));
      } else if (state === "connected" && wasDropped) {
        wasDropped = false;
        print(paint(32, `* reconnected to ${client.host}:${client.port}`));
      } else if (state === "closed") {
        if (err) {
          print(paint(31, `* ${err.message}`));
          exitCode = 1;
        }
        resolve();
      }
    });
  });

  rl.setPrompt(promptText());
  rl.prompt();
  rl.on("line", (line) => {
    const cmd = line.trim().toLowerCase();
    if (cmd === "q" || cmd === "/quit") {
      rl.close();
      return;
    }
    if (client.mode === "json" && line.trim() !== "") {
      // The server echoes what we said (with its time and id): drop the typed copy so it shows once.
      const columns = stdout.columns || 80;
      const rows = Math.max(1, Math.ceil((promptText().length + line.length) / columns));
      readline.moveCursor(stdout, 0, -rows);
      readline.clearScreenDown(stdout);
    }
    client.send(line);
    rl.prompt();
  });
  rl.on("SIGINT", () => rl.close());
  rl.on("close", () => {
    if (isLeaving) return;
    isLeaving = true;
    stdout.write("\n");
    void client.close();
  });
  process.once("SIGTERM", () => rl.close());
  await finished;
  rl.close();
  process.exitCode = exitCode;
}
