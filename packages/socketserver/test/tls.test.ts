import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { describe, expect, it, onTestFinished } from "vitest";
import { type ConnectionInfo, EchoHandler, NetworkError, type TlsRefusal } from "../src/index.js";
import { serve, within } from "./helpers.js";

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
const cert = fixture("tls-cert.pem");
const key = fixture("tls-key.pem");
const ALPN = ["netlab-chat/1"];

/** Connects with TLS (any certificate), writes `line`, resolves with what came back and the ALPN chosen. */
function tlsRoundTrip(
  port: number,
  line: string,
  alpn?: string[],
): Promise<{ reply: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      rejectUnauthorized: false,
      ...(alpn ? { ALPNProtocols: alpn } : {}),
    });
    onTestFinished(() => void socket.destroy());
    let reply = "";
    socket.on("secureConnect", () => socket.write(line));
    socket.on("data", (d: Buffer) => {
      reply += d.toString();
      if (reply.endsWith("\n")) {
        resolve({ reply, alpn: socket.alpnProtocol ?? false });
        socket.end();
      }
    });
    socket.on("error", reject);
  });
}

describe("TCPServer with the tls option", () => {
  it("serves a line over TLS and agrees on the ALPN protocol", async () => {
    const { port } = await serve(EchoHandler, { tls: { cert, key, alpnProtocols: ALPN } });
    const result = await within(tlsRoundTrip(port, "hello\n", ALPN), 5_000, "echo over TLS");
    expect(result).toEqual({ reply: "hello\n", alpn: "netlab-chat/1" });
  });

  it("serves a client that offers no ALPN (ncat, socat, openssl s_client)", async () => {
    const { port } = await serve(EchoHandler, { tls: { cert, key, alpnProtocols: ALPN } });
    const result = await within(tlsRoundTrip(port, "plain alpn-less\n"), 5_000, "echo");
    expect(result.reply).toBe("plain alpn-less\n");
  });

  it("answers a wrong ALPN protocol with the no_application_protocol alert", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key, alpnProtocols: ALPN } });
    const refused = new Promise<TlsRefusal>((resolve) => server.once("tlsRefused", (_p, r) => resolve(r)));
    const err = await within(
      tlsRoundTrip(port, "x\n", ["h2"]).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      ),
      5_000,
      "the alert",
    );
    expect(err?.code).toBe("ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
    expect((await within(refused, 5_000, "tlsRefused")).reason).toBe("handshake");
  });

  it("tells a plaintext client in one line that the port speaks TLS, and closes", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key } });
    const refused = new Promise<TlsRefusal>((resolve) => server.once("tlsRefused", (_p, r) => resolve(r)));
    const text = await within(
      new Promise<string>((resolve) => {
        const socket = net.connect(port, "127.0.0.1", () => socket.write("hello\n"));
        let got = "";
        socket.on("data", (d: Buffer) => {
          got += d.toString();
        });
        socket.on("close", () => resolve(got));
      }),
      5_000,
      "the plaintext reply and close",
    );
    expect(text).toBe("this port speaks TLS; try: lab client --tls HOST PORT\n");
    expect((await refused).reason).toBe("plaintext");
  });

  it("closes a connection that starts no handshake within handshakeTimeoutMs", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key, handshakeTimeoutMs: 200 } });
    const refused = new Promise<TlsRefusal>((resolve) => server.once("tlsRefused", (_p, r) => resolve(r)));
    const socket = net.connect(port, "127.0.0.1");
    onTestFinished(() => void socket.destroy());
    socket.on("error", () => {});
    let got = "";
    socket.on("data", (d: Buffer) => {
      got += d.toString();
    });
    await within(new Promise((resolve) => socket.once("close", resolve)), 5_000, "the close");
    expect((await refused).reason).toBe("timeout");
    // Silent all along, as a plaintext client waiting for a banner is: it is told what the port speaks.
    expect(got).toBe("this port speaks TLS; try: lab client --tls HOST PORT\n");
  });

  it("closes a connection that stalls inside its handshake without a plaintext line", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key, handshakeTimeoutMs: 200 } });
    const refused = new Promise<TlsRefusal>((resolve) => server.once("tlsRefused", (_p, r) => resolve(r)));
    const socket = net.connect(port, "127.0.0.1", () => socket.write(Buffer.from([0x16, 0x03, 0x01])));
    onTestFinished(() => void socket.destroy());
    socket.on("error", () => {});
    let got = Buffer.alloc(0);
    socket.on("data", (d: Buffer) => {
      got = Buffer.concat([got, d]);
    });
    await within(new Promise((resolve) => socket.once("close", resolve)), 5_000, "the close");
    expect((await refused).reason).toBe("timeout");
    expect(got.toString()).not.toContain("speaks TLS");
  });

  it("shutdown closes handshakes still under way instead of leaving them to handshakeTimeoutMs", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key, handshakeTimeoutMs: 60_000 } });
    const closed = [Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01])].map(async (first) => {
      const socket = net.connect(port, "127.0.0.1");
      onTestFinished(() => void socket.destroy());
      socket.on("error", () => {});
      await new Promise((resolve) => socket.once("connect", resolve));
      if (first.length > 0) socket.write(first); // silent, and stalled inside its ClientHello
      return new Promise((resolve) => socket.once("close", resolve));
    });
    // The backlog is FIFO: once a later client is served, both reached the acceptor.
    await within(tlsRoundTrip(port, "after them\n"), 5_000, "a later client served");
    await within(server.shutdown(), 5_000, "shutdown");
    await within(Promise.all(closed), 5_000, "both peers closed");
  });

  it("past maxConnections unfinished handshakes closes the oldest, so a real client still gets in", async () => {
    const { server, port } = await serve(EchoHandler, { maxConnections: 4, tls: { cert, key } });
    const evicted: TlsRefusal[] = [];
    server.on("tlsRefused", (_p, r) => evicted.push(r));
    // Five for four places: the fifth evicts the first whatever the timing, and the real client,
    // accepted after them (the backlog is FIFO), evicts the second.
    const stalled = await Promise.all(
      Array.from(
        { length: 5 },
        () =>
          new Promise<net.Socket>((resolve) => {
            const s = net.connect(port, "127.0.0.1", () => {
              s.write(Buffer.from([0x16, 0x03, 0x01, 0x01, 0x00]));
              resolve(s);
            });
            s.on("error", () => {});
            onTestFinished(() => void s.destroy());
          }),
      ),
    );
    const closed = new Promise<void>((resolve) => stalled[0]!.once("close", () => resolve()));
    stalled[0]!.resume();
    const result = await within(tlsRoundTrip(port, "still served\n"), 5_000, "echo past the crowd");
    expect(result.reply).toBe("still served\n");
    await within(closed, 5_000, "the oldest closed");
    expect(evicted.map((r) => r.reason)).toContain("evicted");
  });

  it("counts application bytes, not TLS records, in a connection's bytesIn", async () => {
    const { server, port } = await serve(EchoHandler, { tls: { cert, key } });
    const closed = new Promise<ConnectionInfo>((resolve) => server.once("close", resolve));
    await within(tlsRoundTrip(port, "12345\n"), 5_000, "echo");
    const info = await within(closed, 5_000, "close");
    expect(info.bytesIn).toBe(6);
  });

  it("refuses a key that does not belong to the certificate with INVALID_OPTION", async () => {
    const attempt = serve(EchoHandler, { tls: { cert, key: cert } });
    await expect(attempt).rejects.toThrow(NetworkError);
    await expect(attempt).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});
