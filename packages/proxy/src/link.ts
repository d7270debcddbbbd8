import { EventEmitter } from "node:events";
import type net from "node:net";
import { isWireWatched, tapOpen } from "@netlab/socketserver";
import type { BusyPoll } from "./busy-poll.js";
import { type ChunkEvent, PIPELINE_DEFAULTS, Pipeline } from "./pipeline.js";
import { isAffected, toxicRandom } from "./random.js";
import type { ReusedReads } from "./reads.js";
import { createStage, type Stage, type StageHost } from "./stages.js";
import type { ToxicSet } from "./toxic-set.js";
import type { Stream, Toxic } from "./toxics.js";

/** Options of {@link linkSockets}. */
export interface LinkOptions {
  /** The toxics to apply, followed live. */
  toxics: ToxicSet;
  /** This connection's id: toxicity and every random draw derive from it and the set's seed. Default 1. */
  id?: number;
  /** Per direction, most bytes read and not yet through the toxics before the source pauses. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** After a toxic closes the connection (FIN both ways), sockets still open are destroyed this much later, ms. Default 2000. */
  closeGraceMs?: number;
  /** Called for every chunk written, either way (for a live view). Leave it out on the fast path. */
  onChunk?: (event: ChunkEvent) => void;
  /**
   * The reused-buffer reads a socket was created with (its `onread`), per side; a side left out
   * reads with `'data'`.
   */
  reads?: { client?: ReusedReads | undefined; upstream?: ReusedReads | undefined };
  /** Told of every read either way, to keep the loop polling for the next (off when left out). */
  busyPoll?: BusyPoll | undefined;
}

/** Defaults of {@link LinkOptions}. */
export const LINK_DEFAULTS = { id: 1, closeGraceMs: 2000, ...PIPELINE_DEFAULTS } as const;

/** How a link ended. */
export interface LinkClose {
  /** `closed`: both sides finished (FIN both ways); `reset`: a side reset or a toxic reset it; `toxic`: a toxic closed it. */
  how: "closed" | "reset" | "toxic";
  /** Why, in words: `reset_peer_downstream: reset after 0 ms`, `client reset`, … */
  reason: string;
}

/** Events of a {@link ToxicLink}. */
export interface ToxicLinkEvents {
  close: [LinkClose];
}

/** What GET /connections says of one connection. */
export interface LinkInfo {
  id: number;
  client: string;
  upstream: string;
  /** Per toxic in the set: whether it acts on this connection. */
  toxics: Record<string, boolean>;
  bytesUpstream: number;
  bytesDownstream: number;
  openedAt: string;
}

/**
 * Both directions of one proxied connection, with the toxics of a {@link ToxicSet} applied. A FIN
 * passes on as a FIN after the last byte (half-close works), a reset as a reset. Create it with
 * {@link linkSockets}; read `info()`, wait for `closed`, or `reset()` / `close()` it.
 */
export class ToxicLink extends EventEmitter<ToxicLinkEvents> implements StageHost {
  readonly id: number;
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  readonly toxics: ToxicSet;
  /** Resolves when both sockets are closed, with how. */
  readonly closed: Promise<LinkClose>;
  readonly #up: Pipeline;
  readonly #down: Pipeline;
  readonly #stages = new Map<string, Stage>();
  readonly #closeGraceMs: number;
  readonly #openedAt = new Date();
  #ending: LinkClose | undefined;
  #onChange = () => this.#sync();

