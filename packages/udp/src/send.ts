import dgram from "node:dgram";
import { isWireWatched, tapDatagram } from "@netlab/socketserver";
import { resolveHost } from "./address.js";
import { formatHostPort, MAX_UDP_PAYLOAD_BYTES, requireRange, toUdpError, UdpError } from "./errors.js";

/** Options for {@link sendDatagram}. */
export interface SendOptions {
  /** Default "127.0.0.1"; a name is resolved first. */
  host?: string;
  port: number;
  /** The payload: 0 to 65,507 bytes. */
  data: string | Uint8Array;
  /** Wait this long for one reply, ms; 0 = send and return at once. Default 0. */
  waitMs?: number;
  signal?: AbortSignal;
}

/** What {@link sendDatagram} saw. */
export interface SendResult {
  /** Our address, `host:port` (the port the reply comes back to). */
  local: string;
  /** Bytes sent. */
  bytes: number;
  /** The first datagram that came back, when `waitMs` > 0 and one did. */
  reply?: { from: string; packet: Buffer; rttMs: number };
}

/**
 * Sends one datagram from a connected socket (`sendto`), and with `waitMs` waits for a reply
 * (`recvfrom`). Connected, so ICMP port unreachable comes back as PORT_UNREACHABLE rather than
 * silence. Fails with UdpError: MESSAGE_TOO_LARGE (over 65,507 bytes, before sending),
 * PORT_UNREACHABLE, NO_REPLY (none within `waitMs`), ABORTED, DNS_FAILURE, HOST_UNREACHABLE.
 * @example const { reply } = await sendDatagram({ port: 5003, data: "hello", waitMs: 1000 });
 */
export async function sendDatagram(options: SendOptions): Promise<SendResult> {
  const { host = "127.0.0.1", port, data, waitMs = 0, signal } = options;
  requireRange("waitMs", waitMs, 0, 2 ** 31 - 1);
  const bytes = typeof data === "string" ? Buffer.from(data) : data;
  if (bytes.length > MAX_UDP_PAYLOAD_BYTES) {
    throw new UdpError(
      "MESSAGE_TOO_LARGE",
      `a datagram of ${bytes.length} bytes is over the largest UDP payload (${MAX_UDP_PAYLOAD_BYTES} bytes)`,
      { hint: `send at most ${MAX_UDP_PAYLOAD_BYTES} bytes` },
    );
  }
  const target = await resolveHost(host, port);
  const socket = dgram.createSocket(target.type);
  // Errors arrive as events at any time (ICMP port unreachable comes back on a later recv).
  let onError: (err: Error) => void = () => {};
  socket.on("error", (err) => onError(err));
  try {
    await new Promise<void>((resolve, reject) => {
      onError = reject;
      socket.connect(port, target.address, () => resolve());
    });
    const local = socket.address();
    const result: SendResult = { local: formatHostPort(local.address, local.port), bytes: bytes.length };
    const started = performance.now();
    const reply =
      waitMs > 0
        ? new Promise<NonNullable<SendResult["reply"]>>((resolve, reject) => {
            const finish = (err: Error | undefined, value?: NonNullable<SendResult["reply"]>) => {
              clearTimeout(timer);
              signal?.removeEventListener("abort", abort);
              socket.removeAllListeners("message");
              onError = () => {};
              if (err) reject(err);
              else resolve(value!);
            };
            const abort = () => finish(new UdpError("ABORTED", "stopped before a reply came"));
            const timer = setTimeout(() => finish(noReply(host, port, waitMs)), waitMs);
            signal?.addEventListener("abort", abort, { once: true });
            onError = (err) => finish(err);
            socket.on("message", (packet, rinfo) => {
              if (isWireWatched()) tapDatagram(socket, "client", "in", rinfo, packet);
              finish(undefined, {
                from: formatHostPort(rinfo.address, rinfo.port),
                packet,
                rttMs: performance.now() - started,
              });
            });
          })
        : undefined;
    // Attach before sending so an early failure is not unhandled.
    reply?.catch(() => {});
    if (isWireWatched()) tapDatagram(socket, "client", "out", undefined, bytes);
    await new Promise<void>((resolve, reject) => {
      socket.send(bytes, (err) => (err ? reject(err) : resolve()));
    });
    if (reply) result.reply = await reply;
    return result;
  } catch (err) {
    throw toUdpError(err, { action: "send", host, port });
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}

function noReply(host: string, port: number, waitMs: number): UdpError {
  return new UdpError("NO_REPLY", `no reply from ${formatHostPort(host, port)} within ${waitMs / 1000} s`, {
    hint: "check that something answers on that port, or wait longer with --wait",
  });
}
