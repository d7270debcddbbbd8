import { EventEmitter } from "node:events";
import net from "node:net";
import { tapListen, toNetworkError, wireChannel } from "@netlab/socketserver";
import { type Address, formatAddress, inUseHint, isLoop, parseAddress } from "./address.js";
import { BusyPoll, DEFAULT_BUSY_POLL_US } from "./busy-poll.js";
import { ProxyError } from "./errors.js";
import { type LinkClose, type LinkInfo, type LinkOptions, ToxicLink } from "./link.js";
import type { ChunkEvent } from "./pipeline.js";
import {
  adoptWithReusedBuffer,
  READS_DEFAULTS,
  ReadBudget,
  ReusedReads,
  requireReadBufferBytes,
} from "./reads.js";
import { ToxicSet } from "./toxic-set.js";
import type { Toxic, ToxicSpec } from "./toxics.js";

/** Options of a {@link TcpProxy}. */
export interface TcpProxyOptions {
  /** The proxy's name in the API. Default `proxy`. */
  name?: string;
  /** Where to listen, `HOST:PORT` (port 0: any free port). */
  listen: string;
  /** Where to connect, `HOST:PORT`. */
  upstream: string;
  /** Accepting connections. Default true. */
  enabled?: boolean;
  /** The toxics; a new set with `seed` when left out. */
  toxics?: ToxicSet;
  /** Seed of a new toxic set. Default random. */
  seed?: number;
  /** Toxics to start with (in a new set). */
  initialToxics?: ToxicSpec[];
  /** Give up connecting upstream after this long, ms; the client is then reset. Default 10 000. */
  connectTimeoutMs?: number;
  /** Most connections proxied at once; more are reset at once. Default 1000. */
  maxConnections?: number;
  /** Per direction, most bytes read and not yet through the toxics. Default 1 MiB. */
  maxBufferedBytes?: number;
  /**
   * Per direction, most bytes one read returns: reads start at 16 KiB and grow to this while a
   * connection moves data in bulk (each direction holds up to two such buffers then); past 256 KiB
   * only while `readBufferTotalBytes` has room. Default 1 MiB.
   */
  readBufferBytes?: number;
  /**
   * Read buffer bytes past 256 KiB that all connections together may hold: the first bulk
   * connections get the largest reads (the least CPU per byte), the rest stay at 256 KiB. Default 64 MiB.
   */
  readBufferTotalBytes?: number;
  /**
   * The budget of larger reads, shared with other proxies (the API's, say) so that together they
   * hold no more than its limit; `readBufferTotalBytes` is then not used. Default: one of its own.
   */
  readBudget?: ReadBudget;
  /**
   * Read into reused buffers (net's `onread`). false reads with Node's `'data'` events, a fresh
   * buffer per read, as a plain Node proxy does: for comparison, or should a Node release change the
   * internals the takeover of accepted sockets uses in a way its feature check misses. Default true.
   */
  reuseReadBuffers?: boolean;
  /**
   * After each read, keep polling the sockets for this long, µs, instead of sleeping until the
   * kernel wakes the process: cuts the round trip the proxy adds (most of which, on a virtual
   * machine, is that wake-up), for CPU while request–reply traffic flows; backs off while windows
   * run out with no read (see {@link BusyPoll}). 0 (off) to 1000; default 50.
   */
  busyPollUs?: number;
  /** Called for every chunk written, either way. */
  onChunk?: (event: ChunkEvent) => void;
  /**
   * Called each time the proxy starts listening (at start, and when enabled again or moved through
   * the API), once `boundHost` is known: how the command line learns where a proxy made through
   * the API listens, to say who can reach it.
   */
  onListening?: (proxy: TcpProxy) => void;
}

/** Defaults of {@link TcpProxyOptions}. */
export const TCP_PROXY_DEFAULTS = {
  name: "proxy",
  enabled: true,
  connectTimeoutMs: 10_000,
  maxConnections: 1000,
  maxBufferedBytes: 1024 * 1024,
  readBufferBytes: READS_DEFAULTS.readBufferBytes,
  readBufferTotalBytes: READS_DEFAULTS.readBufferTotalBytes,
  reuseReadBuffers: true,
  busyPollUs: DEFAULT_BUSY_POLL_US,
} as const;

