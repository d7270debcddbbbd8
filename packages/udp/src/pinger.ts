import { randomInt } from "node:crypto";
import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import { isWireWatched, tapDatagram } from "@netlab/socketserver";
import { resolveHost } from "./address.js";
import {
  formatHostPort,
  MAX_UDP_PAYLOAD_BYTES,
  requireInt,
  requireRange,
  toUdpError,
  type UdpError,
} from "./errors.js";
import { decodeProbe, encodeProbe, type NotAProbe, PROBE_HEADER_BYTES } from "./probe.js";
import { lossPercent, type PingSummary, RttAccumulator } from "./stats.js";

/** Options for {@link ping}. Times are in ms. */
export interface PingOptions {
  /** Where the echo server is. Default "127.0.0.1"; a name is resolved once at start. */
  host?: string;
  /** Its UDP port. Default 5003. */
  port?: number;
  /** Probes to send. Default Infinity (until stopped). */
  count?: number;
  /** Time between probe sends, ms. Default 1000; at least {@link MIN_INTERVAL_MS}. */
  intervalMs?: number;
  /** How long each probe waits for its reply before it is a timeout, ms. Default 1000. */
  timeoutMs?: number;
  /** Size of each probe in bytes, header included: {@link PROBE_HEADER_BYTES}–65,507. Default 64. */
  sizeBytes?: number;
  /** After the last probe is answered or timed out, keep listening this long for late replies and duplicates, ms. Default 0. */
  lingerMs?: number;
  /** Stops the run; the summary so far is the result. */
  signal?: AbortSignal;
  /** Tags this run's probes. Default random. */
  sessionId?: number;
}

/** The shortest interval allowed, ms (as iputils `ping` allows an unprivileged user: 2 ms). */
export const MIN_INTERVAL_MS = 2;

/** Defaults for {@link PingOptions}. */
export const PING_DEFAULTS = {
  host: "127.0.0.1",
  port: 5003,
  count: Number.POSITIVE_INFINITY,
  intervalMs: 1000,
  timeoutMs: 1000,
  sizeBytes: 64,
  lingerMs: 0,
} as const;

/** Most probes remembered for late and duplicate replies; older ones are forgotten (as iputils' 64 Ki window). */
export const MAX_TRACKED_PROBES = 65_536;

/** setTimeout's largest delay (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A reply to one of this run's probes. */
export interface PingReply {
  type: "reply";
  seq: number;
  /** Bytes in the reply datagram. */
  bytes: number;
  /** Round-trip time, ms. */
  rttMs: number;
  /** `host:port` it came from. */
  from: string;
  /** It came after its probe had timed out (not counted as received). */
  late: boolean;
  /** A second or later copy of a reply already seen. */
  duplicate: boolean;
  /** It came after the reply to a later probe. */
  reordered: boolean;
}

/** A probe whose reply did not come within the timeout. */
export interface PingTimeout {
  type: "timeout";
  seq: number;
  timeoutMs: number;
}

/** ICMP port unreachable: nothing listened on the target port when a probe got there. */
export interface PingUnreachable {
  type: "unreachable";
  error: UdpError;
}

/** A datagram that is not a reply to this run's probes. */
export interface PingIgnored {
  type: "ignored";
  bytes: number;
  /** `host:port` it came from. */
  from: string;
  /** short/magic/padding: not a probe; session: another run's; unknown: a seq this run never sent. */
  reason: NotAProbe | "session" | "unknown";
}

/** What happens to a probe, in the order it happens: the items of `for await (const e of ping(...))`. */
export type PingEvent = PingReply | PingTimeout | PingUnreachable | PingIgnored;

/** Events of a {@link Pinger}. */
export interface PingerEvents {
  /** Bound and connected: probes are about to go. */
  ready: [{ local: string; target: string }];
  /** Probe `seq` left at `sentAt` (ms since the epoch). */
  sent: [{ seq: number; sentAt: number; bytes: number }];
  /** Every PingEvent, in order. */
  event: [PingEvent];
  reply: [PingReply];
  timeout: [PingTimeout];
  unreachable: [PingUnreachable];
  ignored: [PingIgnored];
  /** The run is over. */
  done: [PingSummary];
}

