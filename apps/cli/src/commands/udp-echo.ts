import { formatBytes, plural } from "@netlab/core/units";
import type { EchoDatagram } from "@netlab/udp";
import type { Command } from "commander";
import { exposureWarning, familyHelp, udpAddress } from "../address.js";
import { addLogOptions, createLogger, type LogOpts } from "../log.js";
import { parseByteSize, parseDuration, parseNumber, replyLimitText } from "../options.js";
import { action } from "../run.js";
import {
  RECV_BUFFER_OPTION,
  REPLY_LIMIT_TEXT,
  recvBufferSize,
  replyLimits,
  untilSignal,
} from "./udp-shared.js";

/** --max-queue-bytes' default, as @netlab/udp's EMULATOR_DEFAULTS.maxQueuedBytes (16 MiB); kept here so --help needs no import. */
const DEFAULT_MAX_QUEUE_BYTES = "16MiB";

/** `lab udp echo`: echo every datagram back to its sender, optionally through a network emulator. */
export function registerUdpEcho(udp: Command): void {
  const cmd = udp
    .command("echo")
    .description("echo every datagram back to its sender, optionally through a network emulator")
    .option("--host <host>", "address to bind (0.0.0.0 or :: to accept other machines)", "127.0.0.1")
    .option("-p, --port <port>", "UDP port (0 = any free port)", "5003")
    .option("-4, --ipv4", "listen over IPv4 only")
    .option("-6, --ipv6", familyHelp("listen"))
    .option("--loss <rate>", "drop this fraction of datagrams, 0–1", "0")
    .option("--delay <time>", "delay every reply by this long (20ms, 1s; a bare number is seconds)", "0s")
    .option("--jitter <time>", "vary each delay uniformly by ± this much", "0s")
    .option("--duplicate <rate>", "send this fraction of replies twice, 0–1", "0")
    .option("--reorder <rate>", "hold this fraction of replies back until the next one has gone, 0–1", "0")
    .option("--seed <n>", "seed the emulator's random choices, to replay a run exactly")
    .option(
      "--max-queue-bytes <size>",
      "most bytes of delayed or held-back replies at once; what does not fit is dropped and counted",
      DEFAULT_MAX_QUEUE_BYTES,
    )
    .option(
      "--reply-rate <rate>",
      "most bytes per second echoed to one source address (an IPv6 /64), 28 header bytes a datagram counted; loopback exempt; 'unlimited' for none",
      REPLY_LIMIT_TEXT.rate,
    )
    .option(
      "--reply-burst <size>",
      "bytes one source may be echoed at once before --reply-rate applies",
      REPLY_LIMIT_TEXT.burst,
    )
    .option(
      "--max-reply-sources <n>",
      "sources whose --reply-rate is tracked; past it the least recently heard is forgotten",
      REPLY_LIMIT_TEXT.sources,
    )
    .option(...RECV_BUFFER_OPTION);
  addLogOptions(cmd, "a line per datagram (peer, bytes, what the emulator did)")
    .addHelpText(
      "after",
      `
Examples:
  lab udp echo                                     plain echo on 127.0.0.1:5003
  lab udp echo --loss 0.3 --delay 20ms --jitter 5ms    a lossy, slow, jittery network
  lab udp echo --duplicate 0.1 --reorder 0.1 --seed 7 -v

Answers any sender: lab udp ping, nc -u 127.0.0.1 5003, or Python's sendto/recvfrom.
Replies waiting out a --delay or a --reorder hold take memory: at most --max-queue-bytes
(default: 16 MiB) at once; a datagram that does not fit is dropped ('dropped, delay queue full'
with -v) and counted in the summary.
An echo answers whatever source address a datagram claims, and UDP sources are forged for free:
unbounded, anyone who reaches it could aim its replies at a third party (a reflection attack).
So each source address (IPv6: each /64) is echoed at most --reply-rate (default: 256 KiB/s,
bursts of --reply-burst, 512 KiB); the rest is not echoed ('not echoed, over --reply-rate' with
-v) and counted. Loopback senders are exempt: the kernel drops a datagram from outside that
claims a loopback source. Bound beyond loopback, it says once who can reach it (docs/security.md).
Logs go to stderr: 'listening on udp HOST:PORT' once ready, 'UTC-TIME LEVEL MESSAGE' per line
(-q, --log-format as lab server's; docs/logging.md). Ctrl-C stops it (exit 0).`,
    )
    .action(action(async (opts: EchoOpts) => runEcho(opts)));
}

