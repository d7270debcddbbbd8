import type { EchoDatagram, PingEvent, PingSummary, ReceivedDatagram } from "@netlab/udp";
import type { Command } from "commander";
import { parseNumber } from "../options.js";
import { action, ExitCode, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt } from "../signals.js";

/** The largest UDP payload over IPv4 (65,535 − 20 IP − 8 UDP header bytes). Kept here so --help needs no import. */
const MAX_PAYLOAD = 65_507;
/** A probe's header: magic, session id, seq, send time (see @netlab/udp's probe format). */
const PROBE_HEADER = 20;
/** The shortest -i, in seconds: iputils' floor for an unprivileged user. */
const MIN_INTERVAL_S = 0.002;
/** The longest wait any option accepts, in seconds (setTimeout's limit, about 24 days). */
const MAX_SECONDS = 2_000_000;
/** --max-queue-bytes' default, as @netlab/udp's EMULATOR_DEFAULTS.maxQueuedBytes (16 MiB); kept here so --help needs no import. */
const DEFAULT_MAX_QUEUE_BYTES = 16 * 1024 * 1024;

/** `lab udp echo|ping|send|listen`: the classic UDP pinger lab, with a network emulator. */
export function registerUdp(program: Command): void {
  const udp = program
    .command("udp")
    .description("UDP: an echo server with a network emulator, a pinger, and one-off datagrams")
    .addHelpText(
      "after",
      `
Examples:
  lab udp echo --port 5003 --loss 0.3 --delay 20   echo server that drops 30% and delays 20 ms
  lab udp ping -c 10 -i 0.2 -W 1 -s 64             ping it: one line per probe, then a summary
  lab udp listen --port 9999                        print each datagram and who sent it
  lab udp send 127.0.0.1:9999 hello                 send one datagram`,
    );

  udp
    .command("echo")
    .description("echo every datagram back to its sender, optionally through a network emulator")
    .option("--host <host>", "address to bind (0.0.0.0 or :: to accept other machines)", "127.0.0.1")
    .option("--port <port>", "UDP port (0 = any free port)", "5003")
    .option("--loss <rate>", "drop this fraction of datagrams, 0–1", "0")
    .option("--delay <ms>", "delay every reply by this many ms", "0")
    .option("--jitter <ms>", "vary each delay uniformly by ± this many ms", "0")
    .option("--duplicate <rate>", "send this fraction of replies twice, 0–1", "0")
    .option("--reorder <rate>", "hold this fraction of replies back until the next one has gone, 0–1", "0")
    .option("--seed <n>", "seed the emulator's random choices, to replay a run exactly")
    .option(
      "--max-queue-bytes <bytes>",
      "most bytes of delayed or held-back replies at once; what does not fit is dropped and counted",
      String(DEFAULT_MAX_QUEUE_BYTES),
    )
    .option("--recv-buffer <bytes>", "socket receive buffer (SO_RCVBUF) to ask the kernel for")
    .option("-v, --verbose", "log one line per datagram")
    .addHelpText(
      "after",
      `
Examples:
  lab udp echo                                     plain echo on 127.0.0.1:5003
  lab udp echo --loss 0.3 --delay 20 --jitter 5    a lossy, slow, jittery network
  lab udp echo --duplicate 0.1 --reorder 0.1 --seed 7 -v

Answers any sender: lab udp ping, nc -u 127.0.0.1 5003, or Python's sendto/recvfrom.
Replies waiting out a --delay or a --reorder hold take memory: at most --max-queue-bytes
(default 16 MiB) at once; a datagram that does not fit is dropped ('dropped, delay queue full'
with -v) and counted in the summary.
Logs go to stderr: 'listening on udp HOST:PORT' once ready. Ctrl-C stops it (exit 0).`,
    )
    .action(action(async (opts: EchoOpts) => runEcho(opts)));

  udp
    .command("ping")
    .description("send numbered, timestamped probes to a UDP echo server and report RTT and loss")
    .argument("[target]", "HOST or HOST:PORT of the echo server (instead of --host/--port)")
    .option("--host <host>", "echo server address", "127.0.0.1")
    .option("--port <port>", "echo server UDP port", "5003")
    .option("-c, --count <n>", "stop after n probes (default: until Ctrl-C)")
    .option("-i, --interval <seconds>", `seconds between probes (at least ${MIN_INTERVAL_S})`, "1")
    .option("-W, --timeout <seconds>", "seconds to wait for each reply before it counts as lost", "1")
    .option("-s, --size <bytes>", `probe size in bytes, ${PROBE_HEADER}–${MAX_PAYLOAD}`, "64")
    .option("--linger <seconds>", "after the last probe, keep listening this long for late replies", "0")
    .option("-q, --quiet", "print only the summary")
    .option("--json", "print the summary as JSON (and nothing else on stdout)")
    .addHelpText(
      "after",
      `
Examples:
  lab udp ping -c 10 -i 0.2 -W 1 -s 64
  lab udp ping 127.0.0.1:5003 -c 1000 -i 0.01 -q
  lab udp ping -c 5 --json | jq .lossPercent

Prints 'seq=3 bytes=64 time=0.210 ms' per reply (late, DUP! and out of order are marked) or
'seq=4 timeout', then a summary as ping does. A reply after its timeout is counted as late, not as
received. Ctrl-C (or SIGTERM) prints the summary so far and exits 130. Exit 0 when any reply came,
1 when none did, 2 on a usage error.`,
    )
    .action(action(async (target: string | undefined, opts: PingOpts) => runPing(target, opts)));

  udp
    .command("send")
    .description("send one datagram (sendto), and optionally wait for a reply")
    .argument("<target>", "HOST:PORT to send to, e.g. 127.0.0.1:5003 or [::1]:5003")
    .argument("[text]", "what to send (default: standard input)")
    .option("--wait <seconds>", "wait this long for a reply and print it (exit 1 if none)")
    .option("--json", "print what happened as JSON")
    .addHelpText(
      "after",
      `
Examples:
  lab udp send 127.0.0.1:5003 hello --wait 1      prints the echo: '127.0.0.1:5003  5 bytes  hello'
  printf 'raw\\x00bytes' | lab udp send 127.0.0.1:9999

At most ${MAX_PAYLOAD} bytes. Without --wait it only sends (UDP has no delivery receipt).
Ctrl-C while waiting exits 130.`,
    )
    .action(
      action(async (target: string, text: string | undefined, opts: SendOpts) => runSend(target, text, opts)),
    );

  udp
    .command("listen")
    .description("print every datagram that arrives, and who sent it (recvfrom)")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--port <port>", "UDP port (0 = any free port)", "0")
    .option("-c, --count <n>", "exit after n datagrams")
    .option("--recv-buffer <bytes>", "socket receive buffer (SO_RCVBUF) to ask the kernel for")
    .option("--json", "one JSON object per datagram")
    .addHelpText(
      "after",
      `
Examples:
  lab udp listen --port 9999           then: lab udp send 127.0.0.1:9999 hi
  lab udp listen --port 9999 -c 1 --json

Prints 'FROM_ADDR:PORT  N bytes  text' per datagram (hex when it holds control bytes or is not
UTF-8; C1 controls, bidi overrides and line separators shown as <U+XXXX>, never obeyed). --json
keeps the exact text. Ctrl-C stops it (exit 0).`,
    )
    .action(action(async (opts: ListenOpts) => runListen(opts)));
}

