import type { EventEmitter } from "node:events";
import type { PeerSnapshot } from "@netlab/chat";
import { escapeControls, formatHostPort, formatPeer } from "@netlab/core";
import {
  type ClientState,
  type ClientView,
  type ClusterNodeView,
  LAB_LIMITS,
  type LabControls,
  type LabLimits,
  type LabSnapshot,
  type LineKind,
  type PeerView,
  type WireChunk,
} from "./model.js";
import {
  appendLine,
  errorText,
  SceneController,
  type SceneExposureOptions,
  type SceneSlot,
} from "./scene/controller.js";

export type { ClusterNodeView };
export { errorText };

/** The parts of `@netlab/chat`'s `ChatClient` the lab uses (see docs/demo.md). */
export interface LabChatClient extends EventEmitter {
  connect(): Promise<void>;
  send(input: string): void;
  close(): Promise<void>;
  readonly state: ClientState;
  readonly nick: string | undefined;
  readonly room: string | undefined;
}

/** The parts of `@netlab/chat`'s `ChatServer` the lab uses. */
export interface LabChatServer extends EventEmitter {
  listen(): Promise<{ host: string; port: number }>;
  close(): Promise<void>;
  peers(): PeerSnapshot[];
  stats(): { clients: number; messagesTotal: number; bytesIn: number; bytesOut: number };
  /** Cluster scene: the nodes this server stands for and the Redis they meet at. */
  cluster?(): { redis: string; nodes: ClusterNodeView[] };
}

/** How the controller makes servers and clients: `@netlab/chat` in the shipped demo. */
export interface ChatFactory {
  createServer(opts: { host: string; port: number }): LabChatServer;
  /** `id` is the client's pane (1-based); the cluster scene spreads clients over its nodes by it. */
  createClient(opts: {
    host: string;
    port: number;
    nick: string;
    reconnect: boolean;
    id?: number;
  }): LabChatClient;
  /**
   * One line for a chat event, as `lab client` shows it on a terminal (control characters from the
   * network escaped, a message on one line); `self` is our nick.
   */
  formatEvent(event: unknown, self?: string): string;
  /** Cluster scene: the node `client` was sent to. */
  nodeOf?(client: LabChatClient): ClusterNodeView | undefined;
}

/** Options for {@link LabController}. */
export interface LabControllerOptions extends Partial<LabLimits>, SceneExposureOptions {
  /** Clients to start with, 1..6. Default 3. */
  clients?: number;
  /** Where the server listens. Default 127.0.0.1. */
  host?: string;
  /** Port to listen on; 0 (the default) picks a free one, which restarts then reuse. */
  port?: number;
  /** How often peers and message rates are refreshed, in ms. Default 500. */
  statsIntervalMs?: number;
  /** Tries to listen again when a restart finds the port still busy. Default 20 (every 50 ms). */
  listenRetries?: number;
}

/** Nicks handed to clients in order; a seventh would never be needed (MAX_CLIENTS is 6). */
export const NICKS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"] as const;

interface ClientSlot extends SceneSlot<ClientView> {
  client: LabChatClient | undefined;
  /** Set once this slot has been connected, so a later "connected" reads "reconnected". */
  wasConnected: boolean;
  /** Reads and writes so far (bounded); copied into the view when published. */
  wire: WireChunk[];
  bytesIn: number;
  bytesOut: number;
}

/**
 * Runs the chat scene: one chat server and N clients over real TCP sockets on localhost, and a
 * {@link LabSnapshot} of it all that changes as events arrive. Notifications are batched to one per
 * tick, so a burst of events costs one render.
 * @example const lab = new LabController(chatFactory, { clients: 3 }); await lab.start(); lab.send(1, "hi");
 */
export class LabController extends SceneController<LabSnapshot, ClientSlot> implements LabControls {
  readonly #factory: ChatFactory;
  readonly #limits: LabLimits;
  readonly #statsIntervalMs: number;
  #server: LabChatServer | undefined;
  #lastStats = { at: 0, messagesTotal: 0 };
  #watchedWire: number | undefined;

  constructor(factory: ChatFactory, opts: LabControllerOptions = {}) {
    const limits: LabLimits = {
      maxTranscriptLines: opts.maxTranscriptLines ?? LAB_LIMITS.maxTranscriptLines,
      maxWireChunks: opts.maxWireChunks ?? LAB_LIMITS.maxWireChunks,
      maxLogLines: opts.maxLogLines ?? LAB_LIMITS.maxLogLines,
    };
    const server = { peers: [], messagesPerSecond: 0, messagesTotal: 0, bytesIn: 0, bytesOut: 0 };
    super("chat", server, { ...opts, what: "clients", maxLogLines: limits.maxLogLines });
    this.#factory = factory;
    this.#limits = limits;
    this.#statsIntervalMs = opts.statsIntervalMs ?? 500;
  }

