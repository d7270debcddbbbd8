import { safeLine } from "./terminal.js";

/** What {@link sniffProtocol} recognised at the start of what a peer sent. */
export interface SniffedProtocol {
  /** Stable name: `netlab-chat`, `netlab-files`, `netlab-tls-port`, `http`, `tls`, `ssh`, `smtp-like`. */
  name: string;
  /** How a message calls the peer: "a netlab chat server (lab server)". */
  description: string;
}

/**
 * How a netlab TLS server's one line to a plaintext client starts: servers begin their reply with
 * it and clients recognise it by it ({@link sniffProtocol} names it `netlab-tls-port`).
 */
export const TLS_PLAINTEXT_REPLY = "this port speaks TLS";

/** Longest excerpt {@link describeBytes} shows, in characters. */
export const SNIFF_EXCERPT_CHARS = 60;

/**
 * Names the protocol a peer speaks from the first bytes it sent, when they are one netlab knows,
 * so that a client pointed at the wrong port says what it reached (a chat server, an HTTP server)
 * instead of failing on a length prefix made of text. `undefined` for anything else.
 * @example sniffProtocol(Buffer.from("* netlab chat/1 — welcome")) // { name: "netlab-chat", … }
 */
export function sniffProtocol(bytes: Uint8Array): SniffedProtocol | undefined {
  const head = Buffer.from(bytes.subarray(0, 64)).toString("latin1");
  if (head.startsWith("* netlab chat/") || /^\{"type":"(welcome|error)"/.test(head)) {
    return { name: "netlab-chat", description: "a netlab chat server (lab server)" };
  }
  // A transfer header: a 4-byte big-endian length (at most 64 KiB), then JSON with an `op`.
  if (bytes.length >= 6 && bytes[0] === 0 && bytes[1]! <= 1 && head.slice(4).startsWith('{"op":')) {
    return { name: "netlab-files", description: "a netlab file server (lab files)" };
  }
  // What a netlab server started with --tls answers a plaintext client, before it closes.
  if (head.startsWith(TLS_PLAINTEXT_REPLY)) {
    return { name: "netlab-tls-port", description: "a netlab server that speaks TLS" };
  }
  if (/^HTTP\/\d/.test(head)) return { name: "http", description: "an HTTP server" };
  if (startsTlsRecord(bytes[0], bytes[1])) {
    return { name: "tls", description: "a TLS server" };
  }
  if (head.startsWith("SSH-")) return { name: "ssh", description: "an SSH server" };
  if (/^(220|421)[ -]/.test(head)) return { name: "smtp-like", description: "a mail or FTP server" };
  return undefined;
}

/**
 * Whether the first two bytes a peer sent begin a TLS record (handshake 22 or alert 21, version
 * 3.x), which no person types: true or false, or undefined while the one byte there could begin one.
 * @example startsTlsRecord(0x16, 0x03) // true: a ClientHello (or a server's first record)
 */
export function startsTlsRecord(first: number | undefined, second: number | undefined): boolean | undefined {
  if (first !== 0x16 && first !== 0x15) return false;
  return second === undefined ? undefined : second === 0x03;
}

/**
 * A short, terminal-safe excerpt of what a peer sent, for an error message: its first line as
 * text when it decodes as UTF-8, otherwise hex; cut to {@link SNIFF_EXCERPT_CHARS}.
 * @example describeBytes(Buffer.from("SSH-2.0-OpenSSH\r\n")) // "'SSH-2.0-OpenSSH^M'"
 */
export function describeBytes(bytes: Uint8Array): string {
  const head = bytes.subarray(0, SNIFF_EXCERPT_CHARS * 4);
  const nl = head.indexOf(0x0a);
  const line = nl === -1 ? head : head.subarray(0, nl);
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(line);
  } catch {}
  // UTF-8 without NULs reads better as text (controls shown as ^[ …); binary as hex.
  if (text !== undefined && !text.includes("\u0000")) {
    return `'${safeLine(text, SNIFF_EXCERPT_CHARS)}'`;
  }
  const hex = Buffer.from(bytes.subarray(0, 16))
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
  return `bytes ${hex}${bytes.length > 16 ? " …" : ""}`;
}
