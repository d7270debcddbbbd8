import dgram from "node:dgram";
import { createRequire } from "node:module";
import net from "node:net";
import { dirname } from "node:path";
import { BaseServer, type BoundAddress, type HandlerClass } from "./base-server.js";
import { NetworkError, toNetworkError } from "./errors.js";
import { isStaleSocket, removeSocketFile } from "./socket-file.js";
import { isWireWatched, tapDatagram } from "./tap.js";
import type { Datagram, PeerAddress, ServerOptions, UnixDatagramSocket } from "./types.js";

/** What the server queues per datagram: the request plus where it came from. */
interface Received extends Datagram {
  rinfo: dgram.RemoteInfo;
}

/**
 * What UDPServer and UnixDatagramServer share: no connections, so a datagram that cannot be served
 * (the server is full, or not serving yet) is dropped and counted, never answered, so a flood
 * cannot be amplified.
 */
export abstract class DatagramServer extends BaseServer {
  /** Datagrams dropped because the server was full or not serving yet. */
  droppedDatagrams = 0;

  /** A socket error after listen(): an event for whoever listens, not a crash. */
  protected reportSocketError(err: Error): void {
    if (this.listenerCount("error") > 0) this.emit("error", err);
  }

  protected refuse(_request: unknown): void {
    this.droppedDatagrams++;
  }

  protected discard(_request: unknown): void {
    this.droppedDatagrams++;
  }
}

/**
 * A UDP server: one `DatagramRequestHandler` per datagram. There is no connection: `maxConnections`
 * bounds handlers running at once, and a datagram over it is dropped (counted in `droppedDatagrams`)
 * rather than answered, so a flood cannot be amplified. The port is not shared (a second server on
 * it fails with ADDRESS_IN_USE) unless every server on it passes `allowReuseAddress: true`.
 * @example
 * class Echo extends DatagramRequestHandler { override async handle() { await this.reply(this.packet); } }
 * const server = new UDPServer({ port: 0 }, Echo);
 */
