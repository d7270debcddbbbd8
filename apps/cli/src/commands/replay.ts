import { formatSocketPath } from "@netlab/core/address";
import type { Command } from "commander";
import { addressArgument, exposureWarning, listenAddress } from "../address.js";
import { parseDuration, parseNumber, requireFileName } from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";
import { addClientTokenOptions, clientToken, TOKEN_ENV, type TokenOpts } from "../token.js";
import { offerWords } from "../words.js";

interface ReplayOpts extends TokenOpts {
  to?: string;
  asServer?: boolean;
  listen: string;
  acceptWait: string;
  pace: string;
  speed: string;
  maxPause: string;
  maxConnections: string;
  compare?: boolean;
  wait: string;
  ignoreJsonFields?: string;
}

/** `lab replay FILE --to ADDR` and `lab session export FILE --pcap OUT`. */
export function registerReplay(program: Command): void {
  const cmd = program
    .command("replay")
    .description(
      "play the client side of a recorded session against a server; --compare makes it a regression test",
    )
    .argument("<file>", "a session recorded with lab server --record or lab client --record")
    .option("--to <addr>", "the server: HOST:PORT, [v6]:PORT, unix:/path or @name")
    .option(
      "--as-server",
      "play the server side instead, to test a client: listen, and play each recorded connection to the next client",
    )
    .option(
      "--listen <addr>",
      "with --as-server: where to listen, in the same grammar (port 0: any free port, printed)",
      "127.0.0.1:0",
    )
    .option("--accept-wait <time>", "with --as-server: longest wait for each client to connect", "1m")
    .option(
      "--pace <pace>",
      "lockstep (wait for the server's bytes), original (the recorded timing) or fast",
      "lockstep",
    )
    .option("--speed <factor>", "with --pace original: 2 plays twice as fast", "1")
    .option(
      "--max-pause <time>",
      "with --pace original: longest pause between two records; longer ones (or timestamps far ahead) are cut to it",
      "10s",
    )
    .option(
      "--compare",
      "check every byte the server sends against the recording; exit 1 at the first difference",
    )
    .option(
      "--ignore-json-fields <names>",
      "with --compare: leave these fields (comma-separated, any depth) out of JSON lines, e.g. ts for lab client recordings",
    )
    .option(
      "--wait <time>",
      "longest wait for the server's bytes at any step; a whole wait without one byte where the recording has an answer stops the replay (exit 1)",
      "5s",
    )
    .option(
      "--max-connections <n>",
      "most connections the recording may open (a recording with more is refused before the first)",
      "1000",
    );
  addClientTokenOptions(cmd)
    .addHelpText(
      "after",
      `
A recording masks auth tokens with * unless made with --no-redact; --token-file FILE (or ${TOKEN_ENV})
puts a real token in their place. Masked reclaim tokens cannot be restored.

Examples:
  lab server --record chat.jsonl            record, then in another terminal: lab client …
  lab replay chat.jsonl --to 127.0.0.1:5001 --compare
  lab replay client.jsonl --to 127.0.0.1:5001 --compare --ignore-json-fields ts,reclaim   (lab client --record)
  lab replay chat.jsonl --as-server --listen 127.0.0.1:5001 --compare   then run the client to test
  lab session export chat.jsonl --pcap chat.pcap && wireshark chat.pcap`,
    )
    .action(action(async (file: string, opts: ReplayOpts) => runReplay(file, opts)));
  offerWords(cmd, "--pace", ["lockstep", "original", "fast"]);

  const exportExample = `
Example:
  lab session export chat.jsonl --pcap chat.pcap && tshark -r chat.pcap -q -z follow,tcp,raw,0`;
  const session = program
    .command("session")
    .description("work with recorded sessions (lab server --record FILE)")
    .addHelpText("after", exportExample);
  session
    .command("export")
    .description("write a recorded session as a pcap capture (synthetic TCP) that Wireshark and tshark open")
    .argument("<file>", "a session recording")
    .requiredOption("--pcap <out>", "the pcap file to write; - for stdout (as tcpdump -w -): | tshark -r -")
    .addHelpText("after", exportExample)
    .action(
      action(async (file: string, opts: { pcap: string }) => {
        requireFileName("--pcap", opts.pcap, "give a file, such as --pcap session.pcap, or - for stdout");
        const { resolve } = await import("node:path");
        // The recording is read whole before the capture is written: it would be replaced by it.
        if (opts.pcap !== "-" && resolve(opts.pcap) === resolve(file)) {
          throw new UsageError(
            `--pcap ${opts.pcap} is the recording it reads`,
            "give another file, such as --pcap session.pcap",
          );
        }
        const { cannotWrite, readSession, sessionToPcap } = await import("@netlab/watch");
        const { writeFile } = await import("node:fs/promises");
        const s = await readSession(file);
        for (const w of s.warnings) process.stderr.write(`lab: warning: ${w}\n`);
        const pcap = sessionToPcap(s);
        if (opts.pcap === "-") {
          // A capture is binary: on a terminal it is noise that may move the cursor.
          if (process.stdout.isTTY) {
            throw new UsageError(
              "a pcap is binary and stdout is a terminal",
              "pipe it (--pcap - | tshark -r -) or give a file: --pcap session.pcap",
            );
          }
          await new Promise<void>((resolve) => process.stdout.write(pcap, () => resolve()));
          return;
        }
        try {
          await writeFile(opts.pcap, pcap);
        } catch (err) {
          throw cannotWrite(opts.pcap, err, "session.pcap");
        }
        process.stderr.write(`wrote ${opts.pcap}\n`);
      }),
    );
}