interface EchoOpts {
  host: string;
  port: string;
  loss: string;
  delay: string;
  jitter: string;
  duplicate: string;
  reorder: string;
  seed?: string;
  recvBuffer?: string;
  maxQueueBytes: string;
  verbose?: boolean;
}

interface PingOpts {
  host: string;
  port: string;
  count?: string;
  interval: string;
  timeout: string;
  size: string;
  linger: string;
  quiet?: boolean;
  json?: boolean;
}

interface SendOpts {
  wait?: string;
  json?: boolean;
}

interface ListenOpts {
  host: string;
  port: string;
  count?: string;
  recvBuffer?: string;
  json?: boolean;
}

async function runEcho(o: EchoOpts): Promise<void> {
  const port = parseNumber("--port", o.port, { min: 0, max: 65_535, integer: true });
  const options = {
    host: o.host,
    port,
    lossRate: parseNumber("--loss", o.loss, { min: 0, max: 1 }),
    delayMs: parseNumber("--delay", o.delay, { min: 0, max: 3_600_000 }),
    jitterMs: parseNumber("--jitter", o.jitter, { min: 0, max: 3_600_000 }),
    duplicateRate: parseNumber("--duplicate", o.duplicate, { min: 0, max: 1 }),
    reorderRate: parseNumber("--reorder", o.reorder, { min: 0, max: 1 }),
    seed:
      o.seed === undefined
        ? undefined
        : parseNumber("--seed", o.seed, { min: 0, max: 2 ** 32 - 1, integer: true }),
    recvBufferSize:
      o.recvBuffer === undefined
        ? undefined
        : parseNumber("--recv-buffer", o.recvBuffer, { min: 1, max: 2 ** 31 - 1, integer: true }),
    maxQueuedBytes: parseNumber("--max-queue-bytes", o.maxQueueBytes, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    }),
  };
  const udp = await import("@netlab/udp");
  const server = new udp.UdpEchoServer(options);
  server.on("error", (err: unknown) => log(`error: ${err instanceof Error ? err.message : String(err)}`));
  if (o.verbose) server.on("datagram", (d) => log(describeEcho(d, udp.formatHostPort)));
  await server.listen();
  const ready = () => {
    log(`listening on udp ${udp.formatHostPort(server.address.host, server.address.port)}`);
    if (!server.emulator.isPerfect) {
      const e = server.emulator.options;
      const pct = (rate: number) => `${udp.formatPercent(rate * 100)}%`;
      log(
        `emulating: loss ${pct(e.lossRate)}, delay ${e.delayMs} ms ± ${e.jitterMs} ms, duplicate ${pct(e.duplicateRate)}, reorder ${pct(e.reorderRate)} (--seed ${e.seed} replays it)`,
      );
    }
  };
  await untilSignal(server, ready, () => log("shutting down"));
  const c = server.counters;
  const queue = `${c.queueDrops} dropped for a full delay queue, peak ${server.emulator.peakQueuedBytes} of ${server.emulator.options.maxQueuedBytes} bytes queued`;
  log(
    `stopped after ${c.datagrams} datagram${c.datagrams === 1 ? "" : "s"} (${c.dropped} dropped, ${c.duplicated} duplicated, ${c.reordered} reordered; ${queue})`,
  );
}

