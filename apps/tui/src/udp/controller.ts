import { type EchoDatagram, type PingEvent, Pinger, UdpEchoServer } from "@netlab/udp";
import { errorText } from "../controller.js";
import { type LineKind, type LogLine, MAX_CLIENTS } from "../model.js";
import { SnapshotStore } from "../snapshot-store.js";
import { type EchoView, type PingerView, RTT_HISTORY, type UdpControls, type UdpSnapshot } from "./model.js";

/** Options for {@link UdpLabController}. */
export interface UdpLabOptions {
  /** Pingers to start with, 1..6. Default 3. */
  pingers?: number;
  /** Where the echo server binds. Default 127.0.0.1. */
  host?: string;
  /** Chance a datagram is dropped, 0..1. Default 0.1 (so there is something to see). */
  lossRate?: number;
  /** Delay added to each echo, ms. Default 20. */
  delayMs?: number;
  /** Time between probes, ms. Default 200. */
  intervalMs?: number;
  /** How long a probe waits for its echo, ms. Default 1000. */
  timeoutMs?: number;
  /** Lines kept per log. Default 200. */
  maxLogLines?: number;
  /** How often the datagram rate is refreshed, ms. Default 500. */
  statsIntervalMs?: number;
}

/** Largest emulated delay the scene offers, ms: long enough to see, short of the probe timeout. */
export const MAX_SCENE_DELAY_MS = 900;

interface PingerSlot {
  view: PingerView;
  pinger: Pinger | undefined;
  seq: number;
}

/**
 * The UDP scene: a `UdpEchoServer` (with a network emulator: loss, delay) and N `Pinger`s sending
 * probes to it over real UDP sockets on localhost, published as an immutable {@link UdpSnapshot}.
 * Changing the network restarts the server on the same port; pingers ride through the gap.
 * @example const lab = new UdpLabController({ pingers: 2, lossRate: 0.2 }); await lab.start();
 */
export class UdpLabController implements UdpControls {
  readonly #host: string;
  readonly #initial: number;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #maxLogLines: number;
  readonly #statsIntervalMs: number;
  #port = 0;
  #lossRate: number;
  #delayMs: number;
  #server: UdpEchoServer | undefined;
  #serving: Promise<void> | undefined;
  #echo: EchoView;
  #echoSeq = 0;
  #slots: PingerSlot[] = [];
  readonly #store: SnapshotStore<UdpSnapshot>;
  #statsTimer: NodeJS.Timeout | undefined;
  #last = { at: 0, datagrams: 0 };
  #isClosed = false;
  #restarting: Promise<void> | undefined;
  #isNetworkChanged = false;

  constructor(opts: UdpLabOptions = {}) {
    this.#host = opts.host ?? "127.0.0.1";
    this.#initial = opts.pingers ?? 3;
    if (!Number.isInteger(this.#initial) || this.#initial < 1 || this.#initial > MAX_CLIENTS) {
      throw new RangeError(`pingers must be 1..${MAX_CLIENTS}, got ${this.#initial}`);
    }
    this.#lossRate = clamp(opts.lossRate ?? 0.1, 0, 1);
    this.#delayMs = clamp(opts.delayMs ?? 20, 0, MAX_SCENE_DELAY_MS);
    this.#intervalMs = opts.intervalMs ?? 200;
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#maxLogLines = opts.maxLogLines ?? 200;
    this.#statsIntervalMs = opts.statsIntervalMs ?? 500;
    this.#echo = {
      host: this.#host,
      port: 0,
      status: "starting",
      lossRate: this.#lossRate,
      delayMs: this.#delayMs,
      datagrams: 0,
      dropped: 0,
      datagramsPerSecond: 0,
      log: [],
    };
    this.#store = new SnapshotStore<UdpSnapshot>({ scene: "udp", server: this.#echo, clients: [] });
  }