async function runReplay(file: string, opts: ReplayOpts): Promise<void> {
  const {
    checkReplayOptions,
    connectionsOf,
    readSession,
    replay,
    replayAsServer,
    restoreSessionSecrets,
    WatchError,
  } = await import("@netlab/watch");
  const speed = Number(opts.speed);
  const waitMs = parseDuration("--wait", opts.wait, { minMs: 1, maxMs: 3_600_000 });
  const maxPauseMs = parseDuration("--max-pause", opts.maxPause, { minMs: 0, maxMs: 86_400_000 });
  const maxConnections = parseNumber("--max-connections", opts.maxConnections, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
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
  if ((opts.to === undefined) === (opts.asServer !== true)) {
    throw new UsageError(
      opts.to === undefined
        ? "say which server to replay to with --to ADDR, or test a client with --as-server"
        : "--to and --as-server do not go together",
      "--to HOST:PORT plays the client side; --as-server [--listen HOST:PORT] plays the server side",
    );
  }
  const acceptWaitMs = parseDuration("--accept-wait", opts.acceptWait, { minMs: 1, maxMs: 86_400_000 });
  const address =
    opts.to === undefined
      ? listenAddress({ host: "127.0.0.1", port: "0" }, opts.listen)
      : addressArgument(opts.to);
  const token = await clientToken(opts);
  const recorded = await readSession(file);
  for (const w of recorded.warnings) process.stderr.write(`lab: warning: ${w}\n`);
  const secrets = restoreSessionSecrets(recorded, { side: opts.asServer ? "server" : "client", token });
  const note = maskedSecretsNote(secrets, opts.asServer ? "client" : "server", opts.tokenFile);
  if (note) process.stderr.write(`${note}\n`);
  const session = secrets.session;
  // A redacted recording: what the peer sends is compared with its secrets masked the same way.
  const peerSecrets = restoreSessionSecrets(recorded, { side: opts.asServer ? "client" : "server" }).masked;
  const isRedacted = [secrets.masked, peerSecrets].some((m) => m.auth + m.token + m.reclaim > 0);
  const controller = new AbortController();
  const stop = onInterrupt(() => controller.abort());
  try {
    const common = {
      pace: opts.pace as "lockstep",
      speed,
      maxPauseMs,
      maxConnections,
      compare: opts.compare === true,
      waitMs,
      ignoreJsonFields,
      redactReceived: isRedacted,
      signal: controller.signal,
    };
    const result = opts.asServer
      ? await replayAsServer(session, {
          ...address,
          ...common,
          acceptWaitMs,
          onListening: (at) => {
            const n = connectionsOf(session).length;
            const where = address.path === undefined ? at : formatSocketPath(address.path);
            process.stderr.write(
              `listening on ${where}: playing the server side of ${n} connection${n === 1 ? "" : "s"}\n`,
            );
            // `at` is HOST:PORT, [IPv6]:PORT or unix:PATH; the bound host decides who can reach it.
            const host = at.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
            const exposed = exposureWarning(
              { host, path: address.path },
              "connect and be played the recording's server side",
              "",
            );
            if (exposed) process.stderr.write(`lab: warning: ${exposed}\n`);
          },
        })
      : await replay(session, { ...address, ...common });
    for (const q of result.quiet) {
      const peer = opts.asServer ? "client" : "server";
      process.stderr.write(
        `lab: warning: connection ${q.conn}: the ${peer} said nothing for ${q.waitedMs / 1000} s (--wait) after ${q.receivedBytes} of the ${q.expectedBytes} bytes recorded by then; its later steps were played without waiting for it\n`,
      );
    }
    process.stderr.write(
      `replayed ${result.connections} connection${result.connections === 1 ? "" : "s"}: ${result.bytesSent} B sent, ${result.bytesReceived} B received\n`,
    );
    // Cut short, a replay compares nothing: what did not come yet is not a difference.
    if (controller.signal.aborted) throw new ExitCode(130);
    const d = result.difference;
    if (d) {
      const peer = opts.asServer ? "client" : "server";
      const expected = d.expectedHex || `(nothing: the ${peer} sent more)`;
      const actual = d.actualHex || `(nothing: the ${peer} sent less)`;
      const where =
        ignoreJsonFields.length === 0
          ? `at offset ${d.offset}`
          : `in line ${d.line} (offset ${d.offset} with ${ignoreJsonFields.join(", ")} left out)`;
      process.stderr.write(
        `lab: connection ${d.conn}: the ${peer}'s bytes differ from the recording ${where}\n  expected: ${expected}\n  got:      ${actual}\n${differenceHint(d, peer, ignoreJsonFields, waitMs)}\n`,
      );
      throw new ExitCode(1);
    }
    if (result.silence) {
      const peer = opts.asServer ? "client" : "server";
      const { conn, waitedMs, receivedBytes, expectedBytes } = result.silence;
      const answer =
        receivedBytes === 0
          ? "nothing at all"
          : `${receivedBytes} of the ${expectedBytes} bytes recorded by then`;
      process.stderr.write(
        `lab: connection ${conn}: the ${peer} said nothing for ${waitedMs / 1000} s (--wait) where the recording has it answering (it sent ${answer}); replay stopped\n` +
          `hint: is this the ${peer} that was recorded, and is it running? raise --wait if it is only slow to answer\n`,
      );
      throw new ExitCode(1);
    }
    if (opts.compare) process.stderr.write("0 differences\n");
  } finally {
    stop();
  }
}

/**
 * What to try after a difference: a JSON field that changes on every run (the chat's `ts`) is the
 * usual one, and it is named with the option that leaves it out.
 */
function differenceHint(
  d: import("@netlab/watch").ReplayDifference,
  peer: "server" | "client",
  ignored: string[],
  waitMs: number,
): string {
  if (d.jsonFields.length > 0) {
    const fields = d.jsonFields.join(", ");
    const names = [...ignored, ...d.jsonFields].join(",");
    return `hint: line ${d.line} is JSON and differs in ${fields}; leave out fields that change on every run (a time, a token) with --ignore-json-fields ${names}`;
  }
  if (d.actualHex === "") {
    return `hint: the ${peer} sent less than recorded: it closed the connection, or took longer than --wait (${waitMs / 1000} s)`;
  }
  return peer === "server"
    ? "hint: replay against a freshly started server: one that has served others since answers differently (guest numbers, history)"
    : "hint: give the client the same input as when it was recorded";
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/**
 * One line on the masked secrets in what the replay sends, before it sends: the peer sees stars
 * where no token was given (a server with a token file refuses them), and a reclaim never comes back.
 */
function maskedSecretsNote(
  s: import("@netlab/watch").SessionSecrets,
  peer: "server" | "client",
  tokenFile: string | undefined,
): string | undefined {
  const { auth, token, reclaim } = s.masked;
  const total = auth + token + reclaim;
  if (total === 0) return undefined;
  const reclaims =
    reclaim === 0
      ? ""
      : `; ${plural(reclaim, "masked reclaim token")} cannot be restored (one-time secrets): the ${peer} will see stars`;
  if (s.restored > 0) {
    const source = tokenFile === undefined ? TOKEN_ENV : tokenFile;
    return `lab: note: sending the token from ${source} in place of ${plural(s.restored, "masked token")}${reclaims}`;
  }
  const kinds = [
    auth > 0 ? plural(auth, "/auth token") : "",
    token > 0 ? plural(token, "JSON token") : "",
    reclaim > 0 ? plural(reclaim, "reclaim token") : "",
  ].filter((k) => k !== "");
  const lost = reclaim > 0 ? "; reclaim tokens cannot be restored (one-time secrets)" : "";
  const hint =
    auth + token > 0
      ? ` hint: pass --token-file FILE or set ${TOKEN_ENV} to send a real token, or record with --no-redact`
      : "";
  return `lab: note: this recording has ${plural(total, "masked secret")} (${kinds.join(", ")}; recorded without --no-redact); the ${peer} will see stars${lost}.${hint}`;
}