  constructor(client: net.Socket, upstream: net.Socket, options: LinkOptions) {
    super();
    this.id = options.id ?? LINK_DEFAULTS.id;
    this.client = client;
    this.upstream = upstream;
    this.toxics = options.toxics;
    this.#closeGraceMs = options.closeGraceMs ?? LINK_DEFAULTS.closeGraceMs;
    const maxBufferedBytes = options.maxBufferedBytes ?? LINK_DEFAULTS.maxBufferedBytes;
    const onChunk = options.onChunk;
    for (const s of [client, upstream]) {
      // A FIN from one side must not end the other side's writing: the proxy passes it on itself.
      s.allowHalfOpen = true;
      s.setNoDelay(true);
    }
    // The tap sees the client's connection as a server's: what the client sent and what it got
    // (after the toxics), so a recording replays against the real server like a server's own.
    if (isWireWatched()) tapOpen(client, "server");
    this.#up = new Pipeline(client, upstream, {
      connection: this.id,
      direction: "upstream",
      maxBufferedBytes,
      onChunk,
      tapped: "source",
      reads: options.reads?.client,
      busyPoll: options.busyPoll,
    });
    this.#down = new Pipeline(upstream, client, {
      connection: this.id,
      direction: "downstream",
      maxBufferedBytes,
      onChunk,
      tapped: "dest",
      reads: options.reads?.upstream,
      busyPoll: options.busyPoll,
    });
    this.closed = new Promise((resolve) => {
      let open = 2;
      const onClose = () => {
        if (--open > 0) return;
        this.#stopAll();
        this.toxics.off("change", this.#onChange);
        const how = this.#ending ?? { how: "closed" as const, reason: "closed by both sides" };
        this.emit("close", how);
        resolve(how);
      };
      for (const [s, side] of [
        [client, "client"],
        [upstream, "upstream"],
      ] as const) {
        s.once("close", onClose);
        s.on("error", (err: NodeJS.ErrnoException) => {
          // A reset on one side is passed on as a reset on the other; any other error likewise
          // ends the pair, since half a connection is no use.
          this.reset(`${side} ${err.code === "ECONNRESET" ? "reset" : `error ${err.code ?? err.message}`}`);
        });
      }
    });
    this.toxics.on("change", this.#onChange);
    this.#sync();
  }

  /** The pooled state of shared-bandwidth toxics (StageHost). */
  get sharedBandwidth(): Map<string, { nextFreeMs: number }> {
    return this.toxics.sharedBandwidth;
  }

  /** Whether a toxic acts on this connection: its stream set, its target matched, its toxicity drawn. */
  affects(toxic: Toxic): boolean {
    if (toxic.connection !== undefined && toxic.connection !== this.id) return false;
    if (toxic.client !== undefined) {
      const { remoteAddress = "", remotePort = 0 } = this.client;
      const target = toxic.client;
      if (
        target !== remoteAddress &&
        target !== `${remoteAddress}:${remotePort}` &&
        target !== `[${remoteAddress}]:${remotePort}`
      ) {
        return false;
      }
    }
    return isAffected(this.toxics.seed, toxic.name, this.id, toxic.toxicity);
  }

  /** Resets both sides (RST): what a peer's reset, a socket error or `reset_peer` does. */
  reset(reason: string): void {
    if (this.#ending?.how === "reset") return;
    this.#ending = { how: "reset", reason };
    this.#stopAll();
    for (const s of [this.client, this.upstream]) if (!s.destroyed) s.resetAndDestroy();
  }

  /** Closes both sides (FIN), dropping what is still queued: what `limit_data`, `limit_time` and `timeout` do. */
  close(reason: string): void {
    if (this.#ending) return;
    this.#ending = { how: "toxic", reason };
    this.#stopAll();
    for (const s of [this.client, this.upstream]) {
      s.end();
      // The peers' own FINs close the sockets; this bounds the wait for a peer that never sends one.
      const timer = setTimeout(() => s.destroy(), this.#closeGraceMs);
      timer.unref();
      s.once("close", () => clearTimeout(timer));
      s.resume(); // read and drop, so that the peer's FIN is seen
    }
  }

  /** What GET /connections shows. */
  info(): LinkInfo {
    const address = (host: string | undefined, port: number | undefined) =>
      host?.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    return {
      id: this.id,
      client: address(this.client.remoteAddress, this.client.remotePort),
      upstream: address(this.upstream.remoteAddress, this.upstream.remotePort),
      toxics: Object.fromEntries(this.toxics.list().map((t) => [t.name, this.#stages.has(t.name)])),
      bytesUpstream: this.#up.bytesOut,
      bytesDownstream: this.#down.bytesOut,
      openedAt: this.#openedAt.toISOString(),
    };
  }

  /** Brings the stages in line with the set: new toxics start, removed ones stop (their waits end). */
  #sync(): void {
    if (this.#ending) return;
    const wanted = new Map(
      this.toxics
        .list()
        .filter((t) => this.affects(t))
        .map((t) => [t.name, t]),
    );
    for (const [name, stage] of this.#stages) {
      const t = wanted.get(name);
      if (t === undefined || t.type !== stage.toxic.type || t.stream !== stage.toxic.stream) {
        stage.stop();
        this.#stages.delete(name);
      } else {
        stage.update(t);
      }
    }
    const fresh: Stage[] = [];
    for (const [name, t] of wanted) {
      if (this.#stages.has(name)) continue;
      const stage = createStage(t, this, toxicRandom(this.toxics.seed, name, this.id));
      this.#stages.set(name, stage);
      fresh.push(stage);
    }
    const ordered = [...wanted.keys()].map((name) => this.#stages.get(name) as Stage);
    const of = (stream: Stream) => ordered.filter((s) => s.toxic.stream === stream);
    this.#up.setStages(of("upstream"));
    this.#down.setStages(of("downstream"));
    for (const stage of fresh) stage.start();
  }

  #stopAll(): void {
    this.#up.stop();
    this.#down.stop();
    for (const stage of this.#stages.values()) stage.stop();
    this.#stages.clear();
  }
}

/**
 * Proxies between two connected sockets in-process, applying `options.toxics` both ways: the
 * `client` side's bytes are the `upstream` stream, the other side's the `downstream` stream. Sets
 * `allowHalfOpen` and TCP_NODELAY on both, so a FIN passes on as a FIN.
 * @example
 * const toxics = new ToxicSet({ seed: 1, toxics: [{ type: "slicer", attributes: { average_size: 1 } }] });
 * const link = linkSockets(accepted, await connectUpstream(), { toxics, id: 1 });
 * await link.closed;
 */
export function linkSockets(client: net.Socket, upstream: net.Socket, options: LinkOptions): ToxicLink {
  return new ToxicLink(client, upstream, options);
}
