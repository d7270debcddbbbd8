import { describe, expect, it } from "vitest";
import { describeBytes, sniffProtocol, startsTlsRecord, TLS_PLAINTEXT_REPLY } from "../src/index.js";

const b = (s: string | number[]) => (typeof s === "string" ? Buffer.from(s) : Uint8Array.from(s));

describe("sniffProtocol", () => {
  it("#20: names what a wrong port speaks from its first bytes", () => {
    expect(sniffProtocol(b("* netlab chat/1 — welcome"))?.name).toBe("netlab-chat");
    expect(sniffProtocol(b([0, 0, 0, 40, ...Buffer.from('{"op":"error"')]))?.name).toBe("netlab-files");
    expect(sniffProtocol(b("HTTP/1.1 200 OK\r\n"))?.name).toBe("http");
    expect(sniffProtocol(b([0x15, 0x03, 0x03, 0, 2, 2, 70]))?.name).toBe("tls");
    expect(sniffProtocol(b("SSH-2.0-OpenSSH_9\r\n"))?.name).toBe("ssh");
    expect(sniffProtocol(b(`${TLS_PLAINTEXT_REPLY}; try: lab client --tls --port 5001\n`))?.name).toBe(
      "netlab-tls-port",
    );
    expect(sniffProtocol(b("hello\n"))).toBeUndefined();
    expect(sniffProtocol(b([]))).toBeUndefined();
  });
});

describe("startsTlsRecord", () => {
  it("says yes to a handshake or alert record, no to text, and waits on one byte that could begin one", () => {
    expect(startsTlsRecord(0x16, 0x03)).toBe(true);
    expect(startsTlsRecord(0x15, 0x03)).toBe(true);
    expect(startsTlsRecord(0x16, undefined)).toBeUndefined();
    expect(startsTlsRecord(0x16, 0x41)).toBe(false);
    expect(startsTlsRecord(0x68, 0x69)).toBe(false);
    expect(startsTlsRecord(0x68, undefined)).toBe(false);
  });
});

describe("describeBytes", () => {
  it("#20: quotes a text line with its controls shown, never live, and cut", () => {
    expect(describeBytes(b("SSH-2.0-Open\x1b[31mSSH\r\nmore"))).toBe("'SSH-2.0-Open^[[31mSSH^M'");
    expect(describeBytes(b(`${"x".repeat(100)}\n`))).toBe(`'${"x".repeat(59)}…'`);
  });

  it("#20: shows binary as hex", () => {
    expect(describeBytes(b([0, 0, 0, 0xc6, 0x7b]))).toBe("bytes 00 00 00 c6 7b");
    expect(describeBytes(b([0xff, 0xfe, ...new Array(20).fill(0)]))).toMatch(/^bytes ff fe 00 .* …$/);
  });
});
