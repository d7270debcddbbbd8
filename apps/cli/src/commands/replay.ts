import type { Command } from "commander";
import { parseNumber } from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";

interface ReplayOpts {
  to: string;
  pace: string;
  speed: string;
  compare?: boolean;
  wait: string;
  ignoreJsonFields?: string;
}

/** `lab replay FILE --to ADDR` and `lab session export FILE --pcap OUT`. */
export function registerReplay(program: Command): void {
  program
    .command("replay")
    .description(
      "play the client side of a recorded session against a server; --compare makes it a regression test",
    )
    .argument("<file>", "a session recorded with lab server --record or lab client --record")
    .requiredOption("--to <addr>", "the server: HOST:PORT, [v6]:PORT or unix:/path")
    .option(
      "--pace <pace>",
      "lockstep (wait for the server's bytes), original (the recorded timing) or fast",
      "lockstep",
    )
    .option("--speed <factor>", "with --pace original: 2 plays twice as fast", "1")
    .option(
      "--compare",
      "check every byte the server sends against the recording; exit 1 at the first difference",
    )
    .option(
      "--ignore-json-fields <names>",
      "with --compare: leave these fields (comma-separated, any depth) out of JSON lines, e.g. ts for lab client recordings",
    )
    .option("--wait <seconds>", "longest wait for the server's bytes at any step", "5")
    .addHelpText(
      "after",
      `
Examples:
  lab server --record chat.jsonl            record, then in another terminal: lab client …
  lab replay chat.jsonl --to 127.0.0.1:5001 --compare
  lab replay client.jsonl --to 127.0.0.1:5001 --compare --ignore-json-fields ts   (lab client --record)
  lab session export chat.jsonl --pcap chat.pcap && wireshark chat.pcap`,
    )
    .action(action(async (file: string, opts: ReplayOpts) => runReplay(file, opts)));

  const session = program
    .command("session")
    .description("work with recorded sessions (lab server --record FILE)");
  session
    .command("export")
    .description("write a recorded session as a pcap capture (synthetic TCP) that Wireshark and tshark open")
    .argument("<file>", "a session recording")
    .requiredOption("--pcap <out>", "the pcap file to write")
    .action(
      action(async (file: string, opts: { pcap: string }) => {
        const { readSession, sessionToPcap } = await import("@netlab/watch");
        const { writeFile } = await import("node:fs/promises");
        const s = await readSession(file);
        for (const w of s.warnings) process.stderr.write(`lab: warning: ${w}\n`);
        try {
          await writeFile(opts.pcap, sessionToPcap(s));
        } catch (err) {
          throw Object.assign(new Error(`cannot write ${opts.pcap}: ${(err as Error).message}`), {
            code: "FILE_ERROR",
            hint: "check that the folder exists and is writable",
          });
        }
        process.stderr.write(`wrote ${opts.pcap}\n`);
      }),
    );
}

/** `HOST:PORT`, `[v6]:PORT`, `unix:/path`. */
function parseAddress(text: string): { host?: string; port?: number; path?: string } {
  if (text.startsWith("unix:")) return { path: text.slice(5) };
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) {
    throw new UsageError(
      `--to must be HOST:PORT, [v6]:PORT or unix:/path, got ${JSON.stringify(text)}`,
      "for example --to 127.0.0.1:5001",
    );
  }
  return { host: m[1], port: parseNumber("--to port", m[2]!, { min: 1, max: 65_535, integer: true }) };
}

async function runReplay(file: string, opts: ReplayOpts): Promise<void> {
  const { checkReplayOptions, readSession, replay, WatchError } = await import("@netlab/watch");
  const speed = Number(opts.speed);
  const waitSeconds = parseNumber("--wait", opts.wait, { min: 0.001, max: 3600 });
  try {
    checkReplayOptions({ pace: opts.pace, speed });
  } catch (err) {
    if (err instanceof WatchError)
      throw new UsageError(
        `--${err.message.startsWith("unknown pace") ? "pace" : "speed"}: ${err.message}`,
        err.hint,
      );
    throw err;
  }
  const ignoreJsonFields = (opts.ignoreJsonFields ?? "")
    .split(",")
    .map((f) => f.trim())
    .filter((f) => f !== "");
  if (opts.ignoreJsonFields !== undefined && ignoreJsonFields.length === 0) {
    throw new UsageError(
      "--ignore-json-fields needs at least one field name",
      "for example --ignore-json-fields ts",
    );
  }
  const address = parseAddress(opts.to);
  const session = await readSession(file);
  for (const w of session.warnings) process.stderr.write(`lab: warning: ${w}\n`);
  const controller = new AbortController();
  const stop = onInterrupt(() => controller.abort());
  try {
    const result = await replay(session, {
      ...address,
      pace: opts.pace as "lockstep",
      speed,
      compare: opts.compare === true,
      waitMs: waitSeconds * 1000,
      ignoreJsonFields,
      signal: controller.signal,
    });
    process.stderr.write(
      `replayed ${result.connections} connection${result.connections === 1 ? "" : "s"}: ${result.bytesSent} B sent, ${result.bytesReceived} B received\n`,
    );
    const d = result.difference;
    if (d) {
      const expected = d.expectedHex || "(nothing: the server sent more)";
      const actual = d.actualHex || "(nothing: the server sent less)";
      const where =
        ignoreJsonFields.length === 0
          ? `at offset ${d.offset}`
          : `in line ${d.line} (offset ${d.offset} with ${ignoreJsonFields.join(", ")} left out)`;
      process.stderr.write(
        `lab: connection ${d.conn}: the server's bytes differ from the recording ${where}\n  expected: ${expected}\n  got:      ${actual}\n`,
      );
      throw new ExitCode(1);
    }
    if (opts.compare) process.stderr.write("0 differences\n");
    if (controller.signal.aborted) throw new ExitCode(130);
  } finally {
    stop();
  }
}