  /** Starts the echo server, then the pingers. */
  async start(): Promise<{ host: string; port: number }> {
    await this.#listen();
    this.#statsTimer = setInterval(() => this.#refreshStats(), this.#statsIntervalMs);
    this.#statsTimer.unref();
    for (let i = 0; i < this.#initial; i++) this.#startPinger(this.#newSlot());
    return { host: this.#host, port: this.#port };
  }

  getSnapshot = (): UdpSnapshot => this.#store.getSnapshot();

  subscribe = (listener: () => void): (() => void) => this.#store.subscribe(listener);

  async addPinger(): Promise<number> {
    if (this.#slots.length >= MAX_CLIENTS) {
      this.#echoLine("error", `the demo shows at most ${MAX_CLIENTS} pingers`);
      return this.#slots.length;
    }
    const id = this.#newSlot();
    this.#startPinger(id);
    return id;
  }

  async togglePinger(id: number): Promise<void> {
    const slot = this.#slots[id - 1];
    if (!slot) return;
    const pinger = slot.pinger;
    if (pinger) {
      slot.pinger = undefined;
      pinger.stop();
      await pinger.run().catch(() => {});
      pinger.removeAllListeners();
      this.#update(slot, { state: "stopped" });
      this.#line(slot, "info", "* stopped");
      return;
    }
    this.#startPinger(id);
  }

  restartServer(): Promise<void> {
    this.#restarting ??= this.#restart().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  async setNetwork(change: { lossRate?: number; delayMs?: number }): Promise<void> {
    if (change.lossRate !== undefined) this.#lossRate = round(clamp(change.lossRate, 0, 1), 2);
    if (change.delayMs !== undefined)
      this.#delayMs = Math.round(clamp(change.delayMs, 0, MAX_SCENE_DELAY_MS));
    this.#patchEcho({ lossRate: this.#lossRate, delayMs: this.#delayMs });
    // A restart already under way may have read the old settings: it goes round once more.
    this.#isNetworkChanged = true;
    await this.restartServer();
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (this.#statsTimer) clearInterval(this.#statsTimer);
    await this.#restarting?.catch(() => {});
    const pingers = this.#slots.map((s) => s.pinger).filter((p) => p !== undefined);
    for (const slot of this.#slots) {
      slot.pinger = undefined;
      if (slot.view.state !== "stopped") this.#update(slot, { state: "stopped" });
    }
    for (const p of pingers) p.stop();
    await Promise.all(pingers.map((p) => p.run().catch(() => {})));
    await this.#stopServer();
    this.#patchEcho({ status: "stopped" });
    this.#store.flush();
  }

  async #restart(): Promise<void> {
    // Each round applies the settings as they are when it listens; bounded, as keys are.
    for (let round = 0; round < 100 && !this.#isClosed; round++) {
      this.#isNetworkChanged = false;
      this.#patchEcho({ status: "restarting" });
      this.#echoLine("info", "restarting the echo server");
      await this.#stopServer();
      if (!this.#isClosed) await this.#listen();
      if (!this.#isNetworkChanged) return;
    }
  }

  async #stopServer(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await server.shutdown().catch(() => {});
    await server.serverClose().catch(() => {});
    await this.#serving?.catch(() => {});
    server.removeAllListeners();
  }

  async #listen(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const server = new UdpEchoServer({
        host: this.#host,
        port: this.#port,
        lossRate: this.#lossRate,
        delayMs: this.#delayMs,
      });
      server.on("error", (err: unknown) => this.#echoLine("error", errorText(err)));
      server.on("datagram", (d: EchoDatagram) => {
        if (d.fate.dropped) this.#patchEcho({ dropped: this.#echo.dropped + 1 });
      });
      try {
        await server.listen();
      } catch (err) {
        server.removeAllListeners();
        if (this.#port === 0 || attempt >= 20) {
          this.#patchEcho({ status: "stopped" });
          this.#echoLine("error", errorText(err));
          throw err;
        }
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.#server = server;
      this.#port = server.address.port;
      this.#serving = server.serveForever().catch((err: unknown) => this.#echoLine("error", errorText(err)));
      this.#patchEcho({ status: "listening", port: this.#port, host: server.address.host });
      this.#echoLine(
        "info",
        `listening on udp ${server.address.host}:${this.#port} · loss ${pct(this.#lossRate)} · delay ${this.#delayMs} ms`,
      );
      return;
    }
  }

  #refreshStats(): void {
    const server = this.#server;
    const datagrams = (server?.counters.datagrams ?? 0) + this.#echoBase;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.#last.at) / 1000);
    const rate = Math.max(0, datagrams - this.#last.datagrams) / seconds;
    this.#last = { at: now, datagrams };
    if (rate !== this.#echo.datagramsPerSecond || datagrams !== this.#echo.datagrams) {
      this.#patchEcho({ datagrams, datagramsPerSecond: rate });
    }
  }

