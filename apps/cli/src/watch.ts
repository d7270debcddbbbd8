import type { Command } from "commander";

/**
 * The commands that can be watched, by their path under `lab`. One mechanism for all: the options
 * are added here and the tap is started in a preAction hook, so no command implements a flag.
 * `record` adds `--record FILE` (stream commands whose sessions can be replayed).
 */
const WATCHED: Record<string, { record: boolean }> = {
  server: { record: true },
  client: { record: true },
  files: { record: false },
  transfer: { record: false },
  "udp echo": { record: false },
  "udp ping": { record: false },
  "udp send": { record: false },
  "udp listen": { record: false },
  proxy: { record: true },
};

interface WatchFlags {
  hexdump?: string | boolean;
  events?: string | boolean;
  eventsBodies?: boolean;
  eventsQueue?: string;
  record?: string;
  redact?: boolean;
}

let active: { stop(): Promise<unknown> } | undefined;

/** Adds --hexdump, --events, --events-bodies, --no-redact (and --record) to every watched command of `program`. */
export function addWatchOptions(program: Command): void {
  const visit = (cmd: Command, path: string) => {
    const spec = WATCHED[path];
    if (spec) {
      cmd
        .option(
          "--hexdump [file]",
          "show every chunk read and written, xxd style, with direction, connection and time (stderr, or FILE)",
        )
        .option(
          "--events [file]",
          "one JSON object per line: connections, chat, transfers (stderr, or FILE; schema in docs/watch.md)",
        )
        .option("--events-bodies", "with --events: include chat message bodies (left out by default)")
        .option(
          "--no-redact",
          "with --hexdump/--record: keep auth and reclaim tokens as sent (masked with * by default; the files are then mode 0600)",
        )
        .option(
          "--events-queue <lines>",
          "lines held per --events/--hexdump output while it is behind; then the oldest are dropped and counted (default: 10000)",
        );
      if (spec.record)
        cmd.option(
          "--record <file>",
          "record every connection's bytes both ways (JSONL) for lab replay / lab session export",
        );
    }
    for (const sub of cmd.commands) visit(sub, path ? `${path} ${sub.name()}` : sub.name());
  };
  visit(program, "");
  program.hook("preAction", async (_program, actionCommand) => {
    const flags = actionCommand.opts() as WatchFlags;
    if (flags.hexdump === undefined && flags.events === undefined && flags.record === undefined) return;
    const { startWatch } = await import("@netlab/watch");
    const file = (v: string | boolean | undefined) => (typeof v === "string" ? { path: v } : {});
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
        flags.record === undefined ? undefined : { path: flags.record, command: commandPath(actionCommand) },
      redact: flags.redact !== false,
      maxQueuedLines,
    });
  });
  program.hook("postAction", async () => {
    await stopWatching();
  });
}

/** Flushes and closes every watch output; commands that exit on their own (Ctrl-C) call it first. */
export async function stopWatching(): Promise<void> {
  const watch = active;
  active = undefined;
  if (!watch) return;
  const dropped = (await watch.stop()) as Record<string, number>;
  for (const [output, n] of Object.entries(dropped)) {
    if (n > 0)
      process.stderr.write(
        `lab: --${output} dropped ${n} line${n === 1 ? "" : "s"} it could not write in time\n`,
      );
  }
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}
