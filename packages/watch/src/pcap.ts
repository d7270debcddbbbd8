import net from "node:net";
import type { Session } from "./session.js";

/** Bytes of payload per synthetic TCP segment (an Ethernet MSS). */
export const PCAP_SEGMENT_BYTES = 1460;

/** The last time a pcap record header can hold, µs (its seconds are a u32). */
const PCAP_MAX_US = (2 ** 32 - 1) * 1e6;

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const PSH = 0x08;
const RST = 0x04;

interface Flow {
  client: { ip: number[]; port: number };
  server: { ip: number[]; port: number };
  /** Next sequence number each side sends. */
  seq: { client: number; server: number };
  fin: { client: boolean; server: boolean };
}

function endpoint(text: string, fallbackIp: number[], fallbackPort: number): { ip: number[]; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(text);
  if (m && net.isIPv4(m[1]!)) return { ip: m[1]!.split(".").map(Number), port: portOr(m[2]!, fallbackPort) };
  // IPv6 and Unix peers become private IPv4 ones: the bytes are what the capture is for.
  const port = /:(\d+)$/.exec(text);
  return { ip: fallbackIp, port: port ? portOr(port[1]!, fallbackPort) : fallbackPort };
}

/** A recorded port, or the fallback when the recording's is not one (an edited file: 99999999). */
function portOr(text: string, fallback: number): number {
  const port = Number(text);
  return port <= 65_535 ? port : fallback;
}

function checksum(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2 === 1) sum += buf[buf.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** One Ethernet + IPv4 + TCP frame with correct checksums. */
function frame(
  src: { ip: number[]; port: number },
  dst: { ip: number[]; port: number },
  seq: number,
  ack: number,
  flags: number,
  payload: Buffer,
): Buffer {
  const tcp = Buffer.alloc(20 + payload.length);
  tcp.writeUInt16BE(src.port, 0);
  tcp.writeUInt16BE(dst.port, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(flags & ACK ? ack >>> 0 : 0, 8);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(65535, 14);
  payload.copy(tcp, 20);
  const pseudo = Buffer.alloc(12);
  Buffer.from(src.ip).copy(pseudo, 0);
  Buffer.from(dst.ip).copy(pseudo, 4);
  pseudo[9] = 6;
  pseudo.writeUInt16BE(tcp.length, 10);
  let partial = 0;
  for (let i = 0; i < 12; i += 2) partial += pseudo.readUInt16BE(i);
  tcp.writeUInt16BE(checksum(tcp, partial), 16);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + tcp.length, 2);
  ip[6] = 0x40; // don't fragment
  ip[8] = 64;
  ip[9] = 6;
  Buffer.from(src.ip).copy(ip, 12);
  Buffer.from(dst.ip).copy(ip, 16);
  ip.writeUInt16BE(checksum(ip), 10);
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  eth[5] = 1;
  eth[11] = 2;
  return Buffer.concat([eth, ip, tcp]);
}

/**
 * A session as a pcap file Wireshark and tshark open: each connection as synthetic TCP over IPv4
 * (handshake, sequence numbers, ACKs, FIN or RST, checksums), payloads cut at 1460 bytes, at the
 * recording's times. IPv6 and Unix connections get private IPv4 addresses (10.0.0.1 → 10.0.0.2).
 * @example await writeFile("chat.pcap", sessionToPcap(await readSession("chat.jsonl")));
 */
export function sessionToPcap(session: Session): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(262_144, 16);
  head.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(head);
  const t0 = session.header.ts;
  let lastUs = 0;
  const packet = (tMs: number, data: Buffer) => {
    // Strictly increasing times keep the capture's order whatever the rounding; a time pcap's
    // 32-bit seconds cannot hold (before 1970, after 2106: an edited file) is pinned to its range.
    let us = Math.min(Math.max(Math.round((t0 + tMs) * 1000), lastUs + 1, 0), PCAP_MAX_US);
    lastUs = us;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(us / 1e6), 0);
    rec.writeUInt32LE(us % 1e6, 4);
    us = data.length;
    rec.writeUInt32LE(us, 8);
    rec.writeUInt32LE(us, 12);
    parts.push(rec, data);
  };
  const flows = new Map<number, Flow>();
  for (const r of session.records) {
    if (r.type === "open") {
      const f: Flow = {
        client: endpoint(r.client, [10, 0, 0, 1], 40_000 + (r.conn % 20_000)),
        server: endpoint(r.server, [10, 0, 0, 2], 5001),
        seq: { client: 1000 + r.conn * 7919, server: 5000 + r.conn * 104_729 },
        fin: { client: false, server: false },
      };
      flows.set(r.conn, f);
      packet(r.t, frame(f.client, f.server, f.seq.client, 0, SYN, Buffer.alloc(0)));
      f.seq.client++;
      packet(r.t, frame(f.server, f.client, f.seq.server, f.seq.client, SYN | ACK, Buffer.alloc(0)));
      f.seq.server++;
      packet(r.t, frame(f.client, f.server, f.seq.client, f.seq.server, ACK, Buffer.alloc(0)));
      continue;
    }
    const f = flows.get(r.conn);
    if (!f) continue;
    const send = (from: "client" | "server", flags: number, payload: Buffer) => {
      const to = from === "client" ? "server" : "client";
      packet(r.t, frame(f[from], f[to], f.seq[from], f.seq[to], flags, payload));
      f.seq[from] += payload.length + (flags & FIN ? 1 : 0);
    };
    const ackFrom = (from: "client" | "server") => {
      const to = from === "client" ? "server" : "client";
      packet(r.t, frame(f[from], f[to], f.seq[from], f.seq[to], ACK, Buffer.alloc(0)));
    };
    if (r.type === "data") {
      const bytes = Buffer.from(r.b64, "base64");
      for (let i = 0; i < bytes.length; i += PCAP_SEGMENT_BYTES) {
        send(r.from, PSH | ACK, bytes.subarray(i, i + PCAP_SEGMENT_BYTES));
      }
      ackFrom(r.from === "client" ? "server" : "client");
    } else if (r.type === "half_close") {
      if (f.fin[r.from]) continue;
      f.fin[r.from] = true;
      send(r.from, FIN | ACK, Buffer.alloc(0));
      ackFrom(r.from === "client" ? "server" : "client");
    } else if (r.type === "close") {
      if (r.reason === "rst") {
        if (!(f.fin.client && f.fin.server)) send("client", RST | ACK, Buffer.alloc(0));
      } else {
        for (const side of ["client", "server"] as const) {
          if (f.fin[side]) continue;
          f.fin[side] = true;
          send(side, FIN | ACK, Buffer.alloc(0));
          ackFrom(side === "client" ? "server" : "client");
        }
      }
      flows.delete(r.conn);
    }
  }
  return Buffer.concat(parts);
}