type ProbeState = "pending" | "replied" | "timedOut" | "late";
interface ProbeRecord {
  sentAt: number;
  state: ProbeState;
  timer: NodeJS.Timeout | undefined;
}

/** ms since the epoch with µs precision. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * A UDP pinger: sends numbered, timestamped probes to an echo server on a schedule and matches the
 * replies, recognising late replies, duplicates and reordering. Iterate it for what happens to each
 * probe, listen to its events, or just await `run()` for the summary.
 *
 * Methods: `run()` (starts once; resolves with the summary), `stop()` (ends now, the summary so far),
 * `summary` (live). Events: see {@link PingerEvents}. Failures reject `run()` with a UdpError:
 * PORT_UNREACHABLE when ICMP port unreachable comes back before any reply, DNS_FAILURE,
 * MESSAGE_TOO_LARGE, INVALID_OPTION.
 * @example
 * for await (const e of ping({ port: 5003, count: 3, intervalMs: 200 })) console.log(e);
 * const summary = await pinger.run();
 */
export class Pinger extends EventEmitter<PingerEvents> implements AsyncIterable<PingEvent> {
  readonly options: Readonly<Required<Omit<PingOptions, "signal">>>;
  readonly #signal: AbortSignal | undefined;
  readonly #halt = new AbortController();
  readonly #probes = new Map<number, ProbeRecord>();
  readonly #rtt = new RttAccumulator();
  #counts = { transmitted: 0, received: 0, late: 0, duplicates: 0, reordered: 0, ignored: 0, errors: 0 };
  #pending = 0;
  #highestReplied = -1;
  #firstSentAt: number | undefined;
  #endedAt: number | undefined;
  #failure: UdpError | undefined;
  readonly #wakers = new Set<() => void>();
  #result: Promise<PingSummary> | undefined;

