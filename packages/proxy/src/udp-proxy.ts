import dgram from "node:dgram";
import { EventEmitter } from "node:events";
import net from "node:net";
import {
  type EmulatorOptions,
  NetworkEmulator,
  ReplyLimiter,
  type ReplyLimitOptions,
  toUdpError,
} from "@netlab/udp";
import { type Address, formatAddress, inUseHint, isLoop, parseAddress } from "./address.js";
import { BusyPoll, DEFAULT_BUSY_POLL_US } from "./busy-poll.js";
import { ProxyError } from "./errors.js";
import { randomSeed } from "./random.js";

/** Options of a {@link UdpProxy}: where, and how the emulated path treats datagrams (both ways). */
export interface UdpProxyOptions extends Omit<EmulatorOptions, "random">, ReplyLimitOptions {
  /** Where to listen, `HOST:PORT` (port 0: any free port). */
  listen: string;
  /** Where to send, `HOST:PORT`. */
  upstream: string;
  /** Most clients tracked at once (each has its own upstream socket); datagrams from more are dropped. Default 1000. */
  maxSessions?: number;
  /** A client silent this long loses its upstream socket, ms. Default 60 000. */
  sessionIdleMs?: number;
  /** After each datagram, keep polling for the next this long, µs, as TcpProxy's option. Default 50; 0 turns it off. */
  busyPollUs?: number;
}

/** Defaults of {@link UdpProxyOptions}. */
export const UDP_PROXY_DEFAULTS = {
  maxSessions: 1000,
  sessionIdleMs: 60_000,
  busyPollUs: DEFAULT_BUSY_POLL_US,
} as const;

/** One datagram through the UDP proxy and what the emulator did with it. */
export interface UdpProxyDatagram {
  direction: "upstream" | "downstream";
  client: string;
  bytes: number;
  dropped: boolean;
  copies: number;
  reordered: boolean;
  delaysMs: number[];
  /** Downstream only: not sent, the client's address was over `maxReplyBytesPerSecond`. */
  rateLimited: boolean;
}

/** Events of a {@link UdpProxy}. */
export interface UdpProxyEvents {
  /** Emitted only while someone listens. */
  datagram: [UdpProxyDatagram];
}

interface Session {
  socket: dgram.Socket;
  timer: NodeJS.Timeout;
  client: { address: string; port: number };
}

/**
 * A UDP proxy between any UDP client and server, each way through `@netlab/udp`'s
 * {@link NetworkEmulator} (loss, delay, jitter, duplicate, reorder): toxiproxy declined UDP
 * (Shopify/toxiproxy#39). Each client gets its own upstream socket, so replies find their way
 * back; sessions are bounded (`maxSessions`) and expire (`sessionIdleMs`). What goes back to one
 * client address is bounded by a {@link ReplyLimiter} (as `UdpEchoServer`'s, 256 KiB/s by default,
 * loopback exempt): the proxy sends the upstream's replies to whatever source a datagram claims, so
 * unbounded it would be a reflector, with the upstream's amplification, aimed at anyone.
 * @example
 * const proxy = new UdpProxy({ listen: "127.0.0.1:6003", upstream: "127.0.0.1:5003", lossRate: 0.2, seed: 1 });
 * await proxy.listen();
 */
export class UdpProxy extends EventEmitter<UdpProxyEvents> {
  /** Client → server. */
  readonly upstreamEmulator: NetworkEmulator;
  /** Server → client. */
  readonly downstreamEmulator: NetworkEmulator;
  /** What each client address may be sent back; read its `options`. */
  readonly replyLimiter: ReplyLimiter;
  /** Replies not sent because their client's address was over its rate. */
  rateLimited = 0;
  readonly #sessions = new Map<string, Session>();
  #listen: Address;
  readonly #upstream: Address;
  readonly #maxSessions: number;
  readonly #sessionIdleMs: number;
  #socket: dgram.Socket | undefined;
  readonly #busyPoll: BusyPoll;

