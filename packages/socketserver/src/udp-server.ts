import dgram from "node:dgram";
import net from "node:net";
import { BaseServer, type BoundAddress, type HandlerClass } from "./base-server.js";
import { NetworkError, toNetworkError } from "./errors.js";
import type { Datagram, PeerAddress, ServerOptions } from "./types.js";

/** What the server queues per datagram: the request plus where it came from. */
interface Received extends Datagram {
  rinfo: dgram.RemoteInfo;
}

/**
 * A UDP server: one `DatagramRequestHandler` per datagram. There is no connection: `maxConnections`
 * bounds handlers running at once, and a datagram over it is dropped (counted in `droppedDatagrams`)
 * rather than answered, so a flood cannot be amplified.
 * @example
 * class Echo extends DatagramRequestHandler { override async handle() { await this.reply(this.packet); } }
 * const server = new UDPServer({ port: 0 }, Echo);
 */
export class UDPServer extends BaseServer {
  /** Datagrams dropped because the server was full or not serving yet. */
  droppedDatagrams = 0;
  #socket: dgram.Socket | undefined;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
  }

  /** The bound socket (undefined before `listen()`). */
  get socket(): dgram.Socket | undefined {
    return this.#socket;
  }

  get address(): BoundAddress {
    try {
      const a = this.#socket?.address();
      if (a) return { host: a.address, port: a.port, family: a.family };
    } catch {
      // Not bound yet.
    }
    return {
      host: this.options.host,
      port: this.options.port,
      family: net.isIPv6(this.options.host) ? "IPv6" : "IPv4",
    };
  }

  async listen(): Promise<void> {
    if (this.state !== "idle" || this.#socket) return;
    const { host, port, allowReuseAddress } = this.options;
    const socket = dgram.createSocket({
      type: net.isIPv6(host) ? "udp6" : "udp4",
      reuseAddr: allowReuseAddress,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        // Not exclusive: in a ForkingMixIn worker the socket is shared through the cluster primary.
        socket.bind({ address: host, port, exclusive: false }, () => {
          socket.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      socket.close();
      throw toNetworkError(err, { action: "listen", host, port });
    }
    socket.on("error", (err) => {
      if (this.listenerCount("error") > 0) this.emit("error", err);
    });
    socket.on("message", (packet, rinfo) => {
      const request: Received = { packet, socket, rinfo };
      this.acceptRequest(request);
    });
    this.#socket = socket;
    this.markListening();
  }

  async serverClose(): Promise<void> {
    const socket = this.#socket;
    if (!socket || this.#isClosed) return;
    this.#isClosed = true;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
  #isClosed = false;

  protected peerOf(request: unknown): PeerAddress {
    const { rinfo } = request as Received;
    return { address: rinfo.address, port: rinfo.port, family: rinfo.family === "IPv6" ? "IPv6" : "IPv4" };
  }

  protected refuse(_request: unknown): void {
    this.droppedDatagrams++;
  }

  protected discard(_request: unknown): void {
    this.droppedDatagrams++;
  }
}

/**
 * Unix datagram sockets (AF_UNIX, SOCK_DGRAM) are not available in Node's `dgram`, so this class
 * exists for parity and fails at construction with UNSUPPORTED and a hint. Use `UnixStreamServer`,
 * or `UDPServer` on 127.0.0.1.
 */
export class UnixDatagramServer extends UDPServer {
  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
    throw new NetworkError("UNSUPPORTED", "Unix datagram sockets are not supported by Node's dgram", {
      hint: "use UnixStreamServer, or UDPServer on 127.0.0.1",
    });
  }
}
