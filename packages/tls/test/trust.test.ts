import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type TLSSocket } from "node:tls";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { serve as servePlain } from "../../../test/helpers/tcp.js";
import {
  type ClientTrustOptions,
  clientTrust,
  connectTls,
  fingerprint,
  generateCertificate,
  type PemPair,
  tlsExitCode,
} from "../src/index.ts";

interface Served {
  port: number;
  /** Per accepted TCP connection: the application bytes it sent, known once it closed. */
  received: Promise<number>[];
}

/**
 * A real TLS server on 127.0.0.1 that echoes and counts the application bytes each client sent.
 * Counting starts at the TCP accept, so a client refused right after the handshake still shows
 * up, with 0, even if the server never saw its TLS session complete.
 */
async function serve(cert: PemPair): Promise<Served> {
  const received: Promise<number>[] = [];
  const counts = new Map<number, number>();
  const server = createServer({ cert: cert.cert, key: cert.key }, (socket: TLSSocket) => {
    socket.on("data", (chunk: Buffer) => {
      counts.set(socket.remotePort!, (counts.get(socket.remotePort!) ?? 0) + chunk.length);
      socket.write(chunk);
    });
    socket.on("error", () => {});
  });
  server.on("connection", (raw: Socket) => {
    const port = raw.remotePort!;
    counts.set(port, 0);
    received.push(new Promise((resolve) => raw.on("close", () => resolve(counts.get(port) ?? 0))));
  });
  server.on("tlsClientError", () => {});
  const port = await getPort({ host: "127.0.0.1" });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port, received };
}

let dir: string;
let first: PemPair;
let rotated: PemPair;
let ca: PemPair;
let leaf: PemPair;
let wrongName: PemPair;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "netlab-trust-"));
  [first, rotated, ca] = await Promise.all([
    generateCertificate(),
    generateCertificate(),
    generateCertificate({ isCa: true, commonName: "netlab test CA" }),
  ]);
  [leaf, wrongName] = await Promise.all([
    generateCertificate({ issuer: ca, sans: ["localhost", "127.0.0.1"] }),
    generateCertificate({ issuer: ca, sans: ["elsewhere.example"] }),
  ]);
  await writeFile(join(dir, "ca.pem"), ca.cert);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Connects with `options`, sends one line, reads the echo; resolves to what came back and the peer check. */
async function exchange(port: number, options: ClientTrustOptions, host = "localhost") {
  const trust = await clientTrust(options);
  const { socket, peer } = await connectTls({ host, port, trust, handshakeTimeoutMs: 5_000 });
  onTestFinished(() => {
    socket.destroy();
  });
  socket.write("ping\n");
  const echo = await new Promise<string>((resolve) =>
    socket.once("data", (chunk: Buffer) => resolve(String(chunk))),
  );
  socket.end();
  return { echo, peer };
}

async function refused(port: number, options: ClientTrustOptions, host = "localhost") {
  const trust = await clientTrust(options);
  return connectTls({ host, port, trust, handshakeTimeoutMs: 5_000 }).then(
    () => {
      throw new Error("connected");
    },
    (err: unknown) => err as Error & { code: string; hint?: string },
  );
}

describe("trust on first use over a real TLS connection", () => {
  it("stores the first fingerprint, accepts it again, then refuses a rotated certificate with IDENTITY_CHANGED and zero bytes sent", async () => {
    const knownHosts = { file: join(dir, "tofu", "known_hosts") };
    const before = await serve(first);
    const one = await exchange(before.port, { knownHosts });
    expect(one).toEqual({ echo: "ping\n", peer: expect.objectContaining({ mode: "tofu", stored: true }) });
    expect(one.peer.fingerprint).toBe(fingerprint(first.cert));
    expect(await readFile(knownHosts.file, "utf8")).toBe(
      `localhost:${before.port} ${fingerprint(first.cert)}\n`,
    );
    const two = await exchange(before.port, { knownHosts });
    expect(two.peer.stored).toBe(false);

    // The same address now serves a new certificate, as after `--tls-new-cert`.
    const after = await serve(rotated);
    const file = await readFile(knownHosts.file, "utf8");
    await writeFile(knownHosts.file, file.replace(`:${before.port} `, `:${after.port} `));
    const err = await refused(after.port, { knownHosts });
    expect(err.code).toBe("IDENTITY_CHANGED");
    expect(err.message).toContain(fingerprint(first.cert));
    expect(err.message).toContain(fingerprint(rotated.cert));
    expect(err.hint).toContain(`remove line 1 of ${knownHosts.file}`);
    expect(tlsExitCode(err)).toBe(60);
    expect(await Promise.all(after.received)).toEqual([0]);
    expect(await readFile(knownHosts.file, "utf8")).toBe(
      `localhost:${after.port} ${fingerprint(first.cert)}\n`,
    );
  });
});

