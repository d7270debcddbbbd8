import dgram from "node:dgram";
import { isWireWatched, tapDatagram } from "@netlab/socketserver";
import { resolveHost } from "./address.js";
import { MAX_UDP_PAYLOAD_BYTES, requireInt, requireRange, toUdpError } from "./errors.js";

/** Options for {@link blast}. */
export interface BlastOptions {
  /** Default "127.0.0.1". */
  host?: string;
  port: number;
  /** Datagrams to send. */
  count: number;
  /** Bytes per datagram, 4–65,507 (the first 4 carry the sequence number). Default 1400. */
  sizeBytes?: number;
  /** Sends handed to the kernel and not yet confirmed, at most: 1–4096. Default 64. */
  windowSize?: number;
  /** Pace to this many datagrams per second. Default Infinity (as fast as the sender can). */
  ratePps?: number;
  signal?: AbortSignal;
}

/** What a blast did. */
export interface BlastResult {
  sent: number;
  bytes: number;
  /** When the first datagram left, ms since the epoch (µs precision). */
  startedAt: number;
  elapsedMs: number;
  packetsPerSecond: number;
}

/** Defaults for {@link BlastOptions}. */
export const BLAST_DEFAULTS = {
  host: "127.0.0.1",
  sizeBytes: 1400,
  windowSize: 64,
  ratePps: Number.POSITIVE_INFINITY,
};

/**
 * Sends `count` datagrams one way as fast as allowed (a bounded flood, for studying loss and
 * receive buffers): each carries its sequence number (u32, big-endian) then zeros. UDP has no flow
 * control, so what the receiver cannot take is lost; compare its count with `sent`.
 * @example const r = await blast({ port: 9999, count: 100_000, sizeBytes: 1400 }); r.packetsPerSecond
 */
export async function blast(options: BlastOptions): Promise<BlastResult> {
  const o = {
    ...BLAST_DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Required<Omit<BlastOptions, "signal">> & { signal?: AbortSignal };
  requireInt("port", o.port, { min: 1, max: 65_535 });
  requireInt("count", o.count, { min: 0, max: Number.MAX_SAFE_INTEGER });
  requireInt("sizeBytes", o.sizeBytes, { min: 4, max: MAX_UDP_PAYLOAD_BYTES });
  requireInt("windowSize", o.windowSize, { min: 1, max: 4096 });
  if (o.ratePps !== Number.POSITIVE_INFINITY) requireRange("ratePps", o.ratePps, 1, 1e9);
  const target = await resolveHost(o.host, o.port);
  const socket = dgram.createSocket(target.type);
  const where = { action: "send" as const, host: o.host, port: o.port };
  let failure: unknown;
  socket.on("error", (err) => {
    failure ??= err;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(o.port, target.address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    // One buffer per window slot: a buffer is not reused before its send has completed.
    const buffers = Array.from({ length: o.windowSize }, () => Buffer.alloc(o.sizeBytes));
    const startedAt = performance.timeOrigin + performance.now();
    const started = performance.now();
    let sent = 0;
    let inFlight = 0;
    let wake: (() => void) | undefined;
    const onSent = (err: Error | null) => {
      inFlight--;
      if (err) failure ??= err;
      wake?.();
    };
    while (sent < o.count && failure === undefined && !o.signal?.aborted) {
      if (inFlight >= o.windowSize) {
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
        continue;
      }
      if (o.ratePps !== Number.POSITIVE_INFINITY) {
        const due = started + (sent * 1000) / o.ratePps;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      }
      const buf = buffers[sent % buffers.length]!;
      buf.writeUInt32BE(sent >>> 0, 0);
      inFlight++;
      if (isWireWatched()) tapDatagram(socket, "client", "out", undefined, buf);
      socket.send(buf, onSent);
      sent++;
    }
    while (inFlight > 0) {
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
    const elapsedMs = performance.now() - started;
    return {
      sent,
      bytes: sent * o.sizeBytes,
      startedAt,
      elapsedMs,
      packetsPerSecond: elapsedMs > 0 ? (sent * 1000) / elapsedMs : 0,
    };
  } catch (err) {
    throw toUdpError(err, where);
  } finally {
    await new Promise<void>((resolve) => socket.close(() => resolve()));
  }
}
