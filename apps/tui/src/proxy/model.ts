import type { LogLine } from "../model.js";
import type { SceneServerView } from "../scene/controller.js";

/** The toxics the scene's keys switch on and off. */
export type SceneToxic = "latency" | "slicer" | "bandwidth" | "timeout" | "reset_peer";

/** One lane: the chunks the proxy let through one way, and beside them what the receiver's reads returned. */
export interface LaneView {
  /** 1: client → server (upstream); 2: server → client (downstream). */
  id: 1 | 2;
  direction: "upstream" | "downstream";
  /** Per chunk out of the proxy: size, when it arrived and left, the toxics that touched it. */
  chunks: readonly LogLine[];
  /** Per read on the receiving side: its size and its first bytes, escaped. */
  reads: readonly LogLine[];
  bytes: number;
}

/** The proxy pane. */
export interface ProxyView extends SceneServerView {
  /** The echo server behind the proxy. */
  upstreamPort: number;
  /** The toxics on now. */
  toxics: readonly SceneToxic[];
  /** Connections the client has made (it reconnects after a reset or close). */
  connections: number;
}

/** Everything on screen in the proxy scene. */
export interface ProxySnapshot {
  scene: "proxy";
  server: ProxyView;
  clients: readonly LaneView[];
}

/** What the proxy scene's app can ask of its lab. */
export interface ProxyControls {
  /** Switches a toxic on or off for every connection, live. */
  toggleToxic(toxic: SceneToxic): Promise<void>;
  restartServer(): Promise<void>;
  close(): Promise<void>;
  subscribe(listener: () => void): () => void;
  getSnapshot(): ProxySnapshot;
}