function describeEcho(d: EchoDatagram, formatHostPort: (host: string, port: number) => string): string {
  const head = `#${d.index} ${formatHostPort(d.peer.address, d.peer.port)}  ${d.bytes} bytes  `;
  const f = d.fate;
  if (f.queueFull) return `${head}dropped, delay queue full`;
  if (f.dropped) return `${head}dropped`;
  const delays = f.delaysMs.filter((ms) => ms > 0).map((ms) => `${ms.toFixed(1)} ms`);
  const what = f.delaysMs.length > 1 ? "echoed twice" : "echoed";
  const after = delays.length > 0 ? ` after ${delays.join(" and ")}` : "";
  return `${head}${f.reordered ? "held back, then " : ""}${what}${after}`;
}

async function runPing(target: string | undefined, o: PingOpts): Promise<void> {
  let host = o.host;
  let port = parseNumber("--port", o.port, { min: 1, max: 65_535, integer: true });
  if (target !== undefined) {
    const udp = await import("@netlab/udp");
    const isHostPort = /^\[.*\]:\d+$|^[^:]*:\d+$/.test(target);
    if (isHostPort) ({ host, port } = usage(() => udp.parseHostPort(target)));
    else host = target.replace(/^\[(.*)\]$/, "$1");
  }
  const count = o.count === undefined ? Number.POSITIVE_INFINITY : parseCount("-c", o.count);
  const intervalS = parseNumber("-i", o.interval, { min: 0, max: MAX_SECONDS });
  if (intervalS < MIN_INTERVAL_S) {
    throw new UsageError(
      `-i ${o.interval}: cannot flood; the minimal interval is ${MIN_INTERVAL_S} s (${MIN_INTERVAL_S * 1000} ms)`,
      `use -i ${MIN_INTERVAL_S} or more`,
    );
  }
  const timeoutS = parseNumber("-W", o.timeout, { min: 0, max: MAX_SECONDS });
  if (timeoutS * 1000 < 1) {
    throw new UsageError(`-W ${o.timeout}: the timeout must be at least 0.001 s`, "use -W 1 for one second");
  }
  const size = parseSize(o.size);
  const lingerS = parseNumber("--linger", o.linger, { min: 0, max: MAX_SECONDS });

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
  if (json) out(JSON.stringify({ ...summary, rtt: summary.rtt ?? null }, null, 2));
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

async function runSend(target: string, text: string | undefined, o: SendOpts): Promise<void> {
  const udp = await import("@netlab/udp");
  const { host, port } = usage(() => udp.parseHostPort(target));
  const waitS = o.wait === undefined ? 0 : parseNumber("--wait", o.wait, { min: 0.001, max: MAX_SECONDS });
  const data = text !== undefined ? Buffer.from(text) : await readStdin();
  if (data.length > MAX_PAYLOAD) {
    throw new UsageError(
      `${data.length} bytes is too large for one datagram: UDP carries at most ${MAX_PAYLOAD} bytes`,
      `send at most ${MAX_PAYLOAD} bytes`,
    );
  }
  const controller = new AbortController();
  const stop = onSignals(() => controller.abort());
  try {
    const result = await udp
      .sendDatagram({
        host,
        port,
        data,
        waitMs: waitS * 1000,
        signal: controller.signal,
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) throw new ExitCode(EXIT_INTERRUPTED);
        throw err;
      });
    const to = udp.formatHostPort(host, port);
    if (o.json) {
      const reply = result.reply && {
        from: result.reply.from,
        bytes: result.reply.packet.length,
        rttMs: result.reply.rttMs,
        ...payloadJson(result.reply.packet, udp.viewPayload),
      };
      out(JSON.stringify({ to, from: result.local, bytes: result.bytes, reply: reply ?? null }));
    } else {
      log(`sent ${result.bytes} bytes to ${to} from ${result.local}`);
      if (result.reply) out(udp.formatDatagram(result.reply.from, result.reply.packet));
    }
  } finally {
    stop();
  }
}

