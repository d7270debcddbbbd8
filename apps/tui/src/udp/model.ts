import type { LogLine } from "../model.js";

/** How many recent probe results a pinger pane keeps for its RTT strip. */
export const RTT_HISTORY = 120;

/** One probe's outcome: its RTT in ms, or `null` when it timed out. */
export type ProbeResult = number | null;

/** One pinger pane. */
export interface PingerView {
  /** 1-based, stable: "pinger 2". */
  id: number;
  state: "starting" | "running" | "stopped";
  /** Probes sent, replies on time, late replies, duplicates. */
  transmitted: number;
  received: number;
  late: number;
  duplicates: number;
  lossPercent: number;
  rtt: { minMs: number; avgMs: number; maxMs: number; mdevMs: number } | undefined;
  /** Newest last, at most {@link RTT_HISTORY}. */
  recent: readonly ProbeResult[];
  log: readonly LogLine[];
  error: string | undefined;
}

/** The echo server pane. */
export interface EchoView {
  host: string;
  port: number;
  status: "starting" | "listening" | "restarting" | "stopped";
  /** Chance a datagram is dropped, 0..1. */
  lossRate: number;
  /** Delay added to every echo, ms. */
  delayMs: number;
  datagrams: number;
  dropped: number;
  /** Datagrams echoed per second over the last stats interval. */
  datagramsPerSecond: number;
  log: readonly LogLine[];
  /** The warning the address bound earned (others can reach it): logged, and flagged in the title line. */
  exposure?: string;
}

/** Everything on screen in the UDP scene. */
export interface UdpSnapshot {
  scene: "udp";
  server: EchoView;
  clients: readonly PingerView[];
}

/** What the UDP scene's app can ask of its lab. */
export interface UdpControls {
  /** Adds a pinger (up to 6) and starts it; resolves with its id. */
  addPinger(): Promise<number>;
  /** Stops pinger `id`, or starts it again (fresh counters) when it is stopped. */
  togglePinger(id: number): Promise<void>;
  /** Restarts the echo server on the same port with the current settings. */
  restartServer(): Promise<void>;
  /** Changes the emulated network (the server restarts with it); values are clamped to sane ranges. */
  setNetwork(change: { lossRate?: number; delayMs?: number }): Promise<void>;
  close(): Promise<void>;
  subscribe(listener: () => void): () => void;
  getSnapshot(): UdpSnapshot;
}