/** Events of a {@link TcpProxy}. */
export interface TcpProxyEvents {
  /** A client was linked to the upstream. */
  open: [ToxicLink];
  /** A linked connection ended. */
  close: [ToxicLink, LinkClose];
  /** A client could not be served (upstream refused, too many connections); it was reset. */
  refused: [{ id: number; client: string; error: Error }];
}

/** toxiproxy's JSON for a proxy. */
export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: Toxic[];
}

/**
 * A TCP proxy with toxics: each client is linked to a fresh upstream connection through the
 * toxic set. A client's bytes are not read until its upstream connection is up (toxiproxy #265);
 * if that fails the client is reset, so it never sees an accepted connection that goes nowhere.
 * @example
 * const proxy = new TcpProxy({ listen: "127.0.0.1:6001", upstream: "127.0.0.1:5001", seed: 1 });
 * proxy.toxics.add({ type: "latency", attributes: { latency: 100 } });
 * await proxy.listen();
 */
export class TcpProxy extends EventEmitter<TcpProxyEvents> {
  readonly name: string;
  readonly toxics: ToxicSet;
  /** Open connections by id. */
  readonly links = new Map<number, ToxicLink>();
  #listen: Address;
  #upstream: Address;
  #server: net.Server | undefined;
  #enabled: boolean;
  #nextId = 1;
  readonly #readBudget: ReadBudget;
  readonly #busyPoll: BusyPoll;
  /** An upstream connection made before any client came (the start-up check's), for the first one. */
  #spare: { socket: net.Socket; drop: () => void } | undefined;
  readonly #o: Required<
    Pick<
      TcpProxyOptions,
      "connectTimeoutMs" | "maxConnections" | "maxBufferedBytes" | "readBufferBytes" | "reuseReadBuffers"
    >
  > &
    Pick<TcpProxyOptions, "onChunk" | "onListening">;

