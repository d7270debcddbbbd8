import dgram from "node:dgram";
import { onTestFinished } from "vitest";

/** A raw UDP socket bound to a free port on 127.0.0.1 (or ::1 for udp6), closed when the test ends. */
export async function udpClient(type: "udp4" | "udp6" = "udp4"): Promise<dgram.Socket> {
  const socket = dgram.createSocket(type);
  await new Promise<void>((r) => socket.bind(0, type === "udp6" ? "::1" : "127.0.0.1", () => r()));
  onTestFinished(() => new Promise<void>((r) => socket.close(() => r())));
  return socket;
}

/** A UDP port on 127.0.0.1 with nothing bound to it (bound, then closed). */
export async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((r) => socket.bind(0, "127.0.0.1", () => r()));
  const { port } = socket.address();
  await new Promise<void>((r) => socket.close(() => r()));
  return port;
}

/** Sends `data` to 127.0.0.1:`port` and resolves with the next datagram back (rejects after `timeoutMs`). */
export function roundTrip(
  socket: dgram.Socket,
  port: number,
  data: Buffer,
  timeoutMs = 3_000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo of ${data.length} bytes`)), timeoutMs);
    socket.once("message", (msg) => {
      clearTimeout(timer);
      resolve(msg);
    });
    socket.send(data, port, "127.0.0.1");
  });
}