  /** Starts the server, then connects the initial clients; resolves once each has tried once. */
  async start(): Promise<{ host: string; port: number }> {
    const address = await this.#listen();
    this.every(this.#statsIntervalMs, () => this.#refreshStats());
    const ids: number[] = [];
    for (let i = 0; i < this.initialClients; i++) ids.push(this.#newSlot());
    await Promise.all(ids.map((id) => this.#connect(id)));
    return address;
  }

  /** The address the server listens on (port 0 until started). */
  get address(): { host: string; port: number } {
    return { host: this.host, port: this.server.port };
  }

  send(id: number, line: string): void {
    const slot = this.#slot(id);
    if (!slot.client) {
      this.#clientLine(slot, "error", "! not connected: ^D (or `reconnect client N`) connects again");
      return;
    }
    // /quit leaves for good, as in `lab client`; left to the library it would reconnect.
    if (/^\/quit\b/i.test(line.trim())) {
      void this.dropClient(id);
      return;
    }
    try {
      slot.client.send(line);
    } catch (err) {
      this.#clientLine(slot, "error", errorText(err));
    }
  }

  async addClient(): Promise<number> {
    if (!this.hasRoomFor("clients")) return this.slots.length;
    const id = this.#newSlot();
    await this.#connect(id);
    return id;
  }

  async dropClient(id: number): Promise<void> {
    const slot = this.#slot(id);
    const client = slot.client;
    if (!client) return;
    slot.client = undefined;
    this.#clientLine(slot, "info", "* dropping the connection");
    await client.close().catch(() => {});
    this.updateSlot(slot, { state: "closed" });
    client.removeAllListeners();
  }

  async reconnectClient(id: number): Promise<void> {
    const slot = this.#slot(id);
    if (slot.client) return;
    await this.#connect(id);
  }

  protected async stop(): Promise<void> {
    const clients = this.slots.map((s) => s.client).filter((c) => c !== undefined);
    for (const slot of this.slots) slot.client = undefined;
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    for (const c of clients) c.removeAllListeners();
    for (const slot of this.slots) {
      if (slot.view.state !== "closed") this.updateSlot(slot, { state: "closed" });
    }
    await this.#closeServer(() => {});
    this.patchServer({ peers: [] });
  }

  protected async restart(): Promise<void> {
    this.patchServer({ status: "restarting" });
    this.serverLine("info", "restarting: closing every connection");
    await this.#closeServer((err) => this.serverLine("error", errorText(err)));
    this.patchServer({ peers: [] });
    if (this.isClosed) return;
    await this.#listen();
  }

  async #closeServer(onError: (err: unknown) => void): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await server.close().catch(onError);
    server.removeAllListeners();
  }

  async #listen(): Promise<{ host: string; port: number }> {
    const { server, listened } = await this.listenWithRetries(() => {
      const server = this.#factory.createServer({ host: this.host, port: this.server.port });
      this.#watchServer(server);
      return server;
    });
    if (this.isClosed) {
      await server.close().catch(() => {});
      return this.address;
    }
    this.#server = server;
    const { host, port } = listened;
    this.#lastStats = { at: Date.now(), messagesTotal: 0 };
    const cluster = server.cluster?.();
    this.patchServer({ status: "listening", host, port, cluster });
    if (cluster) {
      for (const n of cluster.nodes)
        this.serverLine("info", `node ${n.id} listening on ${formatHostPort(n.host, n.port)}`);
      this.serverLine(
        "info",
        `nodes ${cluster.nodes.map((n) => n.id).join(" and ")} joined through Redis at ${cluster.redis}`,
      );
    } else {
      this.serverLine("info", `listening on ${formatHostPort(host, port)}`);
    }
    this.noteExposure(host);
    return { host, port };
  }

  #watchServer(server: LabChatServer): void {
    server.on("connect", (peer: PeerSnapshot) => {
      // `lab server`'s own word, and the address last: in the 80-column log pane the line breaks
      // before the address instead of leaving "connected" alone on a row.
      this.serverLine("info", `+ connect ${formatPeer(peer)}`);
      this.#refreshPeers(server);
    });
    server.on("disconnect", (peer: PeerSnapshot, reason: unknown) => {
      const why = reason === undefined || reason === "" ? "" : ` (${String(reason)})`;
      this.serverLine("info", `- ${peer.nick || `${formatPeer(peer)}`} disconnected${why}`);
      this.#refreshPeers(server);
    });
    server.on("join", (info: unknown) => {
      this.serverLine("info", `${describe(info, "joined")}`);
      this.#refreshPeers(server);
    });
    server.on("leave", (info: unknown) => {
      this.serverLine("info", `${describe(info, "left")}`);
      this.#refreshPeers(server);
    });
    server.on("nick", (info: unknown) => {
      this.serverLine("info", `${describe(info, "renamed")}`);
      this.#refreshPeers(server);
    });
    server.on("message", () => this.#refreshPeers(server));
    // Cluster scene: a node lost or found its link to Redis (one line for people).
    server.on("cluster", (e: { reason?: string }) => this.serverLine("info", String(e?.reason ?? "")));
    server.on("error", (err: unknown, peer?: PeerSnapshot) => {
      const who = peer ? `${peer.nick || `${formatPeer(peer)}`}: ` : "";
      this.serverLine("error", `${who}${errorText(err)}`);
    });
  }

  #refreshPeers(server: LabChatServer): void {
    if (server !== this.#server) return;
    this.patchServer({ peers: server.peers().map(toPeerView) });
  }

  #refreshStats(): void {
    const server = this.#server;
    if (!server) {
      if (this.server.messagesPerSecond !== 0) this.patchServer({ messagesPerSecond: 0 });
      return;
    }
    const stats = server.stats();
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.#lastStats.at) / 1000);
    const delta = Math.max(0, stats.messagesTotal - this.#lastStats.messagesTotal);
    this.#lastStats = { at: now, messagesTotal: stats.messagesTotal };
    const patch = {
      peers: server.peers().map(toPeerView),
      messagesPerSecond: delta / seconds,
      messagesTotal: stats.messagesTotal,
      bytesIn: stats.bytesIn,
      bytesOut: stats.bytesOut,
    };
    // A quiet lab draws no frames: publish only what changed.
    const v = this.server;
    const isSame =
      patch.messagesPerSecond === v.messagesPerSecond &&
      patch.messagesTotal === v.messagesTotal &&
      patch.bytesIn === v.bytesIn &&
      patch.bytesOut === v.bytesOut &&
      JSON.stringify(patch.peers) === JSON.stringify(v.peers);
    if (!isSame) this.patchServer(patch);
  }

  #newSlot(): number {
    const id = this.slots.length + 1;
    const view: ClientView = {
      id,
      nick: NICKS[id - 1] ?? `client${id}`,
      room: undefined,
      state: "connecting",
      error: undefined,
      transcript: [],
      wire: [],
      bytesIn: 0,
      bytesOut: 0,
    };
    return this.addSlot({
      view,
      client: undefined,
      wasConnected: false,
      seq: 0,
      wire: [],
      bytesIn: 0,
      bytesOut: 0,
    });
  }

  async #connect(id: number): Promise<void> {
    const slot = this.#slot(id);
    if (this.isClosed) return;
    const client = this.#factory.createClient({
      host: this.host,
      port: this.server.port,
      nick: slot.view.nick,
      reconnect: true,
      id,
    });
    slot.client = client;
    const node = this.#factory.nodeOf?.(client);
    client.on("event", (event: unknown) => {
      if (slot.client !== client) return;
      const text = this.#factory.formatEvent(event, client.nick);
      const type = (event as { type?: string }).type;
      const from = (event as { from?: string }).from;
      const kind: LineKind =
        type === "error" ? "error" : type === "message" ? (from === client.nick ? "self" : "chat") : "info";
      this.updateSlot(slot, { nick: client.nick ?? slot.view.nick, room: client.room });
      // A replayed message's mark ("[12:03] (history) ") stays first, as lab client shows it; the
      // cluster route follows it, next to the nick.
      const isHistory = (event as { history?: unknown }).history === true;
      const mark = isHistory ? (/^\[[^\]]*\] \(history\) /.exec(text)?.[0] ?? "") : "";
      this.#clientLine(slot, kind, `${mark}${route(event, node)}${text.slice(mark.length)}`);
    });
    client.on("line", (line: string) => {
      if (slot.client === client) this.#clientLine(slot, "chat", line);
    });
    client.on("wire", (chunk: WireChunk) => {
      if (slot.client !== client) return;
      slot.wire.push(chunk);
      if (slot.wire.length > this.#limits.maxWireChunks) slot.wire.shift();
      if (chunk.direction === "in") slot.bytesIn += chunk.bytes.length;
      else slot.bytesOut += chunk.bytes.length;
      // Every read and write would otherwise cost a frame; only the watched client's are shown.
      if (this.#watchedWire === slot.view.id) this.#publishWire(slot);
    });
    client.on("state", (state: ClientState, err?: unknown) => {
      if (slot.client !== client) return;
      this.#onState(slot, client, state, err);
    });
    this.updateSlot(slot, { state: "connecting", error: undefined, node: node?.id });
    const to = node
      ? `node ${node.id} at ${formatHostPort(node.host, node.port)}`
      : formatHostPort(this.host, this.server.port);
    this.#clientLine(slot, "info", `* connecting to ${to}`);
    try {
      await client.connect();
    } catch (err) {
      if (slot.client !== client) return;
      // With reconnect on, the library keeps trying; without, the pane shows why it stopped.
      this.updateSlot(slot, { error: errorText(err) });
      if (client.state === "closed") this.#onState(slot, client, "closed", err);
    }
  }

  #onState(slot: ClientSlot, client: LabChatClient, state: ClientState, err?: unknown): void {
    const prev = slot.view.state;
    const error = err === undefined ? undefined : errorText(err);
    this.updateSlot(slot, {
      state,
      error: state === "connected" ? undefined : (error ?? slot.view.error),
      nick: client.nick ?? slot.view.nick,
      room: client.room,
    });
    if (state === prev && error === undefined) return;
    if (state === "connected") {
      this.#clientLine(slot, "info", slot.wasConnected ? "* reconnected" : "* connected");
      slot.wasConnected = true;
    } else if (state === "reconnecting") {
      this.#clientLine(slot, "error", `* disconnected${error ? `: ${error}` : ""}; reconnecting`);
    } else if (state === "closed") {
      this.#clientLine(slot, error ? "error" : "info", `* closed${error ? `: ${error}` : ""}`);
    }
  }

  /**
   * Which client's wire the screen shows (undefined: none). Wire chunks of the others are kept
   * but do not cause a new snapshot, so the wire view costs nothing while it is hidden.
   */
  watchWire(id: number | undefined): void {
    if (this.#watchedWire === id) return;
    this.#watchedWire = id;
    const slot = id === undefined ? undefined : this.slots[id - 1];
    if (slot) this.#publishWire(slot);
  }

  /** Client `id`'s wire chunks and byte counts as of now, whether watched or not. */
  wireOf(id: number): { wire: readonly WireChunk[]; bytesIn: number; bytesOut: number } {
    const slot = this.#slot(id);
    return { wire: [...slot.wire], bytesIn: slot.bytesIn, bytesOut: slot.bytesOut };
  }

  #publishWire(slot: ClientSlot): void {
    this.updateSlot(slot, { wire: [...slot.wire], bytesIn: slot.bytesIn, bytesOut: slot.bytesOut });
  }

  #slot(id: number): ClientSlot {
    const slot = this.slots[id - 1];
    if (!slot) throw new RangeError(`no client ${id} (there are ${this.slots.length})`);
    return slot;
  }

  #clientLine(slot: ClientSlot, kind: LineKind, text: string): void {
    const max = this.#limits.maxTranscriptLines;
    this.updateSlot(slot, { transcript: appendLine(slot.view.transcript, ++slot.seq, kind, text, max) });
  }
}

