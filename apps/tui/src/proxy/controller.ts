import net from "node:net";
import { escapeControls, formatHostPort, plural } from "@netlab/core";
import { type ChunkEvent, TcpProxy, type ToxicSpec } from "@netlab/proxy";
import type { LineKind } from "../model.js";
import {
  appendLine,
  errorText,
  SceneController,
  type SceneExposureOptions,
  type SceneSlot,
} from "../scene/controller.js";
import type { LaneView, ProxyControls, ProxySnapshot, SceneToxic } from "./model.js";

/** Options for {@link ProxyLabController}. */
export interface ProxyLabOptions extends SceneExposureOptions {
  /** Where the proxy binds. Default 127.0.0.1; its echo server stays on loopback whatever this says. */
  host?: string;
  /** The proxy's listening port; 0 (the default) picks a free one. */
  port?: number;
  /** Time between the client's bursts, ms. Default 1000. */
  intervalMs?: number;
  /** How often the lanes are redrawn, ms: events are batched, so drawing never slows the data. Default 100 (≤ 10 frames/s). */
  frameMs?: number;
  /** Lines kept per lane column. Default 200. */
  maxLogLines?: number;
  /** Events kept between two frames; more are counted, not shown. Default 500. */
  maxPendingEvents?: number;
}

/** What each key switches on: toxiproxy's toxics with values a person can watch. */
export const SCENE_TOXICS: Readonly<Record<SceneToxic, ToxicSpec[]>> = {
  latency: [
    { name: "latency_up", type: "latency", stream: "upstream", attributes: { latency: 300 } },
    { name: "latency_down", type: "latency", stream: "downstream", attributes: { latency: 300 } },
  ],
  slicer: [
    { name: "slicer_up", type: "slicer", stream: "upstream", attributes: { average_size: 5, delay: 40_000 } },
    {
      name: "slicer_down",
      type: "slicer",
      stream: "downstream",
      attributes: { average_size: 5, delay: 40_000 },
    },
  ],
  bandwidth: [
    { name: "bandwidth_down", type: "bandwidth", stream: "downstream", attributes: { rate: 0.05 } },
  ],
  timeout: [{ name: "timeout_up", type: "timeout", stream: "upstream", attributes: { timeout: 0 } }],
  reset_peer: [
    { name: "reset_peer_down", type: "reset_peer", stream: "downstream", attributes: { timeout: 0 } },
  ],
};

/** What the client writes in one turn: two lines, which the kernel usually carries as one chunk. */
const BURST = (n: number) => [`hello ${n}\n`, `how are you?\n`];

type Event = { lane: 1 | 2; column: "chunks" | "reads"; kind: LineKind; text: string; bytes?: number };

interface LaneSlot extends SceneSlot<LaneView> {
  readsSeq: number;
}

/**
 * The proxy scene: an echo server, a {@link TcpProxy} in front of it and a client writing a burst
 * of two lines every second through it, all in this process over real sockets. Two lanes show
 * each chunk the proxy let through (size, arrival, time held, toxics) and, beside it, what the
 * receiver's reads returned, so coalescing and slicing show. Events are batched into one snapshot
 * per frame (≤ 10 a second), so drawing never slows the data path.
 */
