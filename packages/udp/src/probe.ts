import { MAX_UDP_PAYLOAD_BYTES, UdpError } from "./errors.js";

/**
 * The probe a pinger sends, big-endian:
 * ```
 * 0   4  magic "NLUP"
 * 4   4  session id (u32): tells this run's replies from an earlier run's on the same port
 * 8   4  sequence number (u32)
 * 12  8  send time (float64, ms since the epoch, µs precision)
 * 20  …  padding up to the probe size: byte i is i & 0xff, so a mangled echo is noticed
 * ```
 * Seq and send time let a reply that comes after its timeout be recognised as late, and a second
 * copy as a duplicate, without mistaking either for the probe in flight.
 */
export const PROBE_HEADER_BYTES = 20;

/** The magic that opens every probe: "NLUP". */
export const PROBE_MAGIC = 0x4e4c5550;

/** One probe's identity. */
export interface Probe {
  sessionId: number;
  seq: number;
  /** ms since the epoch, as written by the sender. */
  sentAt: number;
}

/**
 * Builds a probe of exactly `sizeBytes` bytes (header + padding).
 * @example encodeProbe({ sessionId: 7, seq: 0, sentAt: Date.now() }, 64).length // 64
 */
export function encodeProbe(probe: Probe, sizeBytes: number): Buffer {
  if (!Number.isInteger(sizeBytes) || sizeBytes < PROBE_HEADER_BYTES || sizeBytes > MAX_UDP_PAYLOAD_BYTES) {
    throw new UdpError(
      "INVALID_OPTION",
      `probe size must be an integer from ${PROBE_HEADER_BYTES} to ${MAX_UDP_PAYLOAD_BYTES} bytes, got ${sizeBytes}`,
    );
  }
  const out = Buffer.allocUnsafe(sizeBytes);
  out.writeUInt32BE(PROBE_MAGIC, 0);
  out.writeUInt32BE(probe.sessionId >>> 0, 4);
  out.writeUInt32BE(probe.seq >>> 0, 8);
  out.writeDoubleBE(probe.sentAt, 12);
  for (let i = PROBE_HEADER_BYTES; i < sizeBytes; i++) out[i] = i & 0xff;
  return out;
}

/** Why a datagram is not a reply to one of our probes. */
export type NotAProbe = "short" | "magic" | "padding";

/**
 * Reads a probe back from a datagram, or says why it is not one: too short for the header, a wrong
 * magic, or padding that does not match (the echo mangled it).
 */
export function decodeProbe(packet: Uint8Array): Probe | NotAProbe {
  if (packet.length < PROBE_HEADER_BYTES) return "short";
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  if (view.getUint32(0) !== PROBE_MAGIC) return "magic";
  for (let i = PROBE_HEADER_BYTES; i < packet.length; i++) {
    if (packet[i] !== (i & 0xff)) return "padding";
  }
  return { sessionId: view.getUint32(4), seq: view.getUint32(8), sentAt: view.getFloat64(12) };
}
