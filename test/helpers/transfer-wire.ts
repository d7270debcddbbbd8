/**
 * For tests that play a hostile transfer server by hand (a plain net.Server speaking the wire
 * protocol: a u32 big-endian length, then a JSON header; see packages/transfer/src/header.ts), so
 * they do not trust the code they test.
 */
import net from "node:net";
import getPort from "get-port";
import { onTestFinished } from "vitest";

/** One header frame as the transfer protocol sends it. */
export function frame(header: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  return Buffer.concat([head, json]);
}

/** Characters that must never reach a terminal live (C0 but \n, DEL, C1, bidi controls, separators). */
export const LIVE_CONTROLS =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

/**
 * A TCP server on 127.0.0.1 (port from get-port) handing each connection to `onConnection`; its
 * connections are destroyed, and it is closed, when the test finishes.
 */
export async function serve(onConnection: (socket: net.Socket) => void): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    onConnection(socket);
  });
  const port = await getPort({ host: "127.0.0.1" });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  onTestFinished(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return port;
}