export class UDPServer extends DatagramServer {
  #socket: dgram.Socket | undefined;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    // Python's UDPServer does not share its port either: with SO_REUSEADDR a second server on the
    // port binds without a word and takes the unicast datagrams meant for the first.
    super({ ...options, allowReuseAddress: options.allowReuseAddress ?? false }, Handler);
  }

  /** The bound socket (undefined before `listen()`). */
  get socket(): dgram.Socket | undefined {
    return this.#socket;
  }

  protected override wireTransport(): "udp" {
    return "udp";
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
    if (!this.needsListen() || this.#socket) return;
    const { host, port, allowReuseAddress, ipv6Only } = this.options;
    const socket = dgram.createSocket({
      type: net.isIPv6(host) ? "udp6" : "udp4",
      reuseAddr: allowReuseAddress,
      ipv6Only,
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
    socket.on("error", (err) => this.reportSocketError(err));
    socket.on("message", (packet, rinfo) => {
      if (isWireWatched()) tapDatagram(socket, "server", "in", rinfo, packet);
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
}

/** The part of `node-unix-socket`'s `DgramSocket` the server uses; the package is loaded at run time. */
interface DgramSocket extends UnixDatagramSocket {
  bind(path: string): void;
  close(): void;
  /** `senderPath` is the path the sender bound, "" when it did not bind. */
  on(event: "data", listener: (packet: Buffer, senderPath: string) => void): this;
  on(event: "error", listener: (err: Error) => void): this;
}
type DgramSocketClass = new () => DgramSocket;

/** What UnixDatagramServer queues per datagram: the request plus the sender's path. */
interface ReceivedOnPath extends Datagram {
  senderPath: string;
}

/** Resolves `node-unix-socket` next to this package, where pnpm installs its optional dependency. */
const requireOptional = createRequire(import.meta.url);

/**
 * A datagram server on a Unix socket `path` (AF_UNIX, SOCK_DGRAM) with UDPServer's semantics: one
 * `DatagramRequestHandler` per datagram, `reply()` answers the sender's path, and a datagram over
 * `maxConnections` handlers is dropped (counted in `droppedDatagrams`).
 *
 * - `clientAddress` is `{ address: senderPath, port: 0, family: "unix" }`. A sender that did not bind
 *   its socket to a path has the path "" and cannot be replied to, as in Python: `reply()` rejects
 *   with NO_SUCH_SOCKET, which goes to `handleError`, and the server goes on.
 * - `allowReuseAddress` (default true): a stale socket file (nobody bound to it) is replaced; a live
 *   one is ADDRESS_IN_USE. `serverClose()` closes the socket and removes the file.
 * - A datagram over 65 535 bytes arrives truncated to that (node-unix-socket's receive buffer;
 *   Python's `max_packet_size` is 8 192).
 *
 * Node's `dgram` has no Unix datagrams, so this runs on the optional dependency `node-unix-socket`,
 * loaded by `listen()`: on a platform it has no binary for, `listen()` throws UNSUPPORTED. Its socket
 * does not work with `node:cluster`, so ForkingMixIn is refused (UNSUPPORTED); ThreadingMixIn works.
 * @example
 * class Echo extends DatagramRequestHandler { override async handle() { await this.reply(this.packet); } }
 * const server = new UnixDatagramServer({ path: "/tmp/echo.sock" }, Echo);
 * await server.serveForever();
 */
export class UnixDatagramServer extends DatagramServer {
  #socket: DgramSocket | undefined;
  #isClosed = false;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    super(options, Handler);
    if (!options.path) {
      throw new NetworkError("INVALID_OPTION", "UnixDatagramServer needs a path", {
        hint: "pass { path: '/tmp/name.sock' }",
      });
    }
    // ForkingMixIn(UnixDatagramServer) is already this object's class here: its getter is on the prototype.
    if ("isWorker" in this) {
      throw new NetworkError(
        "UNSUPPORTED",
        "ForkingMixIn cannot run a UnixDatagramServer: node-unix-socket's socket does not work with node:cluster",
        {
          hint: "use UnixDatagramServer (or ThreadingMixIn(UnixDatagramServer)), or ForkingUDPServer on 127.0.0.1",
        },
      );
    }
  }

  /** The bound AF_UNIX socket (undefined before `listen()`). */
  get socket(): UnixDatagramSocket | undefined {
    return this.#socket;
  }

  protected override wireTransport(): "unix" {
    return "unix";
  }

  get address(): BoundAddress {
    return { host: this.options.path ?? "", port: 0, family: "unix" };
  }

  async listen(): Promise<void> {
    if (!this.needsListen() || this.#socket) return;
    const path = this.options.path!;
    const DgramSocket = loadDgramSocket();
    if (this.options.allowReuseAddress && (await isStaleSocket(path))) removeSocketFile(path);
    const socket = new DgramSocket();
    try {
      socket.bind(path);
    } catch (err) {
      socket.close();
      throw bindError(err, path);
    }
    // node-unix-socket closes the socket on a receive error; it is reported, not thrown.
    socket.on("error", (err) =>
      this.reportSocketError(toNetworkError(withErrno(err), { action: "listen", path })),
    );
    socket.on("data", (packet, senderPath) => {
      // Datagrams already read when serverClose() ran are not served: replies could not leave.
      if (this.#isClosed) return;
      const request: ReceivedOnPath = { packet, socket, senderPath };
      this.acceptRequest(request);
    });
    this.#socket = socket;
    this.markListening();
  }

  async serverClose(): Promise<void> {
    const socket = this.#socket;
    if (!socket || this.#isClosed) return;
    this.#isClosed = true;
    socket.close();
    // Unlike net.Server, node-unix-socket leaves the socket file behind.
    removeSocketFile(this.options.path!);
  }

  protected peerOf(request: unknown): PeerAddress {
    return { address: (request as ReceivedOnPath).senderPath, port: 0, family: "unix" };
  }
}

/**
 * Sends `bytes` as one datagram from a UnixDatagramServer's socket to the socket bound at `path`:
 * what `DatagramRequestHandler.reply()` does for a Unix peer. A sender that did not bind (path "")
 * is NO_SUCH_SOCKET; a sender that closed its socket is CONNECTION_REFUSED or NO_SUCH_SOCKET.
 * @example await sendToPath(server.socket!, Buffer.from("hi\n"), "/tmp/client.sock");
 */
export function sendToPath(socket: UnixDatagramSocket, bytes: Uint8Array, path: string): Promise<void> {
  if (path === "") {
    return Promise.reject(
      new NetworkError(
        "NO_SUCH_SOCKET",
        "cannot reply to a Unix datagram sender that has no path (its socket is unbound)",
        {
          hint: "the client must bind its socket to a path before sending, to get replies",
        },
      ),
    );
  }
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new Promise((resolve, reject) => {
    try {
      socket.sendTo(buf, 0, buf.length, path, (err) => {
        if (err) reject(sendError(err, path));
        else resolve();
      });
    } catch (err) {
      reject(sendError(err, path));
    }
  });
}

/** node-unix-socket's DgramSocket class, or UNSUPPORTED where the package or its binary is missing. */
function loadDgramSocket(): DgramSocketClass {
  try {
    return (requireOptional("node-unix-socket") as { DgramSocket: DgramSocketClass }).DgramSocket;
  } catch (err) {
    throw new NetworkError(
      "UNSUPPORTED",
      `Unix datagram sockets need node-unix-socket, which has no binary for ${process.platform}-${process.arch} here`,
      { hint: "use UnixStreamServer, or UDPServer on 127.0.0.1", cause: err },
    );
  }
}

/**
 * node-unix-socket's errors carry the OS's message with code "Unknown"; these are the ones it can
 * give, so that toNetworkError can tell them apart.
 */
const ERRNO_BY_MESSAGE: ReadonlyArray<readonly [string, string]> = [
  ["Address already in use", "EADDRINUSE"],
  ["No such file or directory", "ENOENT"],
  ["Permission denied", "EACCES"],
  ["Operation not permitted", "EPERM"],
  ["Connection refused", "ECONNREFUSED"],
  ["Protocol wrong type for socket", "EPROTOTYPE"],
  ["Message too long", "EMSGSIZE"],
  ["No buffer space available", "ENOBUFS"],
  ["Resource temporarily unavailable", "EAGAIN"],
  ["path to bind is too long", "ENAMETOOLONG"],
];

/** `err` with the errno its message names as `code` (and `err` as `cause`); unchanged when none. */
function withErrno(err: unknown): NodeJS.ErrnoException {
  const e = err instanceof Error ? err : new Error(String(err));
  const errno = ERRNO_BY_MESSAGE.find(([text]) => e.message.includes(text))?.[1];
  if (!errno) return e;
  return Object.assign(new Error(e.message, { cause: e }), { code: errno });
}

function bindError(err: unknown, path: string): NetworkError {
  const e = withErrno(err);
  if (e.code === "ENOENT") {
    return new NetworkError(
      "NO_SUCH_SOCKET",
      `cannot listen on ${path}: directory ${dirname(path)} does not exist`,
      {
        hint: "create the directory, or choose another path",
        cause: e,
      },
    );
  }
  if (e.code === "ENAMETOOLONG") {
    return new NetworkError(
      "INVALID_OPTION",
      `cannot listen on ${path}: ${Buffer.byteLength(path)} bytes is too long for a Unix socket path`,
      { hint: "choose a path of at most 107 bytes, e.g. under /tmp", cause: e },
    );
  }
  return toNetworkError(e, { action: "listen", path });
}

function sendError(err: unknown, path: string): NetworkError {
  const e = withErrno(err);
  if (e.message.includes("has been closed")) {
    return new NetworkError("ABORTED", `cannot send to ${path}: the server's socket is closed`, { cause: e });
  }
  const isPeerGone = e.code === "ECONNREFUSED" || e.code === "ENOENT";
  return toNetworkError(e, {
    action: "send",
    path,
    ...(isPeerGone ? { hint: "the sender closed its socket before the reply" } : {}),
  });
}
