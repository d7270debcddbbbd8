// Hostile peers at the TLS handshake: a client that sends nothing, garbage after the handshake byte,
// escape codes instead of a ClientHello, a crowd of half-open handshakes; and, the other way, TLS
// clients facing servers that answer with silence, a stalled record or escape codes. The server
// logs one escaped line per refusal and keeps serving; a client ends in one `lab:` line and a hint.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { generateCertificate } from "../../packages/tls/src/index.js";
import { type LabProcess, runLab, startServer } from "../helpers/lab.js";
import { closedWithin, drainingConnection, serve } from "../helpers/tcp.js";

const ESCAPES = "\u001b]0;PWNED\u0007\u001b[2J\u009b31m\u202e";
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/;
/** A TLS record header (handshake, TLS 1.0 framing) announcing `length` bytes of ClientHello. */
const recordHeader = (length: number) => Buffer.from([0x16, 0x03, 0x01, length >> 8, length & 0xff]);

let dir: string;
let serverEnv: Record<string, string>;
let clientEnv: Record<string, string>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-adv-tls-"));
  serverEnv = { XDG_CONFIG_HOME: path.join(dir, "server-config") };
  clientEnv = { XDG_CONFIG_HOME: path.join(dir, "client-config") };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tlsServer(command: string[], extra: string[] = []): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => [...command, "--tls", "--port", String(p), ...extra],
    () => /TLS identity SHA256:/,
    { env: serverEnv },
  );
}

/** A real TLS chat client: handshakes (any certificate) and reads the greeting line. */
function tlsGreeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    onTestFinished(() => {
      s.destroy();
    });
    let got = "";
    s.setEncoding("utf8").on("data", (d: string) => {
      got += d;
      if (got.includes("\n")) resolve(got.slice(0, got.indexOf("\n")));
    });
    s.once("error", reject);
    setTimeout(() => reject(new Error(`no greeting within 5 s: ${JSON.stringify(got)}`)), 5_000).unref();
  });
}

describe("lab server --tls against hostile clients", () => {
  it("a client that connects and sends nothing is closed at --tls-handshake-timeout", async () => {
    const { lab, port } = await tlsServer(["server"], ["--tls-handshake-timeout", "300ms"]);
    const s = await drainingConnection(port);
    expect(await closedWithin(s, 3_000)).toBeLessThan(2_500);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: no TLS handshake within 300 ms/, { stream: "stderr" });
  });

  it("a client that starts a handshake record and stalls is closed at the timeout too", async () => {
    const { lab, port } = await tlsServer(["server"], ["--tls-handshake-timeout", "300ms"]);
    const s = await drainingConnection(port);
    s.write(Buffer.concat([recordHeader(512), Buffer.from([0x01, 0x00])]));
    expect(await closedWithin(s, 3_000)).toBeLessThan(2_500);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: no TLS handshake within 300 ms/, { stream: "stderr" });
  });

  it("garbage after the handshake byte: one log line, the connection closed, the next client served", async () => {
    const { lab, port } = await tlsServer(["server"]);
    const s = await drainingConnection(port);
    const junk = Buffer.alloc(64 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
    s.write(Buffer.concat([Buffer.from([0x16]), junk]));
    expect(await closedWithin(s, 5_000)).toBeLessThan(5_000);
    const line = await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: TLS handshake failed: .*/, {
      stream: "stderr",
    });
    expect(line).not.toMatch(RAW_CONTROL);
    expect(await tlsGreeting(port)).toMatch(/netlab chat/);
  });

  it("escape codes instead of a ClientHello: the plaintext reply, and the log line has no raw control codes", async () => {
    const { lab, port } = await tlsServer(["server"]);
    const s = await drainingConnection(port);
    let got = "";
    s.setEncoding("utf8").on("data", (d: string) => {
      got += d;
    });
    s.write(`${ESCAPES}\r\n`);
    await closedWithin(s, 5_000);
    expect(got).toMatch(/^this port speaks TLS; try: lab client --tls --port \d+\n$/);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: a plaintext client on a TLS port/, { stream: "stderr" });
    expect(lab.stderr()).not.toMatch(RAW_CONTROL);
  });

  for (const command of [["server"], ["files", "."]]) {
    it(`${command[0]}: 300 half-open handshakes at once are bounded (the oldest closed) and time out; a real client is still served`, async () => {
      const { lab, port } = await tlsServer(command, ["--tls-handshake-timeout", "1s"]);
      const crowd = await Promise.all(Array.from({ length: 300 }, () => drainingConnection(port)));
      for (const s of crowd) s.write(recordHeader(300));
      if (command[0] === "server") expect(await tlsGreeting(port)).toMatch(/netlab chat/);
      else {
        const r = await runLab(["transfer", "--tls", "--tls-insecure", "--list", "--port", String(port)], {
          env: clientEnv,
          timeoutMs: 15_000,
        });
        expect(r.code, r.stderr).toBe(0);
      }
      await Promise.all(crowd.map((s) => closedWithin(s, 8_000)));
      // lab files serves 256 clients: the crowd's oldest made room for the newest, and for the real one.
      if (command[0] === "files")
        expect(lab.stderr()).toMatch(/handshake not done while 256 others waited; the oldest was closed/);
      expect(lab.stderr()).not.toMatch(/\n\s+at |node:internal/);
      expect(lab.child.exitCode).toBe(null);
    }, 30_000);
  }
});

