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