  constructor(options: TcpProxyOptions) {
    super();
    this.name = options.name ?? TCP_PROXY_DEFAULTS.name;
    this.#listen = parseAddress(options.listen, "listen", { allowZero: true });
    this.#upstream = parseAddress(options.upstream, "upstream");
    checkLoop(this.#listen, this.#upstream);
    this.#enabled = options.enabled ?? TCP_PROXY_DEFAULTS.enabled;
    this.toxics = options.toxics ?? new ToxicSet({ seed: options.seed, toxics: options.initialToxics });
    this.#o = {
      connectTimeoutMs: options.connectTimeoutMs ?? TCP_PROXY_DEFAULTS.connectTimeoutMs,
      maxConnections: options.maxConnections ?? TCP_PROXY_DEFAULTS.maxConnections,
      maxBufferedBytes: options.maxBufferedBytes ?? TCP_PROXY_DEFAULTS.maxBufferedBytes,
      readBufferBytes: options.readBufferBytes ?? TCP_PROXY_DEFAULTS.readBufferBytes,
      reuseReadBuffers: options.reuseReadBuffers ?? TCP_PROXY_DEFAULTS.reuseReadBuffers,
      onChunk: options.onChunk,
      onListening: options.onListening,
    };
    requireReadBufferBytes(this.#o.readBufferBytes);
    this.#readBudget =
      options.readBudget ??
      new ReadBudget(options.readBufferTotalBytes ?? TCP_PROXY_DEFAULTS.readBufferTotalBytes);
    this.#busyPoll = new BusyPoll(options.busyPollUs ?? TCP_PROXY_DEFAULTS.busyPollUs);
  }

  /** The address listened on (the real port once listening), `HOST:PORT`. */
  get listenAddress(): string {
    return formatAddress(this.#listen);
  }

  /**
   * The IP address the listener is bound to (a name resolved, `::` or `0.0.0.0` as such), or
   * undefined when not listening: what decides who can reach it, which a name alone does not say.
   */
  get boundHost(): string | undefined {
    return (this.#server?.address() as net.AddressInfo | null | undefined)?.address;
  }

  /** The upstream, `HOST:PORT`. */
  get upstreamAddress(): string {
    return formatAddress(this.#upstream);
  }

  /** Read buffer bytes past 256 KiB its connections hold now, of `readBufferTotalBytes`. */
  get readBufferBytesInUse(): number {
    return this.#readBudget.usedBytes;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Starts listening (when enabled). Throws ADDRESS_IN_USE and the like as a NetworkError. */
  async listen(): Promise<void> {
    if (!this.#enabled || this.#server) return;
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (c) =>
      this.#accept(c),
    );
    const { host, port } = this.#listen;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(toNetworkError(err, { action: "listen", host, port, ...inUseHint(err) })),
      );
      server.listen(port, host, () => resolve());
    });
    server.on("error", () => {});
    this.#server = server;
    this.#listen = { host, port: (server.address() as net.AddressInfo).port };
    if (wireChannel.hasSubscribers) {
      const local = server.address() as net.AddressInfo;
      tapListen("tcp", {
        address: local.address,
        port: local.port,
        family: local.family === "IPv6" ? "IPv6" : "IPv4",
      });
    }
    this.#o.onListening?.(this);
  }

  /**
   * Changes the upstream, the listen address or whether it is enabled, as toxiproxy's
   * POST /proxies/{name}. Disabling closes the listener and resets every connection.
   */
  async update(changes: { upstream?: string; listen?: string; enabled?: boolean }): Promise<void> {
    const listen =
      changes.listen === undefined
        ? this.#listen
        : parseAddress(changes.listen, "listen", { allowZero: true });
    const upstream =
      changes.upstream === undefined ? this.#upstream : parseAddress(changes.upstream, "upstream");
    checkLoop(listen, upstream);
    if (changes.upstream !== undefined) this.#spare?.drop();
    this.#upstream = upstream;
    const moved = listen.host !== this.#listen.host || listen.port !== this.#listen.port;
    if (moved || changes.enabled === false) await this.close();
    this.#listen = listen;
    if (changes.enabled !== undefined) this.#enabled = changes.enabled;
    if (this.#enabled) await this.listen();
  }

  /**
   * Keeps `upstream`, a connection to the upstream already made (the start-up check's), for the
   * next client instead of connecting afresh, so the server never sees a connection that no client
   * is behind (a chat server would count it: the first client would be its guest-2). Dropped if it
   * is reset before a client comes; what the server sent meanwhile (a greeting, even its FIN)
   * reaches that client, as it would have reached a client connected directly at that moment.
   */
  keepUpstream(upstream: net.Socket): void {
    this.#spare?.drop();
    const drop = () => {
      upstream.off("error", drop);
      upstream.off("end", drop);
      upstream.off("close", drop);
      upstream.destroy();
      if (this.#spare?.socket === upstream) this.#spare = undefined;
    };
    upstream.on("error", drop);
    upstream.on("end", drop);
    upstream.on("close", drop);
    this.#spare = { socket: upstream, drop };
  }

  /** The kept upstream connection, if it is still open; the caller owns it from now on. */
  #takeSpare(): net.Socket | undefined {
    const spare = this.#spare;
    this.#spare = undefined;
    if (spare === undefined) return undefined;
    const { socket, drop } = spare;
    socket.off("error", drop);
    socket.off("end", drop);
    socket.off("close", drop);
    if (socket.destroyed || socket.readableEnded || socket.writableEnded) {
      socket.destroy();
      return undefined;
    }
    return socket;
  }

  /** Stops listening and resets every open connection (as toxiproxy does on disable and delete). */
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#spare?.drop();
    for (const link of this.links.values()) link.reset("proxy closed");
    this.#busyPoll.stop();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Stops listening and lets open connections finish on their own; resolves when they have (or after `drainMs`). */
  async shutdown(drainMs = 2000): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    this.#spare?.drop();
    if (server) server.close();
    const all = Promise.all([...this.links.values()].map((l) => l.closed));
    const timer = new Promise<void>((r) => setTimeout(r, drainMs).unref());
    await Promise.race([all, timer]);
    for (const link of this.links.values()) link.reset("proxy shut down");
    this.#busyPoll.stop();
  }

  /** What GET /connections shows for this proxy. */
  connections(): LinkInfo[] {
    return [...this.links.values()].map((l) => l.info());
  }

  /** toxiproxy's JSON for this proxy. */
  toJSON(): ProxyJson {
    return {
      name: this.name,
      listen: this.listenAddress,
      upstream: this.upstreamAddress,
      enabled: this.#enabled,
      toxics: this.toxics.list(),
    };
  }

  #accept(accepted: net.Socket): void {
    const id = this.#nextId++;
    const who = `${accepted.remoteAddress}:${accepted.remotePort}`;
    if (this.links.size >= this.#o.maxConnections) {
      accepted.on("error", () => {});
      this.#refuse(
        accepted,
        id,
        who,
        new ProxyError("PROXY_FULL", `${this.#o.maxConnections} connections open already (maxConnections)`, {
          hint: "raise --max-connections",
        }),
      );
      return;
    }
    // Both directions read into reused buffers where Node lets the accepted side do so (see the
    // proxy notes in docs/benchmarks.md): a fresh 64 KiB buffer per read was most of the cost.
    const reuse = this.#o.reuseReadBuffers;
    const clientReads = reuse ? new ReusedReads(this.#o.readBufferBytes, this.#readBudget) : undefined;
    const adopted = clientReads && adoptWithReusedBuffer(accepted, clientReads.onread);
    const client = adopted ?? accepted;
    const reads = {
      client: adopted ? clientReads : undefined,
      upstream: reuse ? new ReusedReads(this.#o.readBufferBytes, this.#readBudget) : undefined,
    };
    // What a connection's reads took from the shared budget goes back when its socket is gone.
    client.once("close", () => reads.client?.dispose());
    client.on("error", () => {});
    const spare = this.#takeSpare();
    if (spare) {
      // Connected before, reading with 'data': what it read meanwhile is in its stream buffer.
      this.#link(client, spare, id, { client: reads.client });
      return;
    }
    const { host, port } = this.#upstream;
    const upstream = net.connect({
      host,
      port,
      allowHalfOpen: true,
      noDelay: true,
      ...(reads.upstream && { onread: reads.upstream.onread }),
    });
    upstream.once("close", () => reads.upstream?.dispose());
    const timer = setTimeout(
      () => upstream.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })),
      this.#o.connectTimeoutMs,
    );
    const onClientGone = () => upstream.destroy();
    client.once("close", onClientGone);
    upstream.once("error", (err) => {
      clearTimeout(timer);
      this.#refuse(client, id, who, toNetworkError(err, { action: "connect", host, port }));
    });
    upstream.once("connect", () => {
      clearTimeout(timer);
      client.off("close", onClientGone);
      upstream.removeAllListeners("error");
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      this.#link(client, upstream, id, reads);
    });
  }

  /** Links a client to its connected upstream and starts reading the client. */
  #link(client: net.Socket, upstream: net.Socket, id: number, reads: LinkOptions["reads"]): void {
    const link = new ToxicLink(client, upstream, {
      toxics: this.toxics,
      id,
      reads,
      maxBufferedBytes: this.#o.maxBufferedBytes,
      onChunk: this.#o.onChunk,
      busyPoll: this.#busyPoll,
    });
    this.links.set(id, link);
    link.closed.then((how) => {
      this.links.delete(id);
      this.emit("close", link, how);
    });
    this.emit("open", link);
    client.resume();
  }

  #refuse(client: net.Socket, id: number, who: string, error: Error): void {
    if (!client.destroyed) client.resetAndDestroy();
    this.emit("refused", { id, client: who, error });
  }
}

function checkLoop(listen: Address, upstream: Address): void {
  if (isLoop(listen, upstream)) {
    throw new ProxyError(
      "PROXY_LOOP",
      `listen ${formatAddress(listen)} is the upstream ${formatAddress(upstream)}: the proxy would connect to itself`,
      { hint: "point the upstream at the real server's port, and listen on another" },
    );
  }
}
