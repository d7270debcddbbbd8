import type dgram from "node:dgram";
import { BaseRequestHandler } from "./base-handler.js";
import type { BaseServer } from "./base-server.js";
import { toNetworkError } from "./errors.js";
import { kWants } from "./internal.js";
import { isWireWatched, tapDatagram } from "./tap.js";
import type { Datagram, PeerAddress, UnixDatagramSocket } from "./types.js";
import { sendToPath } from "./udp-server.js";

/**
 * One instance per datagram, for a UDPServer or a UnixDatagramServer. `packet` is the bytes
 * received, `reply()` sends bytes back to the sender from the server's socket.
 * @example
 * class Echo extends DatagramRequestHandler {
 *   override async handle() { await this.reply(this.packet); }
 * }
 */
export class DatagramRequestHandler<S extends BaseServer = BaseServer> extends BaseRequestHandler<S> {
  declare readonly request: Datagram;

  constructor(request: Datagram, clientAddress: PeerAddress, server: S) {
    super(request, clientAddress, server);
    this.info.bytesIn = request.packet.length;
    this.info.framesIn = 1;
  }

  /** The datagram received. */
  get packet(): Buffer {
    return this.request.packet;
  }

  /** The server's socket: a `dgram.Socket`, or a UnixDatagramServer's AF_UNIX socket. */
  get socket(): dgram.Socket | UnixDatagramSocket {
    return this.request.socket;
  }

  protected override start(): void {
    const wants = this.server[kWants];
    if (wants.bytesIn) this.server.emit("bytesIn", this.info, this.packet.length);
    if (wants.frameIn) this.server.emit("frameIn", this.info, this.packet);
  }

  /**
   * Sends `data` to the sender as one datagram; rejects with a NetworkError when it cannot be sent
   * (NO_SUCH_SOCKET for a Unix sender that did not bind its socket to a path: it has no address).
   */
  reply(data: string | Uint8Array): Promise<void> {
    const peer = this.clientAddress;
    const socket = this.socket;
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    this.info.bytesOut += bytes.length;
    this.info.framesOut++;
    const wants = this.server[kWants];
    if (wants.frameOut) this.server.emit("frameOut", this.info, bytes);
    if (wants.bytesOut) this.server.emit("bytesOut", this.info, bytes.length);
    if ("sendTo" in socket) return sendToPath(socket, bytes, peer.address);
    if (isWireWatched()) tapDatagram(socket, "server", "out", peer, bytes);
    return new Promise((resolve, reject) => {
      socket.send(bytes, peer.port, peer.address, (err) => {
        if (err) reject(toNetworkError(err, { action: "send", host: peer.address, port: peer.port }));
        else resolve();
      });
    });
  }
}