/** `lab ARGS` as a TLS client with its own config folder, typing one line. */
const tlsClient = (args: string[]) => runLab(args, { env: clientEnv, input: "hi\n", timeoutMs: 15_000 });

describe("TLS clients against hostile or plaintext servers", () => {
  const clients = [
    ["client", "--tls", "--tls-insecure"],
    ["transfer", "--tls", "--tls-insecure", "--list"],
  ];

  for (const client of clients) {
    const stalling = [
      { what: "accepts and says nothing", behave: (s: net.Socket) => s.on("data", () => {}) },
      {
        what: "sends a record header and stalls",
        behave: (s: net.Socket) => s.write(Buffer.from([0x16, 0x03, 0x03, 0x40, 0x00])),
      },
    ];
    for (const { what, behave } of stalling) {
      it(`lab ${client[0]} --tls against a server that ${what}: one lab: line within --connect-timeout`, async () => {
        const port = await serve(behave);
        const started = Date.now();
        const r = await tlsClient([...client, "--port", String(port), "--connect-timeout", "1s"]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/^lab: [^\n]+\nhint: [^\n]+\n$/);
        expect(r.stderr).toMatch(/TLS|--tls/);
        expect(Date.now() - started).toBeLessThan(8_000);
      });
    }

    it(`lab ${client[0]} --tls against a plaintext server that greets with escape codes: exit 35, escaped, a hint`, async () => {
      const port = await serve((s) => s.end(`${ESCAPES} welcome\n${"x".repeat(100_000)}\n`));
      const r = await tlsClient([...client, "--port", String(port)]);
      expect(r.code, r.stderr).toBe(35);
      expect(r.stderr).not.toMatch(RAW_CONTROL);
      expect(r.stderr).toMatch(
        /^lab: 127\.0\.0\.1:\d+ does not speak TLS: [^\n]+\nhint: the server may not speak TLS: try without --tls\n$/,
      );
    });
  }
});

describe("a TLS server whose certificate is hostile", () => {
  it("escape codes in its subject never reach the client's terminal: exit 60, one lab: line", async () => {
    const ca = await generateCertificate({ isCa: true, commonName: `CA ${ESCAPES}` });
    const leaf = await generateCertificate({
      issuer: ca,
      sans: ["evil.test"],
      commonName: `leaf ${ESCAPES}`,
    });
    await writeFile(path.join(dir, "ca.pem"), ca.cert);
    const server = tls.createServer({ cert: leaf.cert, key: leaf.key });
    server.on("tlsClientError", () => {});
    const port = await serve((s) => s.end(), server);
    const trust = ["--tls-ca", path.join(dir, "ca.pem"), "--host", "localhost"];
    const r = await tlsClient(["client", "--tls", ...trust, "--port", String(port)]);
    expect(r.code, r.stderr).toBe(60);
    expect(r.stderr).not.toMatch(RAW_CONTROL);
    expect(r.stderr).toMatch(
      /^lab: the certificate of localhost:\d+ is not trusted: [^\n]+\nhint: [^\n]+\n$/,
    );
  });
});