  // Counters restart with each server; the pane shows totals since the demo started.
  #echoBase = 0;

  #newSlot(): number {
    const id = this.#slots.length + 1;
    const view: PingerView = {
      id,
      state: "starting",
      transmitted: 0,
      received: 0,
      late: 0,
      duplicates: 0,
      lossPercent: 0,
      rtt: undefined,
      recent: [],
      log: [],
      error: undefined,
    };
    this.#slots.push({ view, pinger: undefined, seq: 0 });
    this.#publish();
    return id;
  }

  #startPinger(id: number): void {
    const slot = this.#slots[id - 1];
    if (!slot || this.#isClosed) return;
    const pinger = new Pinger({
      host: this.#host,
      port: this.#port,
      intervalMs: this.#intervalMs,
      timeoutMs: this.#timeoutMs,
    });
    slot.pinger = pinger;
    this.#update(slot, { state: "starting", error: undefined, recent: [] });
    pinger.on("ready", ({ local }) => {
      if (slot.pinger !== pinger) return;
      this.#update(slot, { state: "running" });
      this.#line(
        slot,
        "info",
        `* pinging ${this.#host}:${this.#port} from ${local} every ${this.#intervalMs} ms`,
      );
    });
    pinger.on("event", (e: PingEvent) => {
      if (slot.pinger !== pinger) return;
      this.#onPing(slot, pinger, e);
    });
    pinger.run().catch((err: unknown) => {
      if (slot.pinger !== pinger) return;
      slot.pinger = undefined;
      this.#update(slot, { state: "stopped", error: errorText(err) });
      this.#line(slot, "error", `! ${errorText(err)}`);
    });
  }

  #onPing(slot: PingerSlot, pinger: Pinger, e: PingEvent): void {
    const s = pinger.summary;
    const patch: Partial<PingerView> = {
      transmitted: s.transmitted,
      received: s.received,
      late: s.late,
      duplicates: s.duplicates,
      lossPercent: s.lossPercent,
      rtt: s.rtt,
    };
    if (e.type === "reply" && !e.late && !e.duplicate) {
      patch.recent = [...slot.view.recent, e.rttMs].slice(-RTT_HISTORY);
      this.#update(slot, patch);
      this.#line(slot, "chat", `seq=${e.seq} ${e.rttMs.toFixed(1)} ms`);
    } else if (e.type === "reply") {
      this.#update(slot, patch);
      this.#line(slot, "info", `seq=${e.seq} ${e.rttMs.toFixed(1)} ms (${e.late ? "late" : "duplicate"})`);
    } else if (e.type === "timeout") {
      patch.recent = [...slot.view.recent, null].slice(-RTT_HISTORY);
      this.#update(slot, patch);
      this.#line(slot, "error", `seq=${e.seq} timeout`);
    } else if (e.type === "unreachable") {
      this.#update(slot, patch);
      this.#line(slot, "error", `! ${e.error.message}`);
    } else {
      this.#update(slot, patch);
    }
  }

  #line(slot: PingerSlot, kind: LineKind, text: string): void {
    const log = [...slot.view.log, { seq: ++slot.seq, at: Date.now(), kind, text }].slice(-this.#maxLogLines);
    this.#update(slot, { log });
  }

  #echoLine(kind: LineKind, text: string): void {
    const line: LogLine = { seq: ++this.#echoSeq, at: Date.now(), kind, text };
    this.#patchEcho({ log: [...this.#echo.log, line].slice(-this.#maxLogLines) });
  }

  #update(slot: PingerSlot, patch: Partial<PingerView>): void {
    slot.view = { ...slot.view, ...patch };
    this.#publish();
  }

  #patchEcho(patch: Partial<EchoView>): void {
    // Keep the total across restarts: a new server counts from zero.
    if (patch.status === "restarting" && this.#server) this.#echoBase += this.#server.counters.datagrams;
    this.#echo = { ...this.#echo, ...patch };
    this.#store.patch({ server: this.#echo });
  }

  #publish(): void {
    this.#store.patch({ clients: this.#slots.map((s) => s.view) });
  }
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A rate as a percentage: `10%`, `2.5%`. */
export function pct(rate: number): string {
  return `${round(rate * 100, 1)}%`;
}