function toPeerView(p: PeerSnapshot): PeerView {
  return {
    id: p.id,
    nick: p.nick,
    room: p.room,
    address: p.address,
    port: p.port,
    mode: p.mode,
    bytesIn: p.bytesIn,
    bytesOut: p.bytesOut,
    messagesIn: p.messagesIn,
  };
}

/**
 * Cluster scene: where a message crossed, `a→b ` (entered on node a, delivered by node b, the
 * client's), from the `node` field a cluster message carries; "" for anything else.
 */
function route(event: unknown, node: ClusterNodeView | undefined): string {
  const from = (event as { type?: string; node?: unknown }).node;
  if (node === undefined || (event as { type?: string }).type !== "message" || typeof from !== "string") {
    return "";
  }
  return `${escapeControls(from.slice(0, 32))}→${node.id} `;
}

/** One line for a join/leave/nick payload whatever its exact shape. */
function describe(info: unknown, verb: string): string {
  if (typeof info !== "object" || info === null) return `${String(info)} ${verb}`;
  const o = info as Record<string, unknown>;
  const nick = typeof o.nick === "string" ? o.nick : typeof o.from === "string" ? o.from : "someone";
  if (verb === "renamed" && typeof o.to === "string") return `${o.from ?? nick} is now ${o.to}`;
  if (verb === "renamed" && typeof o.old === "string") return `${o.old} is now ${nick}`;
  const room = typeof o.room === "string" ? ` ${o.room}` : "";
  return `${nick} ${verb}${room}`;
}