interface EchoOpts extends LogOpts {
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  loss: string;
  delay: string;
  jitter: string;
  duplicate: string;
  reorder: string;
  seed?: string;
  recvBuffer?: string;
  maxQueueBytes: string;
  replyRate: string;
  replyBurst: string;
  maxReplySources: string;
}

async function runEcho(o: EchoOpts): Promise<void> {
  const log = createLogger(o);
  const { host, port, ipv6Only } = udpAddress("lab udp echo", "listen", o);
  const options = {
    host,
    port,
    ipv6Only,
    lossRate: parseNumber("--loss", o.loss, { min: 0, max: 1 }),
    delayMs: parseDuration("--delay", o.delay, { minMs: 0, maxMs: 3_600_000 }),
    jitterMs: parseDuration("--jitter", o.jitter, { minMs: 0, maxMs: 3_600_000 }),
    duplicateRate: parseNumber("--duplicate", o.duplicate, { min: 0, max: 1 }),
    reorderRate: parseNumber("--reorder", o.reorder, { min: 0, max: 1 }),
    seed:
      o.seed === undefined
        ? undefined
        : parseNumber("--seed", o.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
    recvBufferSize: recvBufferSize(o.recvBuffer),
    maxQueuedBytes: parseByteSize("--max-queue-bytes", o.maxQueueBytes, { min: 0 }),
    ...replyLimits(o, "lab udp echo --reply-rate 1MiB/s"),
  };
  const udp = await import("@netlab/udp");
  const server = new udp.UdpEchoServer(options);
  server.on("error", (err: unknown) =>
    log.error(`error: ${err instanceof Error ? err.message : String(err)}`, { event: "error" }),
  );
  if (log.isVerbose) {
    server.on("datagram", (d) =>
      log.debug(describeEcho(d, udp.formatHostPort), {
        event: "datagram",
        index: d.index,
        peer: udp.formatHostPort(d.peer.address, d.peer.port),
        bytes: d.bytes,
      }),
    );
  }
  await server.listen();
  const ready = () => {
    const address = udp.formatHostPort(server.address.host, server.address.port);
    log.ready(`listening on udp ${address}`, { event: "listening", address });
    if (!server.emulator.isPerfect) {
      const e = server.emulator.options;
      const pct = (rate: number) => `${udp.formatPercent(rate * 100)}%`;
      log.info(
        `emulating: loss ${pct(e.lossRate)}, delay ${e.delayMs} ms ± ${e.jitterMs} ms, duplicate ${pct(e.duplicateRate)}, reorder ${pct(e.reorderRate)} (--seed ${e.seed} replays it)`,
      );
    }
    const exposed = exposureWarning(
      server.address,
      `aim its echoes at any address by forging the source, ${replyLimitText(server.replyLimiter.options)}`,
      "",
    );
    if (exposed) log.warn(exposed, { event: "exposed" });
  };
  await untilSignal(server, ready, log);
  const c = server.counters;
  const peakQueuedBytes = server.emulator.peakQueuedBytes;
  const maxQueuedBytes = server.emulator.options.maxQueuedBytes;
  const queue = `${c.queueDrops} dropped for a full delay queue, peak ${formatBytes(peakQueuedBytes)} of ${formatBytes(maxQueuedBytes)} queued`;
  log.info(
    `stopped after ${c.datagrams} datagram${c.datagrams === 1 ? "" : "s"} (${c.dropped} dropped, ${c.duplicated} duplicated, ${c.reordered} reordered; ${queue}; ${c.rateLimited} not echoed over --reply-rate)`,
    {
      event: "stopped",
      datagrams: c.datagrams,
      dropped: c.dropped,
      duplicated: c.duplicated,
      reordered: c.reordered,
      queueDrops: c.queueDrops,
      rateLimited: c.rateLimited,
      peakQueuedBytes,
      maxQueuedBytes,
    },
  );
}

function describeEcho(d: EchoDatagram, formatHostPort: (host: string, port: number) => string): string {
  const head = `#${d.index} ${formatHostPort(d.peer.address, d.peer.port)}  ${plural(d.bytes, "byte")}  `;
  const f = d.fate;
  if (d.rateLimited) return `${head}not echoed, over --reply-rate for this source`;
  if (f.queueFull) return `${head}dropped, delay queue full`;
  if (f.dropped) return `${head}dropped`;
  const delays = f.delaysMs.filter((ms) => ms > 0).map((ms) => `${ms.toFixed(1)} ms`);
  const what = f.delaysMs.length > 1 ? "echoed twice" : "echoed";
  const after = delays.length > 0 ? ` after ${delays.join(" and ")}` : "";
  return `${head}${f.reordered ? "held back, then " : ""}${what}${after}`;
}
