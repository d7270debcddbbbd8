import { readFileSync } from "node:fs";
import { Command, CommanderError, Help, type Option } from "commander";
import { addAddressHooks } from "./address.js";
import { commands } from "./commands/index.js";
import { formatUsageError, reportError } from "./run.js";
import { addWatchOptions } from "./watch.js";

// commander is bundled into dist/bin.js (scripts/bundle.mjs): no module resolution at start.

/** The version of the `lab` package, read once at start. */
export const VERSION: string = readVersion();

function readVersion(): string {
  // Bundled, this module may sit in dist/, standalone/ or a shared chunk under standalone/chunks/:
  // walk up to the package's own package.json.
  let dir = new URL(".", import.meta.url);
  for (let depth = 0; depth < 4; depth++) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "@netlab/cli" && pkg.version) return pkg.version;
    } catch {}
    dir = new URL("..", dir);
  }
  return "unknown";
}

/** Exit codes every command uses. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/**
 * Builds the `lab` program. Command modules register options only; each imports its feature
 * package inside its action, so `lab --help` loads commander and nothing else. With `only`, just
 * that command is registered (see {@link main}); every command otherwise.
 */
export function buildProgram(only?: string): Command {
  const program = new Command("lab")
    .description("A networking lab on localhost: chat, file transfer, UDP, and the ideas behind them.")
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showSuggestionAfterError(true)
    .exitOverride()
    .addHelpText(
      "after",
      "\nExamples:\n  lab demo                 a chat server and three clients in one terminal\n  lab server               start the chat server on 127.0.0.1:5001\n  lab client --port 5001   join it\n\nTimes take a unit (500ms, 2s, 1m); a bare number is seconds. Ports: --port or -p.\n",
    );
  for (const [names, register] of commands) if (only === undefined || names.includes(only)) register(program);
  addWatchOptions(program);
  addAddressHooks(program);
  setUsageHints(program, "lab");
  return program;
}

/**
 * Makes commander's own usage errors (an unknown option, a missing argument) print as an action's
 * do: `lab: …` then `hint: …` naming the command's --help, exit 2.
 */
function setUsageHints(cmd: Command, path: string): void {
  cmd.configureOutput({
    outputError: (text, write) =>
      write(formatUsageError(text, path, operandAsOption(cmd, path, text) ?? logFormatHint(cmd, text))),
  });
  cmd.exitOverride();
  cmd.configureHelp({ ...cmd.configureHelp(), optionDescription: describeOption });
  // Help shows a default as typed (`default: 5001`, `default: 10s`), not as a quoted JSON string.
  for (const item of [...cmd.options, ...cmd.registeredArguments]) {
    if (typeof item.defaultValue === "string" && item.defaultValue !== "") {
      item.defaultValueDescription ??= item.defaultValue;
    }
  }
  for (const sub of cmd.commands) setUsageHints(sub, `${path} ${sub.name()}`);
}

/**
 * The hint for a port or address given as a word to a command that takes it as an option
 * (`lab server 5001`, as `python -m http.server 5001`): the command line that works.
 */
function operandAsOption(cmd: Command, path: string, text: string): string | undefined {
  if (!text.includes("too many arguments")) return undefined;
  const has = (flag: string) => cmd.options.some((o) => o.long === flag);
  const positional = cmd.registeredArguments.length;
  const word = cmd.args.at(positional);
  // A command that takes the port as a word (lab client HOST PORT) had one word too many instead.
  if (word === undefined || !has("--port") || cmd.registeredArguments.some((a) => a.name() === "port"))
    return undefined;
  const before = [path, ...cmd.args.slice(0, positional)].join(" ");
  if (/^\d{1,5}$/.test(word)) return `the port is an option: ${before} --port ${word}`;
  const address = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(word);
  if (address && has("--host"))
    return `the address is two options: ${before} --host ${address[1]} --port ${address[2]}`;
  return undefined;
}

/**
 * `--json` or `--log`, the spelling of other tools (and of lab's clients' --json), on a command
 * whose log has `--log-format`: the hint names it.
 */
function logFormatHint(cmd: Command, text: string): string | undefined {
  if (!/unknown option '--(json|log)'/.test(text)) return undefined;
  if (!cmd.options.some((o) => o.long === "--log-format")) return undefined;
  return "a JSON log is --log-format json (one object per line, docs/logging.md)";
}

/** Commander's option line, less the `(default: [])` of a repeatable option that starts empty. */
function describeOption(this: Help, option: Option): string {
  const text = Help.prototype.optionDescription.call(this, option);
  const empty = Array.isArray(option.defaultValue) && option.defaultValue.length === 0;
  return empty ? text.replace(/ ?\(default: \[\]\)$/, "") : text;
}

/**
 * The command `lab NAME …` runs, when it needs no other: building all 40 commands' 232 options
 * took 18–19 ms of every start (docs/benchmarks.md). `lab --version` gets none (""); `lab --help`,
 * `lab help …`, an unknown name and `lab completion` (which writes out the whole tree) get every command.
 */
function commandToRun(argv: string[]): string | undefined {
  const name = argv[2];
  if (name === undefined || name === "completion") return undefined;
  // The version alone needs no command at all.
  if (argv.length === 3 && (name === "--version" || name === "-V")) return "";
  return commands.some(([names]) => names.includes(name)) ? name : undefined;
}

/** Runs `lab` with `argv` (as in process.argv) and sets the exit code. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(commandToRun(argv));
  if (argv.length <= 2) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander.help is help asked for (`lab help udp`, exit code 0) or help shown in place of
      // an error (`lab udp` without its subcommand, on stderr, exit code 1): the second is a usage error.
      const benign = ["commander.helpDisplayed", "commander.version", "commander.help"];
      process.exitCode = benign.includes(err.code) && err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return;
    }
    // A hook's error (the watch options are read and their files opened before the action) ends
    // as an action's does: a usage error exits 2, not as a crash.
    process.exitCode = reportError(err);
  }
}