  constructor(options: UdpProxyOptions) {
    super();
    const {
      listen,
      upstream,
      maxSessions,
      sessionIdleMs,
      busyPollUs,
      maxReplyBytesPerSecond,
      replyBurstBytes,
      maxReplySources,
      limitLoopback,
      ...emulation
    } = options;
    this.replyLimiter = new ReplyLimiter({
      maxReplyBytesPerSecond,
      replyBurstBytes,
      maxReplySources,
      limitLoopback,
    });
    this.#busyPoll = new BusyPoll(busyPollUs ?? UDP_PROXY_DEFAULTS.busyPollUs);
    this.#listen = parseAddress(listen, "listen", { allowZero: true });
    this.#upstream = parseAddress(upstream, "upstream");
    if (isLoop(this.#listen, this.#upstream)) {
      throw new ProxyError(
        "PROXY_LOOP",
        `listen ${formatAddress(this.#listen)} is the upstream: the proxy would send to itself`,
        {
          hint: "point the upstream at the real server's port, and listen on another",
        },
      );
    }
    this.#maxSessions = maxSessions ?? UDP_PROXY_DEFAULTS.maxSessions;
    this.#sessionIdleMs = sessionIdleMs ?? UDP_PROXY_DEFAULTS.sessionIdleMs;
    const seed = emulation.seed ?? randomSeed();
    this.upstreamEmulator = new NetworkEmulator({ ...emulation, seed });
    // Its own seed, derived: the two directions draw independently yet replay together.
    this.downstreamEmulator = new NetworkEmulator({ ...emulation, seed: (seed ^ 0x5bd1e995) >>> 0 });
  }

  /** The address listened on, `HOST:PORT`. */
  get listenAddress(): string {
    return formatAddress(this.#listen);
  }

  /**
   * The IP address the listener is bound to (a name resolved, `::` or `0.0.0.0` as such), or
   * undefined when not listening: what decides who can reach it, which a name alone does not say.
   */
  get boundHost(): string | undefined {
    return this.#socket?.address().address;
  }

  /** Clients tracked right now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Binds the listening socket. Throws ADDRESS_IN_USE and the like as a UdpError. */
  async listen(): Promise<void> {
    const { host, port } = this.#listen;
    const socket = dgram.createSocket(net.isIPv6(host) ? "udp6" : "udp4");
    await new Promise<void>((resolve, reject) => {
      socket.once("error", (err) =>
        reject(toUdpError(err, { action: "bind", host, port, ...inUseHint(err) })),
      );
      socket.bind(port, host, () => resolve());
    });
    socket.on("error", () => {});
    socket.on("message", (msg, rinfo) => this.#fromClient(msg, rinfo));
    this.#socket = socket;
    this.#listen = { host, port: socket.address().port };
  }

  /** Closes every socket and cancels what the emulators hold. */
  async close(): Promise<void> {
    this.#busyPoll.stop();
    this.upstreamEmulator.close();
    this.downstreamEmulator.close();
    for (const s of this.#sessions.values()) {
      clearTimeout(s.timer);
      s.socket.close();
    }
    this.#sessions.clear();
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  #fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.#busyPoll.touch(msg.length);
    const key = `${rinfo.address}:${rinfo.port}`;
    let session = this.#sessions.get(key);
    if (!session) {
      if (this.#sessions.size >= this.#maxSessions) return;
      session = this.#open(key, { address: rinfo.address, port: rinfo.port });
    }
    session.timer.refresh();
    const s = session;
    const fate = this.upstreamEmulator.submit(
      () => s.socket.send(msg, this.#upstream.port, this.#upstream.host, () => {}),
      msg.length,
    );
    this.#report("upstream", key, msg.length, fate);
  }

  #open(key: string, client: { address: string; port: number }): Session {
    const socket = dgram.createSocket(net.isIPv6(this.#upstream.host) ? "udp6" : "udp4");
    socket.on("error", () => {});
    socket.on("message", (msg) => {
      const listener = this.#socket;
      if (!listener) return;
      this.#busyPoll.touch(msg.length);
      session.timer.refresh();
      // Charged before the emulator, as the echo server's: over the rate, the reply costs nothing.
      if (!this.replyLimiter.allow(client.address, msg.length)) {
        this.rateLimited++;
        this.#report("downstream", key, msg.length, { dropped: true, delaysMs: [], reordered: false }, true);
        return;
      }
      const fate = this.downstreamEmulator.submit(
        () => listener.send(msg, client.port, client.address, () => {}),
        msg.length,
      );
      this.#report("downstream", key, msg.length, fate);
    });
    const timer = setTimeout(() => {
      this.#sessions.delete(key);
      socket.close();
    }, this.#sessionIdleMs);
    timer.unref();
    const session: Session = { socket, timer, client };
    this.#sessions.set(key, session);
    return session;
  }

  #report(
    direction: "upstream" | "downstream",
    client: string,
    bytes: number,
    fate: { dropped: boolean; delaysMs: number[]; reordered: boolean },
    rateLimited = false,
  ): void {
    if (this.listenerCount("datagram") === 0) return;
    this.emit("datagram", {
      direction,
      client,
      bytes,
      dropped: fate.dropped,
      copies: fate.delaysMs.length,
      reordered: fate.reordered,
      delaysMs: fate.delaysMs,
      rateLimited,
    });
  }
}
