import {
  DatagramRequestHandler,
  type PeerAddress,
  type ServerOptions,
  UDPServer,
} from "@netlab/socketserver";
import { requireInt } from "./errors.js";

/** Options for {@link UdpListener}. */
export interface UdpListenerOptions extends Omit<ServerOptions, "path"> {
  /** SO_RCVBUF in bytes, set once bound; the kernel may double or cap it. Default: the system's. */
  recvBufferSize?: number;
}

/** A datagram a listener received. */
export interface ReceivedDatagram {
  /** Counts from 1. */
  index: number;
  peer: PeerAddress;
  packet: Buffer;
  /** When it arrived, ms since the epoch. */
  at: number;
}

/**
 * Receives datagrams from anyone and emits each one (`recvfrom`, as a server): the basis of
 * `lab udp listen`. Replies to nobody. Counts what it got in `datagrams` and `bytesIn`.
 * Refuses to share its port (`allowReuseAddress` defaults to false).
 * @example
 * const listener = new UdpListener({ port: 9999 });
 * listener.on("datagram", (d) => show(d.peer, d.packet));
 * await listener.serveForever({ signal });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed event overloads.
export class UdpListener extends UDPServer {
  datagrams = 0;
  bytesIn = 0;
  readonly #recvBufferSize: number | undefined;

  constructor(options: UdpListenerOptions = {}) {
    const { recvBufferSize, ...server } = options;
    super({ allowReuseAddress: false, ...server }, ListenHandler);
    if (recvBufferSize !== undefined)
      requireInt("recvBufferSize", recvBufferSize, { min: 1, max: 2 ** 31 - 1 });
    this.#recvBufferSize = recvBufferSize;
  }

  override async listen(): Promise<void> {
    await super.listen();
    if (this.#recvBufferSize !== undefined) this.socket?.setRecvBufferSize(this.#recvBufferSize);
  }

  /** The receive buffer the kernel actually granted, in bytes (undefined before listen). */
  get recvBufferSize(): number | undefined {
    return this.socket?.getRecvBufferSize();
  }
}

export interface UdpListener {
  on(event: "datagram", listener: (d: ReceivedDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: "datagram", listener: (d: ReceivedDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off(event: "datagram", listener: (d: ReceivedDatagram) => void): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for the inherited events.
  off(event: string | symbol, listener: (...args: any[]) => void): this;
}

class ListenHandler extends DatagramRequestHandler<UdpListener> {
  override handle(): void {
    const server = this.server;
    server.datagrams++;
    server.bytesIn += this.packet.length;
    if (server.listenerCount("datagram") > 0) {
      const d: ReceivedDatagram = {
        index: server.datagrams,
        peer: this.clientAddress,
        packet: this.packet,
        at: Date.now(),
      };
      server.emit("datagram", d);
    }
  }
}
