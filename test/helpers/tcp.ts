import net from "node:net";
import tls from "node:tls";
import { onTestFinished } from "vitest";

/**
 * A server on a free port of 127.0.0.1 that plays the peer by hand (so a test does not trust the
 * code it tests): each connection (a tls.Server's: each handshake done) goes to `onConnection`.
 * When the test finishes its connections are destroyed and it is closed. `server` is a plain
 * net.Server unless the test needs its own: a tls.Server, or `{ allowHalfOpen: true }`.
 */
export async function serve(
  onConnection: (socket: net.Socket) => void,
  server: net.Server = net.createServer(),
): Promise<number> {
  const sockets = new Set<net.Socket>();
  server.on(server instanceof tls.Server ? "secureConnection" : "connection", (s: net.Socket) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

/**
 * A plain TCP connection to 127.0.0.1:`port` that reads and drops what the server sends (a socket
 * with unread bytes never emits 'end', so its 'close' would wait on us, not on the server);
 * destroyed when the test finishes.
 */
export function drainingConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    onTestFinished(() => {
      s.destroy();
    });
    s.on("error", () => {});
    s.resume();
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** Resolves with how long it took `socket` to close (0 if it is already); rejects after `ms`. */
export function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  const started = Date.now();
  if (socket.destroyed) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`socket still open after ${ms} ms`)), ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

/**
 * Whether `socket` connects within `ms` (false: the handshake is not done, e.g. a full accept
 * queue). A timer due while this process stalled runs before the poll that delivers 'connect', so
 * on time-out the loop polls once more first (setImmediate runs after the poll phase): a handshake
 * the kernel completed meanwhile still counts.
 */
export function connectsWithin(socket: net.Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const onConnect = () => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once("connect", onConnect);
    const timer = setTimeout(() => {
      setImmediate(() => {
        socket.off("connect", onConnect);
        resolve(false);
      });
    }, ms);
  });
}
