/**
 * The state the demo shows, as plain immutable data. The lab controller produces a new
 * {@link LabSnapshot} on every change; components only read it, so they can be tested with a
 * hand-written snapshot and no sockets.
 */

import type { ClientState, PeerSnapshot, WireChunk } from "@netlab/chat";

// The chat library's own types, as the lab shows them (type-only: nothing of the library loads).
export type { ClientState, WireChunk };

/** How a transcript line is shown: chat text, lab notices, warnings, errors, or what the person typed. */
export type LineKind = "chat" | "info" | "warn" | "error" | "self";

/** One line of a client's transcript or of the server's event log. */
export interface LogLine {
  /** Increasing per pane, so a line keeps its identity when old ones are trimmed. */
  seq: number;
  /** `Date.now()` when it happened. */
  at: number;
  kind: LineKind;
  text: string;
}

/** One client pane. */
export interface ClientView {
  /** 1-based, stable for the life of the demo: "client 2" in keys, scripts and titles. */
  id: number;
  /** The nick the server knows, or the one asked for until the server answers. */
  nick: string;
  room: string | undefined;
  state: ClientState;
  /** The last connection error while not connected, one line. */
  error: string | undefined;
  transcript: readonly LogLine[];
  /** Reads and writes, oldest first; current only for the client being watched (`watchWire`). */
  wire: readonly WireChunk[];
  /** Bytes sent and received over this client's socket, over every connection it made; as current as `wire`. */
  bytesIn: number;
  bytesOut: number;
  /** Cluster scene: the node this client is connected to (`a`, `b`). */
  node?: string;
}

/** One node of the cluster scene. */
export interface ClusterNodeView {
  id: string;
  host: string;
  port: number;
}

/** One connected peer as the server sees it: `@netlab/chat`'s peer, less the time it connected. */
export type PeerView = Omit<PeerSnapshot, "connectedAt">;

/** The server's lifecycle as the demo drives it. */
export type ServerStatus = "starting" | "listening" | "restarting" | "stopped";

/** The server pane. */
export interface ServerView {
  host: string;
  /** The warning the address bound earned (others can reach it); see SceneServerView. */
  exposure?: string;
  /** 0 until the first listen. */
  port: number;
  status: ServerStatus;
  peers: readonly PeerView[];
  log: readonly LogLine[];
  /** Chat messages relayed per second, over the last stats interval. */
  messagesPerSecond: number;
  messagesTotal: number;
  bytesIn: number;
  bytesOut: number;
  /** Cluster scene: the nodes (node a on `port`) and the Redis they meet at (`host:port`). */
  cluster?: { redis: string; nodes: readonly ClusterNodeView[] };
}

/** Everything on screen in the chat scene. A new object on every change (safe for `useSyncExternalStore`). */
export interface LabSnapshot {
  scene: "chat";
  server: ServerView;
  clients: readonly ClientView[];
}

/** Limits that keep a long-running demo's memory flat. */
export interface LabLimits {
  /** Lines kept per client transcript. Default 500. */
  maxTranscriptLines: number;
  /** Wire chunks kept per client. Default 300. */
  maxWireChunks: number;
  /** Lines kept in the server log. Default 500. */
  maxLogLines: number;
}

/** Defaults for {@link LabLimits}. */
export const LAB_LIMITS: Readonly<LabLimits> = {
  maxTranscriptLines: 500,
  maxWireChunks: 300,
  maxLogLines: 500,
};

/** How many clients the demo shows at most (`--clients`, and "add client"). */
export const MAX_CLIENTS = 6;

/**
 * What the app (and the script player) can ask of the lab. The real implementation is
 * {@link LabController}; tests of components pass a snapshot and record calls.
 */
export interface LabControls {
  /** Types `line` into client `id` as a person would ("hello", "/join #x"). */
  send(id: number, line: string): void;
  /** Adds a client (up to {@link MAX_CLIENTS}) and connects it; resolves with its id. */
  addClient(): Promise<number>;
  /** Closes client `id`'s connection; its pane stays, showing "closed". */
  dropClient(id: number): Promise<void>;
  /** Connects a dropped client again, with the same nick. */
  reconnectClient(id: number): Promise<void>;
  /** Closes the server (clients see the outage) and listens again on the same port. */
  restartServer(): Promise<void>;
  /** Which client's wire view is on screen (undefined: none); the others' bytes cause no frames. */
  watchWire(id: number | undefined): void;
  /** Closes every client and the server. Safe to call twice. */
  close(): Promise<void>;
  subscribe(listener: () => void): () => void;
  getSnapshot(): LabSnapshot;
}
