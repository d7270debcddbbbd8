import { formatHostPort } from "@netlab/core";
import { type EchoDatagram, type PingEvent, Pinger, UdpEchoServer } from "@netlab/udp";
import type { LineKind } from "../model.js";
import {
  appendLine,
  errorText,
  SceneController,
  type SceneExposureOptions,
  type SceneSlot,
} from "../scene/controller.js";
import { type PingerView, RTT_HISTORY, type UdpControls, type UdpSnapshot } from "./model.js";

/** Options for {@link UdpLabController}. */
export interface UdpLabOptions extends SceneExposureOptions {
  /** Pingers to start with, 1..6. Default 3. */
  pingers?: number;
  /** Where the echo server binds. Default 127.0.0.1. */
  host?: string;
  /** The echo server's port; 0 (the default) picks a free one. */
  port?: number;
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

interface PingerSlot extends SceneSlot<PingerView> {
  pinger: Pinger | undefined;
}

/**
 * The UDP scene: a `UdpEchoServer` (with a network emulator: loss, delay) and N `Pinger`s sending
 * probes to it over real UDP sockets on localhost, published as an immutable {@link UdpSnapshot}.
 * Changing the network restarts the server on the same port; pingers ride through the gap.
 * @example const lab = new UdpLabController({ pingers: 2, lossRate: 0.2 }); await lab.start();
 */
export class UdpLabController extends SceneController<UdpSnapshot, PingerSlot> implements UdpControls {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #statsIntervalMs: number;
  #lossRate: number;
  #delayMs: number;
  #server: UdpEchoServer | undefined;
  #serving: Promise<void> | undefined;
  #last = { at: 0, datagrams: 0 };
  /** Datagrams echoed by servers before the current one: the pane shows totals since the start. */
  #echoedBefore = 0;
  #isNetworkChanged = false;

  constructor(opts: UdpLabOptions = {}) {
    const lossRate = clamp(opts.lossRate ?? 0.1, 0, 1);
    const delayMs = clamp(opts.delayMs ?? 20, 0, MAX_SCENE_DELAY_MS);
    const server = { lossRate, delayMs, datagrams: 0, dropped: 0, datagramsPerSecond: 0 };
    const limits = { clients: opts.pingers, what: "pingers", maxLogLines: opts.maxLogLines ?? 200 };
    super("udp", server, { host: opts.host, port: opts.port, exposure: opts.exposure, ...limits });
    this.#lossRate = lossRate;
    this.#delayMs = delayMs;
    this.#intervalMs = opts.intervalMs ?? 200;
    this.#timeoutMs = opts.timeoutMs ?? 1000;
    this.#statsIntervalMs = opts.statsIntervalMs ?? 500;
  }

