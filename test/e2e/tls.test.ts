import { createHash, createPrivateKey } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { generateCertificate } from "../../packages/tls/src/index.ts";
import { type LabProcess, runLab, startLab, startServer } from "../helpers/lab.js";

let dir: string;
/** The server's and the client's config folders: separate, as on two machines. */
let serverEnv: Record<string, string>;
let clientEnv: Record<string, string>;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-e2e-tls-"));
  serverEnv = { XDG_CONFIG_HOME: path.join(dir, "server-config") };
  clientEnv = { XDG_CONFIG_HOME: path.join(dir, "client-config") };
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const knownHosts = () => path.join(dir, "client-config", "netlab", "known_hosts");
const FINGERPRINT = /TLS identity (SHA256:[A-Za-z0-9+/]{43})/;

async function tlsServer(extra: string[] = [], port?: number): Promise<{ lab: LabProcess; port: number }> {
  if (port !== undefined) {
    const lab = startLab(["server", "--tls", "--port", String(port), ...extra], { env: serverEnv });
    await lab.waitForOutput(FINGERPRINT, { stream: "stderr" });
    return { lab, port };
  }
  const started = await startServer(
    (p) => ["server", "--tls", "--port", String(p), ...extra],
    () => FINGERPRINT,
    { env: serverEnv },
  );
  return started;
}

function fingerprintOf(lab: LabProcess): string {
  return FINGERPRINT.exec(lab.stderr())![1]!;
}

/** `lab client --tls …` piped: says `line`, leaves. */
function chat(port: number, line: string, extra: string[] = []) {
  return runLab(["client", "--tls", "--port", String(port), ...extra], {
    input: `${line}\n`,
    env: clientEnv,
    timeoutMs: 15_000,
  });
}

