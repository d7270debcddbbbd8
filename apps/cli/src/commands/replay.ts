import type { Command } from "commander";
import { addressArgument } from "../address.js";
import { parseNumber } from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";

interface ReplayOpts {
  to: string;
  pace: string;
  speed: string;
  compare?: boolean;
  wait: string;
}

/** `lab replay FILE --to ADDR` and `lab session export FILE --pcap OUT`. */
export function registerReplay(program: Command): void {
  program
    .command("replay")
    .description(
      "play the client side of a recorded session against a server; --compare makes it a regression test",
    )
    .argument("<file>", "a session recorded with lab server --record or lab client --record")
    .requiredOption("--to <addr>", "the server: HOST:PORT, [v6]:PORT, unix:/path or @name")
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
    .option("--wait <seconds>", "longest wait for the server's bytes at any step", "5")
    .addHelpText(
      "after",
      `
Examples:
  lab server --record chat.jsonl            record, then in another terminal: lab client …
  lab replay chat.jsonl --to 127.0.0.1:5001 --compare
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
  const address = addressArgument(opts.to);
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
      signal: controller.signal,
    });
    process.stderr.write(
      `replayed ${result.connections} connection${result.connections === 1 ? "" : "s"}: ${result.bytesSent} B sent, ${result.bytesReceived} B received\n`,
    );
    const d = result.difference;
    if (d) {
      const expected = d.expectedHex || "(nothing: the server sent more)";
      const actual = d.actualHex || "(nothing: the server sent less)";
      process.stderr.write(
        `lab: connection ${d.conn}: the server's bytes differ from the recording at offset ${d.offset}\n  expected: ${expected}\n  got:      ${actual}\n`,
      );
      throw new ExitCode(1);
    }
    if (opts.compare) process.stderr.write("0 differences\n");
    if (controller.signal.aborted) throw new ExitCode(130);
  } finally {
    stop();
  }
}
