import type { PingEvent, PingSummary } from "@netlab/udp";
import type { Command } from "commander";
import { familyHelp, udpAddress } from "../address.js";
import {
  addRefusedShortFlags,
  parseDuration,
  parseNumber,
  refuseShortFlags,
  type ShortFlagSpellings,
} from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { EXIT_INTERRUPTED } from "../signals.js";
import { log, MAX_PAYLOAD, MAX_SECONDS, onSignals, out, outJson, parseCount } from "./udp-shared.js";

/** ping's -i and -s, spelled long here: in lab, -i is include and -s silent (lab get, as curl). */
const PING_SHORTS: ShortFlagSpellings = { "-i": "--interval", "-s": "--size" };

/** A probe's header: magic, session id, seq, send time (see @netlab/udp's probe format). */
const PROBE_HEADER = 20;
/** The shortest --interval, in seconds: iputils' floor for an unprivileged user. */
const MIN_INTERVAL_S = 0.002;

/** `lab udp ping`: probes a UDP echo server and reports RTT and loss. */
export function registerUdpPing(udp: Command): void {
  const cmd = udp
    .command("ping")
    .description("send numbered, timestamped probes to a UDP echo server and report RTT and loss")
    .argument("[target]", "HOST, HOST:PORT or [IPv6]:PORT of the echo server (instead of --host/--port)")
    .option("--host <host>", "echo server address", "127.0.0.1")
    .option("-p, --port <port>", "echo server UDP port", "5003")
    .option("-4, --ipv4", "connect over IPv4 only")
    .option("-6, --ipv6", familyHelp("connect"))
    .option("-c, --count <n>", "stop after n probes (default: until Ctrl-C)")
    .option("--interval <time>", `time between probes (at least ${MIN_INTERVAL_S * 1000}ms)`, "1s")
    .option("-W, --timeout <time>", "how long to wait for each reply before it counts as lost", "1s")
    .option("--size <bytes>", `probe size in bytes, ${PROBE_HEADER}–${MAX_PAYLOAD}`, "64")
    .option("--linger <time>", "after the last probe, keep listening this long for late replies", "0s")
    .option("-q, --quiet", "print only the summary")
    .option("--json", "print the summary as JSON (and nothing else on stdout)");
  addRefusedShortFlags(cmd, PING_SHORTS)
    .addHelpText(
      "after",
      `
Examples:
  lab udp ping -c 10 --interval 0.2 -W 1 --size 64
  lab udp ping 127.0.0.1:5003 -c 1000 --interval 0.01 -q
  lab udp ping -c 5 --json | jq .lossPercent

Prints 'seq=3 bytes=64 time=0.210 ms' per reply (late, DUP! and out of order are marked) or
'seq=4 timeout', then a summary as ping does. A reply after its timeout is counted as late, not as
received. Ctrl-C (or SIGTERM) prints the summary so far and exits 130. Exit 0 when any reply came,
1 when none did, 2 on a usage error. ping's -i and -s are spelled --interval and --size here: in
every lab command -s means silent and -i include headers (lab get, as curl).`,
    )
    .action(action(async (target: string | undefined, opts: PingOpts) => runPing(target, opts)));
}

interface PingOpts {
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  count?: string;
  interval: string;
  timeout: string;
  size: string;
  linger: string;
  quiet?: boolean;
  json?: boolean;
  [short: string]: unknown;
}

async function runPing(target: string | undefined, o: PingOpts): Promise<void> {
  refuseShortFlags("lab udp ping", o, PING_SHORTS);
  const { host, port } = udpAddress("lab udp ping", "connect", o, target);
  const count = o.count === undefined ? Number.POSITIVE_INFINITY : parseCount("-c", o.count);
  const intervalS = parseDuration("--interval", o.interval, { minMs: 0, maxMs: MAX_SECONDS * 1000 }) / 1000;
  if (intervalS < MIN_INTERVAL_S) {
    throw new UsageError(
      `--interval ${o.interval}: cannot flood; the minimal interval is ${MIN_INTERVAL_S} s (${MIN_INTERVAL_S * 1000} ms)`,
      `use --interval ${MIN_INTERVAL_S} or more`,
    );
  }
  const timeoutS = parseDuration("-W", o.timeout, { minMs: 0, maxMs: MAX_SECONDS * 1000 }) / 1000;
  if (timeoutS * 1000 < 1) {
    throw new UsageError(`-W ${o.timeout}: the timeout must be at least 0.001 s`, "use -W 1 for one second");
  }
  const size = parseSize(o.size);
  const lingerS = parseDuration("--linger", o.linger, { minMs: 0, maxMs: MAX_SECONDS * 1000 }) / 1000;

  const udp = await import("@netlab/udp");
  const pinger = udp.ping({
    host,
    port,
    count,
    intervalMs: intervalS * 1000,
    timeoutMs: timeoutS * 1000,
    sizeBytes: size,
    lingerMs: lingerS * 1000,
  });
  const json = o.json ?? false;
  pinger.on("ready", ({ target: to }) =>
    log(`PING ${to} (udp): ${size}-byte probes, every ${intervalS} s, timeout ${timeoutS} s`),
  );
  if (!json && !o.quiet) pinger.on("event", (e) => out(describePing(e, udp.formatRtt)));
  let isInterrupted = false;
  const stop = onSignals(() => {
    isInterrupted = true;
    pinger.stop();
  });
  let summary: PingSummary;
  try {
    summary = await pinger.run();
  } finally {
    stop();
  }
  if (json) outJson({ ...summary, rtt: summary.rtt ?? null });
  else out(["", ...udp.formatSummary(summary)].join("\n"));
  if (isInterrupted) throw new ExitCode(EXIT_INTERRUPTED);
  if (summary.received + summary.late === 0) throw new ExitCode(1);
}

function describePing(e: PingEvent, formatRtt: (ms: number) => string): string {
  switch (e.type) {
    case "reply": {
      const marks = [
        e.late ? " (late)" : "",
        e.duplicate ? " (DUP!)" : "",
        e.reordered ? " (out of order)" : "",
      ];
      return `seq=${e.seq} bytes=${e.bytes} time=${formatRtt(e.rttMs)} ms${marks.join("")}`;
    }
    case "timeout":
      return `seq=${e.seq} timeout`;
    case "unreachable":
      return `port unreachable (ICMP): the echo server went away`;
    case "ignored":
      return `ignored ${e.bytes} bytes from ${e.from} (${IGNORED[e.reason]})`;
  }
}

const IGNORED: Record<Extract<PingEvent, { type: "ignored" }>["reason"], string> = {
  short: "too short to be a probe",
  magic: "not a probe",
  padding: "a mangled probe",
  session: "another run's probe",
  unknown: "a probe this run did not send",
};

function parseSize(text: string): number {
  const size = parseNumber("--size", text, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  if (size > MAX_PAYLOAD) {
    throw new UsageError(
      `--size ${size} is too large: a UDP datagram carries at most ${MAX_PAYLOAD} bytes (65,535 minus the IP and UDP headers)`,
      `use --size ${MAX_PAYLOAD} or less`,
    );
  }
  if (size < PROBE_HEADER) {
    throw new UsageError(
      `--size ${size} is too small: a probe needs ${PROBE_HEADER} bytes (magic, run id, seq, send time)`,
      `use --size ${PROBE_HEADER} or more; 'lab udp send' sends datagrams of any size`,
    );
  }
  return size;
}