  /** Starts the echo server, then the pingers. */
  async start(): Promise<{ host: string; port: number }> {
    await this.#listen();
    this.every(this.#statsIntervalMs, () => this.#refreshStats());
    for (let i = 0; i < this.initialClients; i++) this.#startPinger(this.#newSlot());
    return { host: this.host, port: this.server.port };
  }

  async addPinger(): Promise<number> {
    if (!this.hasRoomFor("pingers")) return this.slots.length;
    const id = this.#newSlot();
    this.#startPinger(id);
    return id;
  }

  async togglePinger(id: number): Promise<void> {
    const slot = this.slots[id - 1];
    if (!slot) return;
    const pinger = slot.pinger;
    if (pinger) {
      slot.pinger = undefined;
      pinger.stop();
      await pinger.run().catch(() => {});
      pinger.removeAllListeners();
      this.updateSlot(slot, { state: "stopped" });
      this.#line(slot, "info", "* stopped");
      return;
    }
    this.#startPinger(id);
  }

  async setNetwork(change: { lossRate?: number; delayMs?: number }): Promise<void> {
    if (change.lossRate !== undefined) this.#lossRate = round(clamp(change.lossRate, 0, 1), 2);
    if (change.delayMs !== undefined)
      this.#delayMs = Math.round(clamp(change.delayMs, 0, MAX_SCENE_DELAY_MS));
    this.patchServer({ lossRate: this.#lossRate, delayMs: this.#delayMs });
    // A restart already under way may have read the old settings: it goes round once more.
    this.#isNetworkChanged = true;
    await this.restartServer();
  }

  protected async stop(): Promise<void> {
    const pingers = this.slots.map((s) => s.pinger).filter((p) => p !== undefined);
    for (const slot of this.slots) {
      slot.pinger = undefined;
      if (slot.view.state !== "stopped") this.updateSlot(slot, { state: "stopped" });
    }
    for (const p of pingers) p.stop();
    await Promise.all(pingers.map((p) => p.run().catch(() => {})));
    await this.#stopServer();
  }

  protected async restart(): Promise<void> {
    // Each round applies the settings as they are when it listens; bounded, as keys are.
    for (let round = 0; round < 100 && !this.isClosed; round++) {
      this.#isNetworkChanged = false;
      if (this.#server) this.#echoedBefore += this.#server.counters.datagrams;
      this.patchServer({ status: "restarting" });
      this.serverLine("info", "restarting the echo server");
      await this.#stopServer();
      if (!this.isClosed) await this.#listen();
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
    const { server } = await this.listenWithRetries(() => {
      const server = new UdpEchoServer({
        host: this.host,
        port: this.server.port,
        lossRate: this.#lossRate,
        delayMs: this.#delayMs,
      });
      server.on("error", (err: unknown) => this.serverLine("error", errorText(err)));
      server.on("datagram", (d: EchoDatagram) => {
        if (d.fate.dropped) this.patchServer({ dropped: this.server.dropped + 1 });
      });
      return server;
    });
    this.#server = server;
    const { host, port } = server.address;
    this.#serving = server.serveForever().catch((err: unknown) => this.serverLine("error", errorText(err)));
    this.patchServer({ status: "listening", port, host });
    this.serverLine(
      "info",
      `listening on udp ${formatHostPort(host, port)} · loss ${pct(this.#lossRate)} · delay ${this.#delayMs} ms`,
    );
    this.noteExposure(host);
  }

  #refreshStats(): void {
    const datagrams = (this.#server?.counters.datagrams ?? 0) + this.#echoedBefore;
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.#last.at) / 1000);
    const rate = Math.max(0, datagrams - this.#last.datagrams) / seconds;
    this.#last = { at: now, datagrams };
    if (rate !== this.server.datagramsPerSecond || datagrams !== this.server.datagrams) {
      this.patchServer({ datagrams, datagramsPerSecond: rate });
    }
  }

  #newSlot(): number {
    const view: PingerView = {
      id: this.slots.length + 1,
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
    return this.addSlot({ view, pinger: undefined, seq: 0 });
  }

  #startPinger(id: number): void {
    const slot = this.slots[id - 1];
    if (!slot || this.isClosed) return;
    const port = this.server.port;
    const pinger = new Pinger({
      host: this.host,
      port,
      intervalMs: this.#intervalMs,
      timeoutMs: this.#timeoutMs,
    });
    slot.pinger = pinger;
    this.updateSlot(slot, { state: "starting", error: undefined, recent: [] });
    pinger.on("ready", ({ local }) => {
      if (slot.pinger !== pinger) return;
      this.updateSlot(slot, { state: "running" });
      this.#line(
        slot,
        "info",
        `* pinging ${formatHostPort(this.host, port)} from ${local} every ${this.#intervalMs} ms`,
      );
    });
    pinger.on("event", (e: PingEvent) => {
      if (slot.pinger !== pinger) return;
      this.#onPing(slot, pinger, e);
    });
    pinger.run().catch((err: unknown) => {
      if (slot.pinger !== pinger) return;
      slot.pinger = undefined;
      this.updateSlot(slot, { state: "stopped", error: errorText(err) });
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
      this.updateSlot(slot, patch);
      this.#line(slot, "chat", `seq=${e.seq} ${e.rttMs.toFixed(1)} ms`);
    } else if (e.type === "reply") {
      this.updateSlot(slot, patch);
      this.#line(slot, "info", `seq=${e.seq} ${e.rttMs.toFixed(1)} ms (${e.late ? "late" : "duplicate"})`);
    } else if (e.type === "timeout") {
      patch.recent = [...slot.view.recent, null].slice(-RTT_HISTORY);
      this.updateSlot(slot, patch);
      this.#line(slot, "error", `seq=${e.seq} timeout`);
    } else if (e.type === "unreachable") {
      this.updateSlot(slot, patch);
      this.#line(slot, "error", `! ${e.error.message}`);
    } else {
      this.updateSlot(slot, patch);
    }
  }

  #line(slot: PingerSlot, kind: LineKind, text: string): void {
    this.updateSlot(slot, { log: appendLine(slot.view.log, ++slot.seq, kind, text, this.maxLogLines) });
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