export class ProxyLabController extends SceneController<ProxySnapshot, LaneSlot> implements ProxyControls {
  readonly #intervalMs: number;
  readonly #frameMs: number;
  readonly #maxPending: number;
  readonly #startedAt = performance.now();
  #echo: net.Server | undefined;
  #proxy: TcpProxy | undefined;
  #client: net.Socket | undefined;
  #burstTimer: NodeJS.Timeout | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #burst = 0;
  #pending: Event[] = [];
  /** The echo server's loopback, in the proxy's family: ::1 beside an IPv6 proxy. */
  get #upstreamHost(): string {
    return net.isIPv6(this.host) ? "::1" : "127.0.0.1";
  }
  #skipped = 0;
  readonly #on = new Set<SceneToxic>();

  constructor(opts: ProxyLabOptions = {}) {
    const server = { upstreamPort: 0, toxics: [], connections: 0 };
    super("proxy", server, {
      host: opts.host,
      port: opts.port,
      exposure: opts.exposure,
      clients: 2,
      what: "lanes",
      maxLogLines: opts.maxLogLines ?? 200,
    });
    this.#intervalMs = opts.intervalMs ?? 1000;
    this.#frameMs = opts.frameMs ?? 100;
    this.#maxPending = opts.maxPendingEvents ?? 500;
  }

  /** Starts the echo server, the proxy and the client. */
  async start(): Promise<{ host: string; port: number }> {
    for (const [id, direction] of [
      [1, "upstream"],
      [2, "downstream"],
    ] as const) {
      this.addSlot({ view: { id, direction, chunks: [], reads: [], bytes: 0 }, seq: 0, readsSeq: 0 });
    }
    const echo = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
      s.on("error", () => {});
      s.on("data", (d: Buffer) => this.#read(1, d));
      s.pipe(s);
    });
    await new Promise<void>((resolve, reject) => {
      echo.once("error", reject);
      // Only the proxy is the scene's to show others; its echo server has no reason to be reachable.
      echo.listen(0, this.#upstreamHost, () => resolve());
    });
    this.#echo = echo;
    this.patchServer({ upstreamPort: (echo.address() as net.AddressInfo).port });
    await this.#listen();
    this.every(this.#frameMs, () => this.#flush());
    this.#connect();
    return { host: this.host, port: this.server.port };
  }

  async toggleToxic(toxic: SceneToxic): Promise<void> {
    const proxy = this.#proxy;
    if (!proxy || this.isClosed) return;
    const isOn = this.#on.has(toxic);
    for (const spec of SCENE_TOXICS[toxic]) {
      const name = spec.name as string;
      if (isOn && proxy.toxics.has(name)) proxy.toxics.remove(name);
      if (!isOn && !proxy.toxics.has(name)) proxy.toxics.add(spec);
    }
    if (isOn) this.#on.delete(toxic);
    else this.#on.add(toxic);
    this.patchServer({ toxics: [...this.#on] });
    this.serverLine(
      "info",
      `${toxic} ${isOn ? "off" : `on: ${SCENE_TOXICS[toxic].map(describeSpec).join("; ")}`}`,
    );
  }

  protected async restart(): Promise<void> {
    this.patchServer({ status: "restarting" });
    this.serverLine("info", "restarting the proxy (connections are reset)");
    await this.#proxy?.close();
    this.#proxy = undefined;
    if (!this.isClosed) await this.#listen();
  }

  protected async stop(): Promise<void> {
    clearTimeout(this.#burstTimer);
    clearTimeout(this.#reconnectTimer);
    this.#client?.destroy();
    await this.#proxy?.close();
    const echo = this.#echo;
    if (echo) await new Promise<void>((resolve) => echo.close(() => resolve()));
    this.#flush();
  }

  async #listen(): Promise<void> {
    const toxics = this.#proxy?.toxics;
    const { server } = await this.listenWithRetries(() => {
      const proxy = new TcpProxy({
        listen: formatHostPort(this.host, this.server.port),
        upstream: formatHostPort(this.#upstreamHost, this.server.upstreamPort),
        seed: 1,
        toxics,
        onChunk: (e) => this.#onChunk(e),
      });
      return proxy;
    });
    this.#proxy = server;
    const port = Number(server.listenAddress.split(":").pop());
    this.patchServer({ status: "listening", port });
    this.serverLine("info", `proxying ${server.listenAddress} → ${server.upstreamAddress} (echo)`);
    this.noteExposure(server.boundHost ?? this.host);
  }

  #connect(): void {
    if (this.isClosed) return;
    const socket = net.connect({ host: this.host, port: this.server.port, noDelay: true });
    this.#client = socket;
    socket.on("connect", () => {
      this.patchServer({ connections: this.server.connections + 1 });
      this.#sendBurst(socket);
    });
    socket.on("data", (d: Buffer) => this.#read(2, d));
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.#queue({
        lane: 2,
        column: "reads",
        kind: "error",
        text: `${this.#clock()} ${err.code ?? errorText(err)}`,
      });
    });
    socket.on("close", () => {
      clearTimeout(this.#burstTimer);
      if (this.#client !== socket || this.isClosed) return;
      this.#queue({
        lane: 2,
        column: "reads",
        kind: "info",
        text: `${this.#clock()} closed; reconnecting in 1 s`,
      });
      this.#reconnectTimer = setTimeout(() => this.#connect(), 1000);
    });
  }

  #sendBurst(socket: net.Socket): void {
    if (socket.destroyed || this.isClosed) return;
    const n = ++this.#burst;
    // Two writes in one turn: Node and the kernel usually join them, which is the point to see.
    for (const line of BURST(n)) socket.write(line);
    this.#queue({ lane: 1, column: "reads", kind: "self", text: `${this.#clock()} client wrote 2 lines` });
    this.#burstTimer = setTimeout(() => this.#sendBurst(socket), this.#intervalMs);
  }

  #onChunk(e: ChunkEvent): void {
    const held = e.leftAt - e.arrivedAt;
    const toxics = e.toxics.length > 0 ? `  [${e.toxics.join(", ")}]` : "";
    this.#queue({
      lane: e.direction === "upstream" ? 1 : 2,
      column: "chunks",
      kind: "info",
      text: `${this.#clock(e.arrivedAt)} ${e.bytes} B held ${held.toFixed(1)} ms${toxics}`,
      bytes: e.bytes,
    });
  }

  #read(lane: 1 | 2, d: Buffer): void {
    this.#queue({ lane, column: "reads", kind: "chat", text: `${this.#clock()} ${describeRead(d)}` });
  }

  /** Bounded between frames: a flood of slices is counted, and the newest shown. */
  #queue(event: Event): void {
    if (this.#pending.length >= this.#maxPending) {
      this.#pending.shift();
      this.#skipped++;
    }
    this.#pending.push(event);
  }

  #flush(): void {
    if (this.#pending.length === 0 && this.#skipped === 0) return;
    const events = this.#pending;
    this.#pending = [];
    if (this.#skipped > 0)
      this.serverLine("info", `${plural(this.#skipped, "event")} not shown (more than fit a frame)`);
    this.#skipped = 0;
    for (const slot of this.slots) {
      let { chunks, reads, bytes } = slot.view;
      for (const e of events) {
        if (e.lane !== slot.view.id) continue;
        if (e.column === "chunks") {
          chunks = appendLine(chunks, ++slot.seq, e.kind, e.text, this.maxLogLines);
          bytes += e.bytes ?? 0;
        } else {
          reads = appendLine(reads, ++slot.readsSeq, e.kind, e.text, this.maxLogLines);
        }
      }
      if (chunks !== slot.view.chunks || reads !== slot.view.reads)
        this.updateSlot(slot, { chunks, reads, bytes });
    }
  }

  /** Seconds since the scene started, to the ms: `12.345s`. */
  #clock(at = performance.now()): string {
    return `${((at - this.#startedAt) / 1000).toFixed(3)}s`;
  }
}

function describeRead(d: Buffer): string {
  // Newlines as \n, so a read's line boundaries show; every other control byte escaped.
  const text = escapeControls(d.subarray(0, 24).toString("utf8").replaceAll("\n", "\\n"));
  return `read ${d.length} B "${text}${d.length > 24 ? "…" : ""}"`;
}

function describeSpec(spec: ToxicSpec): string {
  const attrs = Object.entries(spec.attributes ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
  return `${spec.type} ${attrs} ${spec.stream}`;
}