  constructor(options: PingOptions = {}) {
    super();
    const o = {
      ...PING_DEFAULTS,
      sessionId: randomInt(0, 2 ** 32 - 1),
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as Required<PingOptions>;
    const { signal, ...rest } = o;
    requireInt("port", rest.port, { min: 1, max: 65_535 });
    requireInt("count", rest.count, { min: 1, allowInfinity: true });
    requireRange("intervalMs", rest.intervalMs, MIN_INTERVAL_MS, MAX_TIMER_MS);
    requireRange("timeoutMs", rest.timeoutMs, 1, MAX_TIMER_MS);
    requireRange("lingerMs", rest.lingerMs, 0, MAX_TIMER_MS);
    requireInt("sizeBytes", rest.sizeBytes, { min: PROBE_HEADER_BYTES, max: MAX_UDP_PAYLOAD_BYTES });
    this.options = rest;
    this.#signal = signal;
  }

  /** The figures so far (final once `run()` has resolved). */
  get summary(): PingSummary {
    const { host, port, sizeBytes } = this.options;
    const c = this.#counts;
    const end = this.#endedAt ?? now();
    return {
      target: formatHostPort(host, port),
      host,
      port,
      sizeBytes,
      ...c,
      lossPercent: lossPercent(c.transmitted, c.received),
      rtt: this.#rtt.stats(),
      elapsedMs: this.#firstSentAt === undefined ? 0 : end - this.#firstSentAt,
    };
  }

  /** Starts the run (once) and resolves with its summary. */
  run(): Promise<PingSummary> {
    this.#result ??= this.#run();
    return this.#result;
  }

  /** Ends the run now: no more probes; the summary counts what happened so far. */
  stop(): void {
    this.#halt.abort();
    this.#notify();
  }

  /** What happens to each probe, as it happens; starts the run. Throws the run's failure at the end. */
  [Symbol.asyncIterator](): AsyncIterator<PingEvent> {
    const buffered: PingEvent[] = [];
    let notify: (() => void) | undefined;
    let finished = false;
    let failure: unknown;
    const onEvent = (e: PingEvent) => {
      buffered.push(e);
      notify?.();
    };
    this.on("event", onEvent);
    this.run().then(
      () => {
        finished = true;
        notify?.();
      },
      (err: unknown) => {
        finished = true;
        failure = err;
        notify?.();
      },
    );
    const detach = () => this.off("event", onEvent);
    return {
      next: async (): Promise<IteratorResult<PingEvent>> => {
        while (buffered.length === 0 && !finished) await new Promise<void>((r) => (notify = r));
        notify = undefined;
        const e = buffered.shift();
        if (e) return { value: e, done: false };
        detach();
        if (failure !== undefined) throw failure;
        return { value: undefined, done: true };
      },
      return: async (): Promise<IteratorResult<PingEvent>> => {
        detach();
        this.stop();
        return { value: undefined, done: true };
      },
    };
  }

  async #run(): Promise<PingSummary> {
    const { host, port, count, intervalMs, lingerMs, sizeBytes, sessionId } = this.options;
    const halt = this.#halt.signal;
    const onAbort = () => this.stop();
    this.#signal?.addEventListener("abort", onAbort, { once: true });
    if (this.#signal?.aborted) this.stop();
    let socket: dgram.Socket | undefined;
    try {
      const target = await resolveHost(host, port);
      socket = dgram.createSocket(target.type);
      const sock = socket;
      sock.on("message", (msg, rinfo) => {
        if (isWireWatched()) tapDatagram(sock, "client", "in", rinfo, msg);
        this.#onMessage(msg, formatHostPort(rinfo.address, rinfo.port));
      });
      sock.on("error", (err) => this.#onSocketError(err));
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => reject(toUdpError(err, { action: "send", host, port }));
        sock.once("error", fail);
        sock.connect(port, target.address, () => {
          sock.off("error", fail);
          resolve();
        });
      });
      const local = sock.address();
      this.emit("ready", {
        local: formatHostPort(local.address, local.port),
        target: formatHostPort(host, port),
      });

      const startedAt = now();
      for (let seq = 0; seq < count && !halt.aborted; seq++) {
        await this.#sleep(startedAt + seq * intervalMs - now());
        if (halt.aborted) break;
        this.#send(sock, seq, sessionId, sizeBytes);
      }
      while (this.#pending > 0 && !halt.aborted) await this.#sleep(MAX_TIMER_MS, { untilIdle: true });
      if (lingerMs > 0 && !halt.aborted) await this.#sleep(lingerMs);
    } finally {
      this.#endedAt = now();
      this.#signal?.removeEventListener("abort", onAbort);
      for (const record of this.#probes.values()) clearTimeout(record.timer);
      const open = socket;
      if (open) await new Promise<void>((resolve) => open.close(() => resolve()));
    }
    if (this.#failure) throw this.#failure;
    const summary = this.summary;
    this.emit("done", summary);
    return summary;
  }

  #send(socket: dgram.Socket, seq: number, sessionId: number, sizeBytes: number): void {
    const sentAt = now();
    const packet = encodeProbe({ sessionId, seq, sentAt }, sizeBytes);
    const record: ProbeRecord = { sentAt, state: "pending", timer: undefined };
    this.#probes.set(seq, record);
    this.#forget(seq - MAX_TRACKED_PROBES);
    this.#counts.transmitted++;
    this.#firstSentAt ??= sentAt;
    this.#pending++;
    record.timer = setTimeout(() => this.#onTimeout(seq, record), this.options.timeoutMs);
    this.emit("sent", { seq, sentAt, bytes: sizeBytes });
    if (isWireWatched()) tapDatagram(socket, "client", "out", undefined, packet);
    socket.send(packet, (err) => {
      if (err) this.#onSocketError(err);
    });
  }

  #forget(seq: number): void {
    const old = this.#probes.get(seq);
    if (old && old.state !== "pending") this.#probes.delete(seq);
  }

  #onTimeout(seq: number, record: ProbeRecord): void {
    if (record.state !== "pending") return;
    record.state = "timedOut";
    this.#resolveOne();
    this.#publish({ type: "timeout", seq, timeoutMs: this.options.timeoutMs });
  }

  #onMessage(msg: Buffer, from: string): void {
    const at = now();
    const probe = decodeProbe(msg);
    const record = typeof probe === "string" ? undefined : this.#probes.get(probe.seq);
    // The send time must match too: it tells this run's probe from a forgotten one with the same seq.
    const reason: PingIgnored["reason"] | undefined =
      typeof probe === "string"
        ? probe
        : probe.sessionId !== this.options.sessionId
          ? "session"
          : !record || record.sentAt !== probe.sentAt
            ? "unknown"
            : undefined;
    if (reason !== undefined || typeof probe === "string" || !record) {
      this.#counts.ignored++;
      this.#publish({ type: "ignored", bytes: msg.length, from, reason: reason ?? "unknown" });
      return;
    }
    const reply: PingReply = {
      type: "reply",
      seq: probe.seq,
      bytes: msg.length,
      rttMs: at - record.sentAt,
      from,
      late: false,
      duplicate: false,
      reordered: false,
    };
    switch (record.state) {
      case "pending":
        clearTimeout(record.timer);
        record.state = "replied";
        this.#counts.received++;
        this.#rtt.add(reply.rttMs);
        if (probe.seq < this.#highestReplied) {
          reply.reordered = true;
          this.#counts.reordered++;
        }
        this.#highestReplied = Math.max(this.#highestReplied, probe.seq);
        this.#resolveOne();
        break;
      case "timedOut":
        record.state = "late";
        reply.late = true;
        this.#counts.late++;
        break;
      default:
        reply.duplicate = true;
        reply.late = record.state === "late";
        this.#counts.duplicates++;
    }
    this.#publish(reply);
  }

