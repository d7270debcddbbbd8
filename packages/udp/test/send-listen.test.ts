import dgram from "node:dgram";
import { describe, expect, it, onTestFinished } from "vitest";
import { closedUdpPort } from "../../../test/helpers/udp.js";
import {
  MAX_UDP_PAYLOAD_BYTES,
  parseHostPort,
  parsePort,
  type ReceivedDatagram,
  resolveHost,
  sendDatagram,
  toUdpError,
  UdpError,
  UdpListener,
} from "../src/index.js";
import { serveUntilTestEnds } from "./helpers.js";

describe("sendDatagram and UdpListener (sendto / recvfrom)", () => {
  it("delivers a datagram with the sender's address", async () => {
    const listener = await serveUntilTestEnds(new UdpListener({ port: 0 }));
    const got = new Promise<ReceivedDatagram>((r) => listener.once("datagram", r));
    const sent = await sendDatagram({ port: listener.address.port, data: "hello" });
    const d = await got;
    expect(d.packet.toString()).toBe("hello");
    expect(`${d.peer.address}:${d.peer.port}`).toBe(sent.local);
    expect(listener.datagrams).toBe(1);
    expect(listener.bytesIn).toBe(5);
  });

  it("sends an empty datagram", async () => {
    const listener = await serveUntilTestEnds(new UdpListener({ port: 0 }));
    const got = new Promise<ReceivedDatagram>((r) => listener.once("datagram", r));
    await sendDatagram({ port: listener.address.port, data: new Uint8Array(0) });
    expect((await got).packet.length).toBe(0);
  });

  it("waits for a reply and returns it", async () => {
    const peer = dgram.createSocket("udp4");
    peer.on("message", (m, r) => peer.send(Buffer.from(`re: ${m}`), r.port, r.address));
    await new Promise<void>((r) => peer.bind(0, "127.0.0.1", () => r()));
    onTestFinished(() => new Promise<void>((r) => peer.close(() => r())));
    const { reply } = await sendDatagram({ port: peer.address().port, data: "ping", waitMs: 2000 });
    expect(reply?.packet.toString()).toBe("re: ping");
    expect(reply?.from).toBe(`127.0.0.1:${peer.address().port}`);
  });

  it("fails with NO_REPLY when no reply comes", async () => {
    const listener = await serveUntilTestEnds(new UdpListener({ port: 0 }));
    const err = await sendDatagram({ port: listener.address.port, data: "x", waitMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect((err as UdpError).code).toBe("NO_REPLY");
    expect((err as UdpError).message).toBe(`no reply from 127.0.0.1:${listener.address.port} within 0.05 s`);
  });

  it("reports ICMP port unreachable as PORT_UNREACHABLE when waiting", async () => {
    const port = await closedUdpPort();
    const err = await sendDatagram({ port, data: "x", waitMs: 2000 }).catch((e: unknown) => e);
    expect((err as UdpError).code).toBe("PORT_UNREACHABLE");
  });

  it("refuses a datagram over 65,507 bytes before sending", async () => {
    const err = await sendDatagram({ port: 9, data: new Uint8Array(MAX_UDP_PAYLOAD_BYTES + 1) }).catch(
      (e: unknown) => e,
    );
    expect((err as UdpError).code).toBe("MESSAGE_TOO_LARGE");
  });

  it("refuses a listener on a port in use", async () => {
    const first = await serveUntilTestEnds(new UdpListener({ port: 0 }));
    const err = await new UdpListener({ port: first.address.port }).listen().catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("ADDRESS_IN_USE");
  });
});

describe("addresses and error mapping", () => {
  it("parses HOST:PORT, [IPv6]:PORT and :PORT", () => {
    expect(parseHostPort("127.0.0.1:5003")).toEqual({ host: "127.0.0.1", port: 5003 });
    expect(parseHostPort("[::1]:9")).toEqual({ host: "::1", port: 9 });
    expect(parseHostPort("localhost:65535")).toEqual({ host: "localhost", port: 65535 });
    expect(parseHostPort(":7")).toEqual({ host: "127.0.0.1", port: 7 });
  });

  it("resolves IP literals as they are and localhost to 127.0.0.1 first", async () => {
    expect(await resolveHost("::1", 1)).toEqual({ address: "::1", type: "udp6" });
    expect(await resolveHost("127.0.0.1", 1)).toEqual({ address: "127.0.0.1", type: "udp4" });
    expect(await resolveHost("localhost", 1)).toEqual({ address: "127.0.0.1", type: "udp4" });
  });

  it("rejects what is not HOST:PORT, and ports out of range", () => {
    for (const bad of ["127.0.0.1", "::1:5003", "host:", "host:0", "host:65536", "host:12x", "[::1]5003"]) {
      expect(() => parseHostPort(bad), bad).toThrow(UdpError);
    }
    expect(parsePort("0", { allowZero: true })).toBe(0);
    expect(() => parsePort("-1")).toThrow(/port must be a number from 1 to 65535, got "-1"/);
  });

  it("maps errno codes to one-line errors with hints", () => {
    const at = { action: "send" as const, host: "127.0.0.1", port: 5003 };
    const errno = (code: string) => Object.assign(new Error(code), { code });
    expect(toUdpError(errno("ECONNREFUSED"), at).message).toBe(
      "no UDP service at 127.0.0.1:5003 (ICMP port unreachable): is 'lab udp echo' running?",
    );
    expect(toUdpError(errno("EHOSTUNREACH"), at)).toMatchObject({
      code: "HOST_UNREACHABLE",
      message: "cannot send to udp 127.0.0.1:5003: host unreachable",
    });
    expect(toUdpError(errno("ENETUNREACH"), at).code).toBe("HOST_UNREACHABLE");
    expect(toUdpError(errno("ENOTFOUND"), { ...at, host: "nosuch" }).message).toBe(
      "cannot resolve host nosuch",
    );
    expect(toUdpError(errno("EMSGSIZE"), at).code).toBe("MESSAGE_TOO_LARGE");
    expect(toUdpError(errno("EADDRINUSE"), { ...at, action: "bind" }).message).toBe(
      "udp port 5003 on 127.0.0.1 is already in use",
    );
    expect(toUdpError(errno("EACCES"), { ...at, action: "bind" }).hint).toBe("use a port above 1023");
    expect(toUdpError(errno("EWHAT"), at)).toMatchObject({ code: "UNKNOWN" });
    expect(toUdpError(errno("ECONNREFUSED"), { ...at, host: "::1" }).message).toContain("[::1]:5003");
  });
});
