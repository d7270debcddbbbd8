import {
  DatagramRequestHandler,
  type PeerAddress,
  type ServerOptions,
  UDPServer,
} from "@netlab/socketserver";
import { type EmulatorOptions, type Fate, NetworkEmulator } from "./emulator.js";
import { requireInt } from "./errors.js";
import { ReplyLimiter, type ReplyLimitOptions } from "./reply-limit.js";

/** Options for {@link UdpEchoServer}: where to bind, how to emulate the network, socket buffers. */
export interface UdpEchoOptions extends Omit<ServerOptions, "path">, EmulatorOptions, ReplyLimitOptions {
  /** SO_RCVBUF in bytes, set once bound; the kernel may double or cap it. Default: the system's. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes, set once bound. Default: the system's. */
  sendBufferSize?: number;
}

/** One datagram the echo server received, and what the emulator did with it. */
export interface EchoDatagram {
  /** Counts from 1: the emulator's decisions follow this order. */
  index: number;
  peer: PeerAddress;
  bytes: number;
  fate: Fate;
  /** Not echoed: its source was over `maxReplyBytesPerSecond` (the emulator never saw it). */
  rateLimited: boolean;
}

/** Running totals of an echo server. */
export interface EchoCounters {
  /** Datagrams received. */
  datagrams: number;
  /** Bytes received. */
  bytesIn: number;
  /** Datagrams the emulator dropped. */
  dropped: number;
  /** Datagrams sent twice. */
  duplicated: number;
  /** Datagrams held back behind the next one. */
  reordered: number;
  /** Datagrams dropped because the emulator's queue was full (maxQueuedBytes); not in `dropped`. */
  queueDrops: number;
  /** Datagrams not echoed because their source was over `maxReplyBytesPerSecond`; not in `dropped`. */
  rateLimited: number;
}

/** Events of a {@link UdpEchoServer}, on top of a UDPServer's. */
export interface UdpEchoEvents {
  /** Emitted only while someone listens, so a busy server pays nothing for it. */
  datagram: [EchoDatagram];
}

/**
 * Echoes every datagram back to its sender, through a {@link NetworkEmulator} (loss, delay,
 * jitter, duplication, reordering) when one is configured. Answers any sender (`nc -u`, a Python
 * `sendto`, `lab udp ping`) and never dies on a datagram: a failed reply goes to `handleError`.
 * Refuses to share its port (`allowReuseAddress` defaults to false here), so a second server on the
 * same port fails with ADDRESS_IN_USE rather than silently stealing datagrams. What goes back to
 * one source is bounded by a {@link ReplyLimiter} (256 KiB/s by default, loopback exempt): an
 * echo answers whatever source address a datagram claims, so unbounded it would be a reflector
 * anyone could aim at a third party.
 *
 * Read: `emulator`, `replyLimiter`, `counters`, `address`. Events: `datagram` (see {@link UdpEchoEvents}) and
 * the UDPServer ones.
 * @example
 * await using server = new UdpEchoServer({ port: 5003, lossRate: 0.3, delayMs: 20, seed: 1 });
 * server.on("datagram", (d) => log(d));
 * await server.serveForever({ signal });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed event overloads.
export class UdpEchoServer extends UDPServer {
  readonly emulator: NetworkEmulator;
  readonly counters: EchoCounters = {
    datagrams: 0,
    bytesIn: 0,
    dropped: 0,
    duplicated: 0,
    reordered: 0,
    queueDrops: 0,
    rateLimited: 0,
  };
  /** What each source may be sent back (see {@link ReplyLimiter}); read its `options`. */
  readonly replyLimiter: ReplyLimiter;
  readonly #buffers: { recv: number | undefined; send: number | undefined };

  constructor(options: UdpEchoOptions = {}) {
    const {
      lossRate,
      delayMs,
      jitterMs,
      duplicateRate,
      reorderRate,
      reorderHoldMs,
      maxQueuedBytes,
      seed,
      random,
      recvBufferSize,
      sendBufferSize,
      maxReplyBytesPerSecond,
      replyBurstBytes,
      maxReplySources,
      limitLoopback,
      ...server
    } = options;
    super({ allowReuseAddress: false, ...server }, EchoHandler);
    this.emulator = new NetworkEmulator({
      lossRate,
      delayMs,
      jitterMs,
      duplicateRate,
      reorderRate,
      reorderHoldMs,
      maxQueuedBytes,
      seed,
      random,
    });
    this.replyLimiter = new ReplyLimiter({
      maxReplyBytesPerSecond,
      replyBurstBytes,
      maxReplySources,
      limitLoopback,
    });
    if (recvBufferSize !== undefined)
      requireInt("recvBufferSize", recvBufferSize, { min: 1, max: 2 ** 31 - 1 });
    if (sendBufferSize !== undefined)
      requireInt("sendBufferSize", sendBufferSize, { min: 1, max: 2 ** 31 - 1 });
    this.#buffers = { recv: recvBufferSize, send: sendBufferSize };
    // Scheduled replies must not outlive the socket.
    this.signal.addEventListener("abort", () => this.emulator.close(), { once: true });
  }

  override async listen(): Promise<void> {
    await super.listen();
    if (this.#buffers.recv !== undefined) this.socket?.setRecvBufferSize(this.#buffers.recv);
    if (this.#buffers.send !== undefined) this.socket?.setSendBufferSize(this.#buffers.send);
  }

  /** The receive buffer the kernel actually granted, in bytes (undefined before listen). */
  get recvBufferSize(): number | undefined {
    return this.socket?.getRecvBufferSize();
  }
}

/** One instance per datagram: hands it to the emulator, which sends the copies it decides on. */
class EchoHandler extends DatagramRequestHandler<UdpEchoServer> {
  override async handle(): Promise<void> {
    const server = this.server;
    const packet = this.packet;
    const c = server.counters;
    c.datagrams++;
    c.bytesIn += packet.length;
    // Charged once, before the emulator: a datagram over its source's rate costs no queue space.
    const isAllowed = server.replyLimiter.allow(this.clientAddress.address, packet.length);
    if (!isAllowed) c.rateLimited++;
    const isWatched = server.listenerCount("datagram") > 0;
    if (!isAllowed || (server.emulator.isPerfect && !isWatched)) {
      if (isAllowed) await this.reply(packet);
      else if (isWatched) this.#emit({ dropped: true, delaysMs: [], reordered: false }, true);
      return;
    }
    const fate = server.emulator.submit(() => {
      this.reply(packet).catch((err: unknown) => server.handleError(err, this.clientAddress));
    }, packet.length);
    if (fate.queueFull) c.queueDrops++;
    else if (fate.dropped) c.dropped++;
    if (fate.delaysMs.length > 1) c.duplicated++;
    if (fate.reordered) c.reordered++;
    if (isWatched) this.#emit(fate, false);
  }

  #emit(fate: Fate, rateLimited: boolean): void {
    const event: EchoDatagram = {
      index: this.server.counters.datagrams,
      peer: this.clientAddress,
      bytes: this.packet.length,
      fate,
      rateLimited,
    };
    this.server.emit("datagram", event);
  }
}

// Typed overloads for the events this class adds; the UDPServer ones keep theirs.
export interface UdpEchoServer {
  on(event: "datagram", listener: (d: EchoDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "datagram", listener: (d: EchoDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: "datagram", listener: (d: EchoDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  off(event: string | symbol, listener: (...args: any[]) => void): this;
}