describe("pin", () => {
  it("accepts the pinned certificate in OpenSSH and hex form", async () => {
    const { port } = await serve(first);
    expect((await exchange(port, { pin: fingerprint(first.cert) })).echo).toBe("ping\n");
    const hex = Buffer.from(fingerprint(first.cert).slice(7), "base64").toString("hex").toUpperCase();
    expect((await exchange(port, { pin: `sha256:${hex.match(/../g)!.join(":")}` })).peer.mode).toBe("pin");
  });

  it("refuses another certificate with PIN_MISMATCH, exit 60, zero bytes sent", async () => {
    const served = await serve(rotated);
    const err = await refused(served.port, { pin: fingerprint(first.cert) });
    expect(err.code).toBe("PIN_MISMATCH");
    expect(err.message).toContain(fingerprint(rotated.cert));
    expect(tlsExitCode(err)).toBe(60);
    expect(await Promise.all(served.received)).toEqual([0]);
  });
});

describe("CA file", () => {
  it("accepts a chain from the CA for a name and an IP the certificate carries", async () => {
    const { port } = await serve(leaf);
    const caFile = join(dir, "ca.pem");
    expect((await exchange(port, { caFile }, "localhost")).peer.mode).toBe("ca");
    expect((await exchange(port, { caFile }, "127.0.0.1")).echo).toBe("ping\n");
  });

  it("refuses a certificate for another host name with CERT_UNTRUSTED", async () => {
    const served = await serve(wrongName);
    const err = await refused(served.port, { caFile: join(dir, "ca.pem") });
    expect(err.code).toBe("CERT_UNTRUSTED");
    expect(err.message).toMatch(/localhost/);
    expect(tlsExitCode(err)).toBe(60);
  });

  it("refuses a self-signed certificate the CA did not sign", async () => {
    const served = await serve(first);
    const err = await refused(served.port, { caFile: join(dir, "ca.pem") });
    expect(err.code).toBe("CERT_UNTRUSTED");
    expect(await Promise.all(served.received)).toEqual([0]);
  });

  it("names a CA file that is not PEM", async () => {
    await writeFile(join(dir, "junk.pem"), "junk");
    await expect(clientTrust({ caFile: join(dir, "junk.pem") })).rejects.toMatchObject({
      code: "BAD_CERT_FILE",
    });
    await expect(clientTrust({ caFile: join(dir, "missing.pem") })).rejects.toMatchObject({
      code: "BAD_CERT_FILE",
    });
  });
});

describe("insecure and misuse", () => {
  it("insecure accepts anything and hands back the warning to print", async () => {
    const { port } = await serve(rotated);
    const { peer } = await exchange(port, { insecure: true });
    expect(peer).toMatchObject({ mode: "insecure", fingerprint: fingerprint(rotated.cert) });
    expect(peer.warning).toMatch(/not checked/);
  });

  it("refuses two trust modes at once", async () => {
    await expect(clientTrust({ insecure: true, pin: fingerprint(first.cert) })).rejects.toMatchObject({
      code: "INVALID_OPTION",
    });
  });

  it("a plaintext server is HANDSHAKE_FAILED (exit 35) with a hint to drop --tls", async () => {
    const port = await servePlain((socket) => {
      socket.resume();
      socket.end("hello from plaintext\n");
    });
    const err = await refused(port, { insecure: true });
    expect(err.code).toBe("HANDSHAKE_FAILED");
    expect(err.hint).toMatch(/try without --tls/);
    expect(tlsExitCode(err)).toBe(35);
  });

  it("a server that never answers the handshake times out as HANDSHAKE_FAILED", async () => {
    const port = await servePlain((socket) => socket.resume());
    const trust = await clientTrust({ insecure: true });
    await expect(
      connectTls({ host: "127.0.0.1", port, trust, handshakeTimeoutMs: 200 }),
    ).rejects.toMatchObject({
      code: "HANDSHAKE_FAILED",
      message: `no TLS handshake with 127.0.0.1:${port} in 0.2 s (handshake timeout)`,
      hint: expect.stringMatching(/raise --connect-timeout/),
    });
  });
});