async function runListen(o: ListenOpts): Promise<void> {
  const port = parseNumber("--port", o.port, { min: 0, max: 65_535, integer: true });
  const count = o.count === undefined ? Number.POSITIVE_INFINITY : parseCount("-c", o.count);
  const recvBufferSize =
    o.recvBuffer === undefined
      ? undefined
      : parseNumber("--recv-buffer", o.recvBuffer, { min: 1, max: 2 ** 31 - 1, integer: true });
  const udp = await import("@netlab/udp");
  const listener = new udp.UdpListener({ host: o.host, port, recvBufferSize });
  listener.on("datagram", (d: ReceivedDatagram) => {
    if (d.index > count) return;
    const from = udp.formatHostPort(d.peer.address, d.peer.port);
    if (o.json) {
      out(
        JSON.stringify({
          from,
          address: d.peer.address,
          port: d.peer.port,
          bytes: d.packet.length,
          ...payloadJson(d.packet, udp.viewPayload),
        }),
      );
    } else {
      out(udp.formatDatagram(from, d.packet));
    }
    if (d.index === count) void listener.shutdown();
  });
  await listener.listen();
  const ready = () =>
    log(`listening on udp ${udp.formatHostPort(listener.address.host, listener.address.port)}`);
  await untilSignal(listener, ready, () => log("shutting down"));
  const n = Math.min(listener.datagrams, count);
  log(`stopped after ${n} datagram${n === 1 ? "" : "s"}`);
}

/** `text` when the payload is printable UTF-8, else `hex`; nothing for an empty one. */
function payloadJson(
  packet: Buffer,
  viewPayload: typeof import("@netlab/udp").viewPayload,
): { text?: string; hex?: string } {
  const view = viewPayload(packet);
  if (view.kind === "empty") return { text: "" };
  return view.kind === "text" ? { text: packet.toString("utf8") } : { hex: packet.toString("hex") };
}

/**
 * Serves until shut down; the first SIGINT/SIGTERM shuts down gracefully, a second exits at once.
 * `onReady` (the "listening on" line) runs once the handlers are in place: a signal sent the
 * moment that line is seen must not meet the default action, which kills without a summary.
 */
async function untilSignal(
  server: { serveForever(): Promise<void>; shutdown(): Promise<void> },
  onReady: () => void,
  onFirst: () => void,
): Promise<void> {
  const stop = onSignals(() => {
    onFirst();
    void server.shutdown();
  });
  onReady();
  try {
    await server.serveForever();
  } finally {
    stop();
  }
}

/** Every udp command's Ctrl-C/SIGTERM: `first` on the first, exit 130 on the second. */
function onSignals(first: () => void): () => void {
  return onInterrupt(first, { onAgain: (signal) => log(`${signal} again: exiting without waiting`) });
}

async function readStdin(): Promise<Buffer> {
  if (process.stdin.isTTY) {
    throw new UsageError("nothing to send", "give the text as an argument, or pipe data on standard input");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    // One byte over the limit is enough to refuse; stop reading there.
    if (size > MAX_PAYLOAD) break;
  }
  return Buffer.concat(chunks);
}

function parseSize(text: string): number {
  const size = parseNumber("-s", text, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  if (size > MAX_PAYLOAD) {
    throw new UsageError(
      `-s ${size} is too large: a UDP datagram carries at most ${MAX_PAYLOAD} bytes (65,535 minus the IP and UDP headers)`,
      `use -s ${MAX_PAYLOAD} or less`,
    );
  }
  if (size < PROBE_HEADER) {
    throw new UsageError(
      `-s ${size} is too small: a probe needs ${PROBE_HEADER} bytes (magic, run id, seq, send time)`,
      `use -s ${PROBE_HEADER} or more; 'lab udp send' sends datagrams of any size`,
    );
  }
  return size;
}

function parseCount(flag: string, text: string): number {
  return parseNumber(flag, text, { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true });
}

/** Runs `fn`; an INVALID_OPTION from the package becomes a usage error (exit 2). */
function usage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as { code?: string; message?: string; hint?: string };
    if (e?.code === "INVALID_OPTION") throw new UsageError(e.message ?? String(err), e.hint);
    throw err;
  }
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