  #onSocketError(err: Error): void {
    const error = toUdpError(err, { action: "send", host: this.options.host, port: this.options.port });
    if (error.code === "PORT_UNREACHABLE") {
      this.#counts.errors++;
      // After a reply, the server went away mid-run: count it and go on, as ping does.
      if (this.#counts.received + this.#counts.late > 0) {
        this.#publish({ type: "unreachable", error });
        return;
      }
      // Before any reply, nobody is there: fail at once (the error says it) rather than time out.
    }
    this.#failure ??= error;
    this.stop();
  }

  #resolveOne(): void {
    this.#pending--;
    if (this.#pending === 0) this.#notify();
  }

  #publish(e: PingEvent): void {
    this.emit("event", e);
    // Typed listeners get the same object under its own name.
    (this.emit as (name: string, e: PingEvent) => boolean)(e.type, e);
  }

  /** Waits `ms`, or less when the run halts, or (with `untilIdle`) when no probe is pending. */
  #sleep(ms: number, { untilIdle = false } = {}): Promise<void> {
    const isDone = () => this.#halt.signal.aborted || (untilIdle && this.#pending === 0);
    if (ms <= 0 || isDone()) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#wakers.delete(check);
        resolve();
      };
      const check = () => {
        if (isDone()) finish();
      };
      const timer = setTimeout(finish, Math.min(ms, MAX_TIMER_MS));
      this.#wakers.add(check);
    });
  }

  /** Lets every sleeper re-check whether it is done. */
  #notify(): void {
    for (const check of [...this.#wakers]) check();
  }
}

/**
 * Starts nothing yet: returns a {@link Pinger}; iterate it or call `run()`.
 * @example
 * const pinger = ping({ port: 5003, count: 10, intervalMs: 200, timeoutMs: 1000, sizeBytes: 64 });
 * pinger.on("reply", (r) => show(r));
 * const summary = await pinger.run();
 */
export function ping(options: PingOptions = {}): Pinger {
  return new Pinger(options);
}
