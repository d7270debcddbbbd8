// One connection as the hub sees it: its transport (Link), its state (Session) and its snapshot.
// Link, PeerSnapshot and Session are public (index.ts, via hub.ts); snapshot() is internal.
import type { TokenGrant } from "@netlab/core";
import { FloodControl } from "./flood.js";
import type { HubOptions } from "./options.js";

/**
 * The transport under one chat session: a socket's writer (`wfile.send()` in `@netlab/socketserver`),
 * or anything that can take bytes under a cap.
 */
export interface Link {
  /**
   * Queues bytes; never waits. The link holds its queue under `maxQueuedBytes`: false means these
   * bytes would pass it (the peer stopped reading), nothing was queued and the link cut the
   * connection. A link that cuts later (when its batch leaves) calls `ChatHub.slowConsumer`.
   */
  send(data: Uint8Array): boolean;
  /** Every byte queued for the peer that it has not taken (a batch, and what the kernel refused). */
  readonly bufferedBytes: number;
  /** The cap `send` holds the queue under; the hub sets it to `maxQueueBytes` on attach. */
  maxQueuedBytes: number;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes at once, dropping anything queued. */
  destroy(): void;
  readonly address: string;
  readonly port: number;
  /** Bytes received so far; the idle sweep counts any new ones, a part of a line too, as activity. */
  readonly bytesIn: number;
  /** Aborts when the connection or the server goes away: ends an authentication delay early. */
  readonly signal?: AbortSignal;
}

/** A snapshot of one connected client, for logs and the TUI. */
export interface PeerSnapshot {
  id: number;
  nick: string;
  room: string;
  address: string;
  port: number;
  mode: "text" | "json";
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  /** ms since epoch */
  connectedAt: number;
}

/** A session's cluster-mode state (see the accessors of the same names on Session). */
interface ClusterState {
  inFlight: number;
  lastPublish: Promise<void> | undefined;
  readonly publishes: Promise<void>[];
  resumedTo: string | undefined;
}

/** One connected client. Created by `ChatHub.attach`. */
export class Session {
  readonly id: number;
  readonly link: Link;
  readonly connectedAt = Date.now();
  nick: string;
  room = "";
  mode: "text" | "json" = "text";
  isJoined = false;
  /** What the client's token allows, once accepted; undefined on a server without tokens. */
  grant: TokenGrant | undefined;
  linesIn = 0;
  messagesIn = 0;
  bytesOut = 0;
  /** The output queue as last counted towards the hub's total (see `Outbox` in output.ts). */
  queuedBytes = 0;
  lastActiveAt = Date.now();
  /** `link.bytesIn` at the last idle sweep: a part of a line counts as activity too. */
  bytesInAtSweep = 0;
  /** Why the hub closed this session, when it did. */
  closeReason: string | undefined;
  isClosed = false;
  /**
   * Cluster mode's fields, made on first use: a client on one node, or an idle one, never needs
   * them, and one field costs each session less than four.
   */
  #cluster: ClusterState | undefined;
  readonly #options: HubOptions;
  // Made on the first line: an idle client (most of them, at 5 000) never needs them.
  #flood: FloodControl | undefined;
  #badLines: FloodControl | undefined;

  constructor(id: number, link: Link, o: HubOptions) {
    this.id = id;
    this.link = link;
    this.nick = `guest-${id}`;
    this.#options = o;
  }

  /** Cluster mode: messages published and not yet back from the cluster. */
  get inFlight(): number {
    return this.#cluster?.inFlight ?? 0;
  }
  set inFlight(n: number) {
    this.#clusterState().inFlight = n;
  }

  /** Cluster mode: the last publish's promise. */
  get lastPublish(): Promise<void> | undefined {
    return this.#cluster?.lastPublish;
  }
  set lastPublish(p: Promise<void> | undefined) {
    this.#clusterState().lastPublish = p;
  }

  /**
   * Cluster mode: the last `maxInFlightMessages` publishes, oldest first. A full window waits for
   * its oldest only (they come back in stream order), so the pipeline stays full instead of
   * draining to empty before the client's next line is read.
   */
  get publishes(): Promise<void>[] {
    return this.#clusterState().publishes;
  }

  /**
   * Cluster mode, a client resumed with `hello.since`: the last stream id it was replayed. Events
   * the node's reader delivers up to it were in the replay, so this session skips them (the rest
   * of the room does not); cleared at the first newer one.
   */
  get resumedTo(): string | undefined {
    return this.#cluster?.resumedTo;
  }
  set resumedTo(id: string | undefined) {
    if (id !== undefined || this.#cluster !== undefined) this.#clusterState().resumedTo = id;
  }

  #clusterState(): ClusterState {
    this.#cluster ??= { inFlight: 0, lastPublish: undefined, publishes: [], resumedTo: undefined };
    return this.#cluster;
  }

  /** The message rate limit (`floodMessages` per `floodWindowMs`). */
  get flood(): FloodControl {
    const o = this.#options;
    this.#flood ??= new FloodControl({ floodMessages: o.floodMessages, floodWindowMs: o.floodWindowMs });
    return this.#flood;
  }

  /** Bad lines: disconnects at 2 × maxBadLines/2 = maxBadLines in 10 s. */
  get badLines(): FloodControl {
    this.#badLines ??= new FloodControl({
      floodMessages: Math.max(1, this.#options.maxBadLines / 2),
      floodWindowMs: 10_000,
    });
    return this.#badLines;
  }
}

/** `s` as plain data, for logs and the TUI. */
export function snapshot(s: Session): PeerSnapshot {
  return {
    id: s.id,
    nick: s.nick,
    room: s.room,
    address: s.link.address,
    port: s.link.port,
    mode: s.mode,
    bytesIn: s.link.bytesIn,
    bytesOut: s.bytesOut,
    messagesIn: s.messagesIn,
    connectedAt: s.connectedAt,
  };
}
