// Token options shared by `lab server`, `lab files`, `lab client` and `lab transfer` (#15): where a
// secret may come from (a file, LAB_TOKEN, a no-echo prompt; never argv) and how a server loads its
// token file.
import type { Command } from "commander";
import { parseDuration, requireFileName } from "./options.js";
import { UsageError } from "./run.js";

/** The environment variable a client reads its token from when no --token-file is given. */
export const TOKEN_ENV = "LAB_TOKEN";

/** The token options commander parsed. */
export interface TokenOpts {
  tokenFile?: string;
  /** Only ever set to refuse it: a secret on argv is visible to every local user. */
  token?: string;
  allowPlaintextAuth?: boolean;
  authDelay?: string;
}

/** Adds --token-file (and the hidden --token that is refused) to a client command. */
export function addClientTokenOptions(cmd: Command): Command {
  cmd.option(
    "--token-file <file>",
    `read the server's token from FILE (or set ${TOKEN_ENV}; never on the command line)`,
  );
  cmd.addOption(cmd.createOption("--token <value>", "refused: use --token-file or LAB_TOKEN").hideHelp());
  return cmd;
}

/** Adds --token-file, --allow-plaintext-auth and --auth-delay (and the refused --token) to a server command. */
export function addServerTokenOptions(cmd: Command, what: string): Command {
  cmd.option(
    "--token-file <file>",
    `require a token from FILE: one per line, [name:]TOKEN[:ro|:rw] (${what})`,
  );
  cmd.option("--allow-plaintext-auth", "accept tokens without TLS (anyone on the path can read them)");
  cmd.option(
    "--auth-delay <time>",
    "after 5 wrong tokens from one address, wait this long before the next, doubling to 30 s (default: 1s)",
  );
  cmd.addOption(cmd.createOption("--token <value>", "refused: use --token-file").hideHelp());
  return cmd;
}

/** Throws the usage error for a token on argv (croc#598: argv is visible to every local user). */
export function refuseArgvToken(opts: TokenOpts): void {
  if (opts.token === undefined) return;
  throw new UsageError(
    "a token on the command line is visible to every user of this machine (ps, /proc); refused",
    `put it in a file only you can read (chmod 600) and pass --token-file FILE, or set ${TOKEN_ENV}`,
  );
}

/** `--token-file` names a file, not empty and not `-`: a client's stdin is its input, and a token file's mode is checked. */
function checkTokenFileName(file: string | undefined): void {
  requireFileName("--token-file", file, "give the file that holds the tokens, one per line");
  if (file !== "-") return;
  throw new UsageError(
    "--token-file - : tokens are read from a file, not stdin",
    `put them in a file only you can read (chmod 600), one per line, or set ${TOKEN_ENV} for a client`,
  );
}

/**
 * A server's tokens from --token-file, with its warnings printed (`lab: warning: …` + hint), and
 * the backoff's first delay from --auth-delay; undefined tokens when no file is given.
 */
export async function serverTokens(
  opts: TokenOpts,
): Promise<{ tokens: import("@netlab/core").TokenSet | undefined; authDelayMs: number | undefined }> {
  refuseArgvToken(opts);
  checkTokenFileName(opts.tokenFile);
  const authDelayMs =
    opts.authDelay === undefined
      ? undefined
      : parseDuration("--auth-delay", opts.authDelay, {
          minMs: 0,
          maxMs: 30_000,
          hint: "for example 1s or 500ms",
        });
  if (opts.tokenFile === undefined) {
    if (opts.allowPlaintextAuth || opts.authDelay !== undefined) {
      throw new UsageError("--allow-plaintext-auth and --auth-delay need --token-file FILE");
    }
    return { tokens: undefined, authDelayMs };
  }
  const core = await import("@netlab/core");
  const loaded = await core.loadTokenFile(opts.tokenFile);
  for (const w of loaded.warnings) warn(w.message, w.hint);
  return { tokens: new core.TokenSet(loaded.entries), authDelayMs };
}

/**
 * A client's token: the first token of --token-file, else $LAB_TOKEN, else undefined (the caller
 * may then prompt). An empty LAB_TOKEN is an error, not "no token".
 */
export async function clientToken(opts: TokenOpts): Promise<string | undefined> {
  refuseArgvToken(opts);
  checkTokenFileName(opts.tokenFile);
  const core = await import("@netlab/core");
  if (opts.tokenFile !== undefined) {
    const loaded = await core.loadTokenFile(opts.tokenFile);
    for (const w of loaded.warnings) warn(w.message, w.hint);
    return loaded.entries[0]!.token;
  }
  const env = process.env[TOKEN_ENV];
  if (env === undefined) return undefined;
  const token = env.trim();
  if (token === "") {
    throw new core.AuthError("BAD_TOKEN_FILE", `${TOKEN_ENV} is set but empty`, {
      hint: `unset ${TOKEN_ENV}, or set it to the token`,
    });
  }
  return token;
}

/** Whether a no-echo prompt can ask for the token: stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

/**
 * Asks for a secret (a token, a password) on the terminal without echoing it (raw mode; Enter ends,
 * Ctrl-C interrupts, backspace and Ctrl-U edit, Ctrl-D on an empty line gives up). Resolves
 * undefined for an empty answer; spaces around it are dropped unless `keepSpaces` (a password's).
 */
export function promptToken(
  question = "token: ",
  { keepSpaces = false }: { keepSpaces?: boolean } = {},
): Promise<string | undefined> {
  const { stdin, stderr } = process;
  return new Promise((resolve) => {
    let typed = "";
    const wasRaw = stdin.isRaw;
    // Echo off before the question shows: an answer typed (or pasted) at once is never echoed.
    stdin.setRawMode(true);
    stderr.write(question);
    stdin.resume();
    stdin.setEncoding("utf8");
    const finish = (answer: string | undefined) => {
      stdin.off("data", onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stderr.write("\n");
      resolve(answer);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish((keepSpaces ? typed : typed.trim()) || undefined);
        if (ch === "\u0003") {
          finish(undefined);
          process.emit("SIGINT");
          return;
        }
        // Ctrl-D on an empty line is "no answer" (sudo's habit), Ctrl-U erases the line.
        if (ch === "\u0004" && typed === "") return finish(undefined);
        if (ch === "\u0015") typed = "";
        else if (ch === "\u007f" || ch === "\b") typed = typed.slice(0, -1);
        else if (ch >= " ") typed += ch;
      }
    };
    stdin.on("data", onData);
  });
}

function warn(message: string, hint: string): void {
  process.stderr.write(`lab: warning: ${message}\nhint: ${hint}\n`);
}