describe("lab server --tls and lab client --tls", () => {
  it("TOFU: the first connection stores one line, the second is silent, a new certificate is exit 60 with 0 bytes sent", async () => {
    const first = await tlsServer();
    const fp = fingerprintOf(first.lab);
    const a = await chat(first.port, "hello over tls", ["--nick", "alice"]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toContain("<alice> hello over tls");
    expect(a.stderr).toContain(`stored ${fp} in ${knownHosts()}`);
    expect(await readFile(knownHosts(), "utf8")).toBe(`127.0.0.1:${first.port} ${fp}\n`);

    const b = await chat(first.port, "again", ["--nick", "bob"]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toBe("");
    expect((await readFile(knownHosts(), "utf8")).split("\n").filter(Boolean)).toHaveLength(1);

    expect(await first.lab.stop("SIGINT")).toBe(0);
    const rotated = await tlsServer(["--tls-new-cert"], first.port);
    expect(fingerprintOf(rotated.lab)).not.toBe(fp);
    const c = await chat(first.port, "secret that must not be sent", ["--nick", "carol"]);
    expect(c.code).toBe(60);
    expect(c.stderr).toMatch(
      /^lab: the TLS identity of 127\.0\.0\.1:\d+ has changed: .*\nhint: .*remove line 1 of .*known_hosts/,
    );
    expect(c.stdout).toBe("");
    // The server saw the handshake and then a close: zero application bytes in.
    await rotated.lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+ \(#1, 0 B in/, { stream: "stderr" });
    expect(rotated.lab.stderr()).not.toContain("carol");
  });

  it("--tls-pin: the right fingerprint joins (in another spelling too), a wrong one is exit 60", async () => {
    const { lab, port } = await tlsServer();
    const fp = fingerprintOf(lab);
    const ok = await chat(port, "pinned", ["--tls-pin", fp]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("pinned");
    const hex = Buffer.from(fp.slice("SHA256:".length), "base64").toString("hex").toUpperCase();
    expect((await chat(port, "hex pin", ["--tls-pin", `sha256:${hex}`])).code).toBe(0);
    const wrong = await chat(port, "x", ["--tls-pin", `sha256:${"ab".repeat(32)}`]);
    expect(wrong.code).toBe(60);
    expect(wrong.stderr).toMatch(
      /^lab: the server at 127\.0\.0\.1:\d+ shows SHA256:.*not the pinned one\nhint: /,
    );
    const bad = await chat(port, "x", ["--tls-pin", "sha256:nothex"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^lab: .*\nhint: /);
  });

  it("--tls-ca: a certificate signed by the CA for localhost joins; another CA is exit 60", async () => {
    const ca = await generateCertificate({ isCa: true, commonName: "netlab e2e CA" });
    const other = await generateCertificate({ isCa: true, commonName: "someone else" });
    const leaf = await generateCertificate({ issuer: ca, sans: ["localhost"] });
    await writeFile(path.join(dir, "ca.pem"), ca.cert);
    await writeFile(path.join(dir, "other.pem"), other.cert);
    await writeFile(path.join(dir, "cert.pem"), leaf.cert);
    await writeFile(path.join(dir, "key.pem"), leaf.key, { mode: 0o600 });
    const { port } = await tlsServer([
      "--tls-cert",
      path.join(dir, "cert.pem"),
      "--tls-key",
      path.join(dir, "key.pem"),
    ]);
    const ok = await chat(port, "via ca", ["--host", "localhost", "--tls-ca", path.join(dir, "ca.pem")]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("via ca");
    const no = await chat(port, "x", ["--host", "localhost", "--tls-ca", path.join(dir, "other.pem")]);
    expect(no.code).toBe(60);
    expect(no.stderr).toMatch(/^lab: the certificate of localhost:\d+ is not trusted: .*\nhint: /);
  });

  it("--tls-insecure warns on every connect and stores nothing", async () => {
    const { port } = await tlsServer();
    for (const n of [1, 2]) {
      const r = await chat(port, `insecure ${n}`, ["--tls-insecure"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/^warning: the server's TLS certificate is not checked \(--tls-insecure\)/);
    }
    await expect(readFile(knownHosts(), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("the wrong side of the wire", () => {
  it("a plaintext client on a TLS port gets one readable line and is closed", async () => {
    const { lab, port } = await tlsServer();
    const text = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => socket.write("hello\n"));
      let got = "";
      socket.setEncoding("utf8").on("data", (d: string) => {
        got += d;
      });
      socket.on("error", reject).on("close", () => resolve(got));
      setTimeout(
        () => socket.destroy(new Error(`not closed in 5 s; got ${JSON.stringify(got)}`)),
        5_000,
      ).unref();
    });
    expect(text).toBe(`this port speaks TLS; try: lab client --tls --port ${port}\n`);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: a plaintext client on a TLS port/, { stream: "stderr" });
  });

  it("a plaintext lab client on a TLS port (chat, echo) is one lab: line, a hint to add --tls, exit 1", async () => {
    for (const mode of ["chat", "echo"]) {
      const { port } = await tlsServer(["--mode", mode]);
      const r = await runLab(["client", "127.0.0.1", String(port)], {
        input: "hello\n",
        env: clientEnv,
        timeoutMs: 15_000,
      });
      expect(r.code, `${mode}: ${r.stderr}`).toBe(1);
      // The server's line is what the client reports, never printed as if it were chat.
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        `lab: the server at 127.0.0.1:${port} speaks TLS (it sent 'this port speaks TLS; try: lab client --tls --port ${port}')\n` +
          `hint: add --tls: lab client --tls 127.0.0.1:${port}\n`,
      );
    }
  });

  it("a plaintext lab client that types nothing is told too, once the handshake timeout passes", async () => {
    const { port } = await tlsServer(["--tls-handshake-timeout", "0.5"]);
    // stdin stays open: a person at the prompt, waiting for a banner a TLS server never sends.
    const client = startLab(["client", "127.0.0.1", String(port)], { env: clientEnv });
    await client.waitForOutput(/^hint: /m, { stream: "stderr", timeoutMs: 10_000 });
    expect(await client.exited).toBe(1);
    expect(client.stdout()).toBe("");
    expect(client.stderr()).toBe(
      `lab: the server at 127.0.0.1:${port} speaks TLS (it sent 'this port speaks TLS; try: lab client --tls --port ${port}')\n` +
        `hint: add --tls: lab client --tls 127.0.0.1:${port}\n`,
    );
  });

  it("--tls-handshake-timeout closes a connection that never starts its handshake", async () => {
    const { lab, port } = await tlsServer(["--tls-handshake-timeout", "0.3"]);
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    let got = "";
    socket.setEncoding("utf8").on("data", (d: string) => {
      got += d;
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("close", () => resolve());
      setTimeout(() => reject(new Error("not closed within 5 s")), 5_000).unref();
    });
    expect(got).toBe(`this port speaks TLS; try: lab client --tls --port ${port}\n`);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: no TLS handshake within 300 ms/, { stream: "stderr" });
  });

  it("a TLS client on a plaintext port (chat, echo, files) exits 35 with one lab: line and a hint", async () => {
    for (const [args, ready, client] of [
      [["server"], "listening on", ["client", "--tls"]],
      [["server", "--mode", "echo"], "listening on", ["client", "--tls"]],
      [["files", dir], "serving", ["transfer", "--tls", "--list"]],
    ] as const) {
      const { port } = await startServer(
        (p) => [...args, "--port", String(p)],
        (p) => new RegExp(`${ready} .*127\\.0\\.0\\.1:${p}`),
        { env: serverEnv },
      );
      const r = await runLab([...client, "--port", String(port)], {
        input: "hi\n",
        env: clientEnv,
        timeoutMs: 15_000,
      });
      expect(r.code, `${client.join(" ")}: ${r.stderr}`).toBe(35);
      expect(r.stderr).toMatch(
        /^lab: 127\.0\.0\.1:\d+ does not speak TLS: .*\nhint: the server may not speak TLS: try without --tls\n$/,
      );
    }
  });
});

describe("bad TLS inputs: one lab: line and a hint", () => {
  async function expectRefusal(args: string[], code: number, message: RegExp) {
    const r = await runLab(args, { env: serverEnv, timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stderr).toMatch(/^lab: [^\n]+\nhint: [^\n]+\n$/);
    expect(r.stderr).toMatch(message);
  }

  it("cert without key, mismatched pair, expired cert, encrypted key", async () => {
    const [a, b] = await Promise.all([generateCertificate(), generateCertificate()]);
    const expired = await generateCertificate({
      notBefore: new Date(Date.now() - 400 * 86_400_000),
      validDays: 30,
    });
    const file = (name: string) => path.join(dir, name);
    await writeFile(file("a.crt"), a.cert);
    await writeFile(file("a.key"), a.key, { mode: 0o600 });
    await writeFile(file("b.key"), b.key, { mode: 0o600 });
    await writeFile(file("old.crt"), expired.cert);
    await writeFile(file("old.key"), expired.key, { mode: 0o600 });
    const encrypted = createPrivateKey(a.key).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase: "secret",
    });
    await writeFile(file("enc.key"), encrypted, { mode: 0o600 });
    const server = (...extra: string[]) => ["server", "--tls", "--port", "0", ...extra];
    await expectRefusal(server("--tls-cert", file("a.crt")), 2, /--tls-cert needs --tls-key/);
    await expectRefusal(
      server("--tls-cert", file("a.crt"), "--tls-key", file("b.key")),
      1,
      /does not belong/,
    );
    await expectRefusal(server("--tls-cert", file("old.crt"), "--tls-key", file("old.key")), 1, /expired/);
    await expectRefusal(server("--tls-cert", file("a.crt"), "--tls-key", file("enc.key")), 1, /encrypted/);
    await expectRefusal(
      ["files", dir, "--tls-cert", file("a.crt"), "--port", "0"],
      2,
      /--tls-cert needs --tls/,
    );
  });

  it("a corrupt known-hosts file: a folder in its place is one lab: line; bad lines are warned about and kept", async () => {
    const { port } = await tlsServer();
    await mkdir(knownHosts(), { recursive: true });
    const r = await chat(port, "x");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lab: [^\n]*known_hosts[^\n]*\nhint: [^\n]+\n$/);
    await rm(knownHosts(), { recursive: true });
    await writeFile(knownHosts(), "this is not a known-hosts line\n\u001b[31mred\n", { mode: 0o600 });
    const ok = await chat(port, "after the bad lines");
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/warning: .*known_hosts line 1: /);
    expect(ok.stderr).not.toContain("\u001b");
    const kept = await readFile(knownHosts(), "utf8");
    expect(kept).toContain("this is not a known-hosts line");
    expect(kept).toMatch(new RegExp(`127\\.0\\.0\\.1:${port} SHA256:`));
  });
});

describe("lab files --tls and lab transfer --tls", () => {
  it("uploads verified, resumes a .part, downloads, over TLS", { timeout: 60_000 }, async () => {
    const shared = path.join(dir, "shared");
    await mkdir(shared);
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--tls", "--port", String(p)],
      () => FINGERPRINT,
      { env: serverEnv },
    );
    expect(lab.stderr()).toMatch(/serving .* on 127\.0\.0\.1:\d+\n/);
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 0).map((_, i) => (i * 31 + 7) & 0xff);
    const hash = createHash("sha256").update(data).digest("hex");
    await writeFile(path.join(dir, "big.bin"), data);
    // A .part holding the first MiB, as an interrupted upload leaves it.
    await writeFile(path.join(shared, "big.bin.part"), data.subarray(0, 1024 * 1024));
    const up = await runLab(
      ["transfer", "--tls", "--resume", "--json", path.join(dir, "big.bin"), "--port", String(port)],
      {
        env: clientEnv,
        timeoutMs: 30_000,
      },
    );
    expect(up.code, up.stderr).toBe(0);
    const result = JSON.parse(up.stdout).files[0];
    expect(result).toMatchObject({ sha256: hash, resumedAt: 1024 * 1024 });
    expect(up.stderr).toContain("stored SHA256:");
    const out = path.join(dir, "copy.bin");
    const down = await runLab(["transfer", "--tls", "--get", "big.bin", "-o", out, "--port", String(port)], {
      env: clientEnv,
      timeoutMs: 30_000,
    });
    expect(down.code, down.stderr).toBe(0);
    expect(
      createHash("sha256")
        .update(await readFile(out))
        .digest("hex"),
    ).toBe(hash);
    await lab.waitForOutput(/sent big\.bin .*sha256/, { stream: "stderr" });
  });

  it("lab transfer --tls-pin with another fingerprint exits 60 and sends no request", async () => {
    const shared = path.join(dir, "shared");
    await mkdir(shared);
    const { lab, port } = await startServer(
      (p) => ["files", shared, "--tls", "--port", String(p)],
      () => FINGERPRINT,
      { env: serverEnv },
    );
    await writeFile(path.join(dir, "x.txt"), "must not arrive\n");
    const r = await runLab(
      [
        "transfer",
        "--tls",
        "--tls-pin",
        `SHA256:${"A".repeat(43)}`,
        path.join(dir, "x.txt"),
        "--port",
        String(port),
      ],
      { env: clientEnv, timeoutMs: 15_000 },
    );
    expect(r.code).toBe(60);
    expect(r.stderr).toMatch(
      /^lab: the server at 127\.0\.0\.1:\d+ shows SHA256:.*not the pinned one\nhint: /,
    );
    const plain = await runLab(["transfer", "--list", "--port", String(port)], {
      env: clientEnv,
      timeoutMs: 15_000,
    });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toBe(
      `lab: the server speaks TLS (it said 'this port speaks TLS; try: lab transfer --tls --port ${port} …')\nhint: add --tls\n`,
    );
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: a plaintext client on a TLS port/, { stream: "stderr" });
    expect(lab.stderr()).not.toMatch(/received|refused upload/);
  });
});

describe("lab demo --tls", () => {
  it("plays a chat script over TLS, touching neither the identity nor known_hosts", async () => {
    const r = await runLab(["demo", "--tls", "--script", "-", "--clients", "2"], {
      input: "client 1: hello over tls\nexpect client 2: hello over tls\n",
      env: clientEnv,
      timeoutMs: 20_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("<alice> hello over tls");
    await expect(readFile(knownHosts(), "utf8")).rejects.toMatchObject({ code: "ENOENT" });
    const refused = await runLab(["demo", "--tls", "--scene", "udp"], { env: clientEnv });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^lab: --tls runs the chat scene only\nhint: /);
  });
});

describe("tokens over TLS", () => {
  it("a server with --token-file and --tls needs no --allow-plaintext-auth; the token travels encrypted", async () => {
    const tokens = path.join(dir, "tokens.txt");
    await writeFile(tokens, "alice:s3cret-token-over-tls\n", { mode: 0o600 });
    const refused = await runLab(["server", "--token-file", tokens, "--port", "0"], {
      env: serverEnv,
      timeoutMs: 15_000,
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^lab: [^\n]+\nhint: add --tls/);
    const { lab, port } = await tlsServer(["--token-file", tokens]);
    const r = await runLab(["client", "--tls", "--port", String(port)], {
      input: "hello with a token\n",
      env: { ...clientEnv, LAB_TOKEN: "s3cret-token-over-tls" },
      timeoutMs: 15_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("<alice> hello with a token");
    await lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+/, { stream: "stderr" });
  });
});

/** A raw TLS line client (as `ncat --ssl` would be) that trusts the server's own certificate. */
async function tlsLines(port: number) {
  const ca = await readFile(path.join(dir, "server-config", "netlab", "identity", "cert.pem"));
  const socket = tls.connect({ host: "127.0.0.1", port, ca });
  onTestFinished(() => {
    socket.destroy();
  });
  let text = "";
  const waiters = new Set<() => void>();
  socket.setEncoding("utf8").on("data", (d: string) => {
    text += d;
    for (const w of [...waiters]) w();
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve).once("error", reject);
  });
  return {
    socket,
    /** Resolves once `needle` has arrived; rejects after 10 s. */
    waitFor: (needle: string) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${needle}; got:\n${text.slice(-500)}`));
        }, 10_000);
        const check = () => {
          if (!text.includes(needle)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

describe("limits over TLS", () => {
  it("--max-clients and the line limit hold: the extra client and the over-long line are refused, the rest served", async () => {
    const { lab, port } = await tlsServer(["--max-clients", "2"]);
    const a = await tlsLines(port);
    const b = await tlsLines(port);
    await a.waitFor("you are guest-");
    await b.waitFor("you are guest-");

    const full = await runLab(["client", "--tls", "--port", String(port)], {
      input: "",
      env: clientEnv,
      timeoutMs: 15_000,
    });
    expect(full.code).toBe(1);
    expect(full.stdout).toBe("! server full: 2 clients connected; try again later [SERVER_FULL]\n");
    expect(full.stderr).toContain("lab: server full: 2 clients connected; try again later");

    a.socket.write(`${"A".repeat(70 * 1024)}\n`);
    await a.waitFor("[FRAME_TOO_LARGE]");
    a.socket.write("still here\n");
    await b.waitFor("> still here\n");
    b.socket.write("/who\n");
    await b.waitFor("* in #lobby");
    expect(lab.child.exitCode).toBeNull();
  });

  it("--line-timeout cuts a TLS client whose line never ends (slowloris inside TLS)", async () => {
    const { lab, port } = await tlsServer(["--line-timeout", "0.5"]);
    const slow = await tlsLines(port);
    await slow.waitFor("you are guest-");
    slow.socket.write("a line that never ");
    await new Promise<void>((resolve, reject) => {
      slow.socket.once("close", () => resolve());
      setTimeout(() => reject(new Error("not closed within 10 s")), 10_000).unref();
    });
    await slow.waitFor("[LINE_TIMEOUT]");
    await lab.waitForOutput(/guest-1 left: line not completed within/, { stream: "stderr" });
    const next = await tlsLines(port);
    await next.waitFor("you are guest-");
  });
});
