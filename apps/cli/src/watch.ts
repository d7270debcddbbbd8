import { statSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { parseAddress } from "@netlab/core/address";
import type { Command } from "commander";
import { UsageError } from "./run.js";

/**
 * The commands that can be watched, by their path under `lab`. One mechanism for all: the options
 * are added here and the tap is started in a preAction hook, so no command implements a flag.
 * `record` adds `--record FILE` (stream commands whose sessions can be replayed). `stdout` says
 * what the command itself prints there; a command that prints nothing (a server: its log is on
 * stderr) lends stdout to one output given as `-`.
 */
const WATCHED: Record<string, { record: boolean; stdout?: string }> = {
  server: { record: true },
  client: { record: true, stdout: "what the server sends" },
  files: { record: false },
  transfer: { record: false, stdout: "its results" },
  "udp echo": { record: false },
  "udp ping": { record: false, stdout: "its replies" },
  "udp send": { record: false, stdout: "the replies" },
  "udp listen": { record: false, stdout: "the datagrams" },
  proxy: { record: true },
};

/** A file to suggest in a hint, per output. */
const EXAMPLE_FILE = { hexdump: "hexdump.txt", events: "events.jsonl", record: "session.jsonl" } as const;

interface WatchFlags {
  hexdump?: string | boolean;
  events?: string | boolean;
  eventsBodies?: boolean;
  eventsQueue?: string;
  record?: string;
  redact?: boolean;
}

let active: { stop(options: { isCreatedIfUnwritten: boolean }): Promise<unknown> } | undefined;
/** Outputs that failed and were said to: their drop counts would say nothing more. */
const failedOutputs = new Set<string>();

/** Adds --hexdump, --events, --events-bodies, --no-redact (and --record) to every watched command of `program`. */
export function addWatchOptions(program: Command): void {
  const visit = (cmd: Command, path: string) => {
    const spec = WATCHED[path];
    if (spec) {
      const dash = spec.stdout === undefined ? "; - for stdout" : "";
      cmd
        .option(
          "--hexdump [file]",
          `show every chunk read and written, xxd style, with direction, connection and time (stderr, or FILE${dash})`,
        )
        .option(
          "--events [file]",
          `one JSON object per line: connections, chat, transfers (stderr, or FILE${dash}; schema in docs/watch.md)`,
        )
        .option("--events-bodies", "with --events: include chat message bodies (left out by default)")
        .option(
          "--no-redact",
          `with --hexdump${spec.record ? "/--record" : ""}: keep auth and reclaim tokens as sent (masked with * by default; the files are then mode 0600)`,
        )
        .option(
          "--events-queue <lines>",
          "lines held per --events/--hexdump output while it is behind; then the oldest are dropped and counted (default: 10000)",
        );
      if (spec.record)
        cmd.option(
          "--record <file>",
          `record every connection's bytes both ways (JSONL) for lab replay / lab session export${spec.stdout === undefined ? " (- for stdout)" : ""}`,
        );
    }
    for (const sub of cmd.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(program, "");
  program.hook("preAction", async (_program, actionCommand) => {
    const flags = actionCommand.opts() as WatchFlags;
    checkModifiers(flags, watchedSpec(actionCommand)?.record === true);
    if (flags.hexdump === undefined && flags.events === undefined && flags.record === undefined) return;
    checkOutputs(flags, actionCommand);
    noteFifos(flags);
    const { startWatch } = await import("@netlab/watch");
    // `-` is stdout, as curl's -o - and tcpdump's -w -; `./-` is a file named -.
    const file = (v: string | boolean | undefined) =>
      v === "-" ? { stream: process.stdout } : typeof v === "string" ? { path: v } : {};
    let maxQueuedLines: number | undefined;
    if (flags.eventsQueue !== undefined) {
      const { parseNumber } = await import("./options.js");
      maxQueuedLines = parseNumber("--events-queue", flags.eventsQueue, {
        min: 1,
        max: 10_000_000,
        integer: true,
        hint: "the lines held per output while it is behind (default: 10000)",
      });
    }
    active = await startWatch({
      hexdump: flags.hexdump === undefined ? undefined : file(flags.hexdump),
      events:
        flags.events === undefined
          ? undefined
          : { ...file(flags.events), bodies: flags.eventsBodies === true },
      record:
        flags.record === undefined
          ? undefined
          : { ...file(flags.record), command: commandPath(actionCommand) },
      redact: flags.redact !== false,
      maxQueuedLines,
      // The command's own checks come after this hook: a file is created (truncated) only once the
      // command is under way, so lab transfer --events a.txt (the FILE took the upload) and a usage
      // error leave the path as it was. The path is checked here all the same: a server whose
      // --record cannot be written refuses to start, rather than say so after it listens.
      isFileOpenedOnFirstLine: true,
      // Said when it happens, once: the server keeps serving without that output.
      onError: (output, error) => {
        failedOutputs.add(output);
        process.stderr.write(
          `lab: --${output} stopped: ${error.message} (the rest goes on without it)\n${error.hint ? `hint: ${error.hint}\n` : ""}`,
        );
      },
    });
  });
  program.hook("postAction", async () => {
    await stopWatching();
  });
}

/**
 * Flushes and closes every watch output; commands that exit on their own (Ctrl-C) call it first.
 * A file no line was written to is created (empty) only if the command has not failed: one that
 * failed before it did anything leaves an existing file as it was.
 */
export async function stopWatching(): Promise<void> {
  const watch = active;
  active = undefined;
  if (!watch) return;
  const isCreatedIfUnwritten = Number(process.exitCode ?? 0) === 0;
  const dropped = (await watch.stop({ isCreatedIfUnwritten })) as Record<string, number>;
  for (const [output, n] of Object.entries(dropped)) {
    if (n > 0 && !failedOutputs.has(output))
      process.stderr.write(
        `lab: --${output} dropped ${n} line${n === 1 ? "" : "s"} it could not write in time\n`,
      );
  }
}

/**
 * Opening a FIFO for writing waits for its reader (as `tee` does): said first, or the command sat
 * there without a word. Ctrl-C ends the wait.
 */
function noteFifos(flags: WatchFlags): void {
  for (const output of ["hexdump", "events", "record"] as const) {
    const file = flags[output];
    if (typeof file !== "string" || file === "-") continue;
    let isFifo = false;
    try {
      isFifo = statSync(file).isFIFO();
    } catch {}
    if (isFifo) {
      process.stderr.write(
        `lab: --${output} ${file} is a FIFO: waiting for a reader to open it (such as cat ${file})\n`,
      );
    }
  }
}

/** A flag that changes outputs none of which is given did nothing: said, rather than ignored. */
function checkModifiers(flags: WatchFlags, hasRecord: boolean): void {
  const rules: Array<[string, boolean, Array<keyof typeof EXAMPLE_FILE>, string]> = [
    ["--events-bodies", flags.eventsBodies === true, ["events"], "add --events (stderr) or --events FILE"],
    ["--events-queue", flags.eventsQueue !== undefined, ["events", "hexdump"], "add --events or --hexdump"],
    hasRecord
      ? ["--no-redact", flags.redact === false, ["hexdump", "record"], "add --hexdump or --record FILE"]
      : ["--no-redact", flags.redact === false, ["hexdump"], "add --hexdump"],
  ];
  for (const [flag, isGiven, outputs, add] of rules) {
    if (!isGiven || outputs.some((o) => flags[o] !== undefined)) continue;
    const names = outputs.map((o) => `--${o}`);
    throw new UsageError(
      names.length === 1
        ? `${flag} changes ${names[0]}, which is not given`
        : `${flag} changes ${names.join(" and ")}, neither of which is given`,
      `${add}, or drop ${flag}`,
    );
  }
}

/**
 * Checks the files the outputs name before any is opened: no empty name (it read as "cannot
 * write : its folder does not exist"), no file named twice (two outputs would interleave in it),
 * and `-` only where stdout is free.
 */
function checkOutputs(flags: WatchFlags, cmd: Command): void {
  const isStdoutFree = watchedSpec(cmd)?.stdout === undefined;
  const named = (["hexdump", "events", "record"] as const).flatMap((k) => {
    const v = flags[k];
    return typeof v === "string" ? [{ output: k, file: v }] : [];
  });
  for (const { output, file } of named) {
    if (file !== "") continue;
    const stdout = isStdoutFree ? " (- for stdout)" : "";
    throw new UsageError(
      `--${output} needs a file name, got ""`,
      `give a file, such as --${output} ${EXAMPLE_FILE[output]}${stdout}${output === "record" ? "" : ", or no file for stderr"}`,
    );
  }
  for (const { output, file } of named) {
    if (!isAddress(file)) continue;
    throw new UsageError(
      `--${output} took ${file} for its file, but it is an address`,
      `put the address before --${output}, or write --${output} ./${file} for a file of that name`,
    );
  }
  const seen = new Map<string, keyof typeof EXAMPLE_FILE>();
  for (const { output, file } of named) {
    if (file === "-") continue;
    const full = resolve(file);
    const before = seen.get(full);
    if (before !== undefined) {
      throw new UsageError(
        `--${before} and --${output} both write ${flags[before]}`,
        `give each its own file, such as --${output} ${EXAMPLE_FILE[output]}`,
      );
    }
    seen.set(full, output);
  }
  const inputs = new Set(commandFiles(cmd).map((f) => resolve(f)));
  for (const { output, file } of named) {
    if (file === "-" || !inputs.has(resolve(file))) continue;
    throw new UsageError(
      `--${output} ${file} would overwrite a file this command reads`,
      `give --${output} another file, such as --${output} ${EXAMPLE_FILE[output]}`,
    );
  }
  checkStdout(flags, cmd);
}

/**
 * Whether an output's FILE is an address in lab's grammar (an IP or localhost with a port, a Unix
 * or abstract socket): `--hexdump [file]` takes the next word, so `lab udp ping --hexdump
 * 127.0.0.1:5003` named a file after the target and pinged the default one.
 */
function isAddress(text: string): boolean {
  try {
    const address = parseAddress(text);
    return address.kind !== "host" || isIP(address.host) !== 0 || address.host.toLowerCase() === "localhost";
  } catch {
    return false;
  }
}

/**
 * The files a command is given: its arguments, and the values of its options that take a file, a
 * path or a folder. An output's file is truncated at its first line (the first connection), so
 * one of these given to an output would be emptied while it is read.
 */
function commandFiles(cmd: Command): string[] {
  const files = cmd.args.filter((a) => typeof a === "string");
  for (const option of cmd.options) {
    if (!/<(file|path|dir)>/.test(option.flags) || option.attributeName() in EXAMPLE_FILE) continue;
    const value = cmd.getOptionValue(option.attributeName()) as unknown;
    if (typeof value === "string") files.push(value);
  }
  return files;
}

function watchedSpec(cmd: Command) {
  return WATCHED[commandPath(cmd).replace(/^lab /, "")];
}

/**
 * Checks the outputs given as `-`: stdout is refused where the command prints its own
 * output there, and to a second output (their lines would interleave).
 */
function checkStdout(flags: WatchFlags, cmd: Command): void {
  const dashed = (["hexdump", "events", "record"] as const).filter((k) => flags[k] === "-");
  const [first, ...others] = dashed;
  if (first === undefined) return;
  const path = commandPath(cmd);
  const own = watchedSpec(cmd)?.stdout;
  if (own !== undefined) {
    throw new UsageError(
      `--${first} - would write to stdout, which is ${path}'s output (${own})`,
      first === "record"
        ? `give a file, such as --record ${EXAMPLE_FILE.record}`
        : `give a file, such as --${first} ${EXAMPLE_FILE[first]}, or leave out the - for stderr`,
    );
  }
  const last = others.at(-1);
  if (last !== undefined) {
    const names = dashed.map((k) => `--${k} -`);
    throw new UsageError(
      `${names.slice(0, -1).join(", ")} and ${names.at(-1)} both ask for stdout`,
      `give one of them a file, such as --${last} ${EXAMPLE_FILE[last]}`,
    );
  }
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}
