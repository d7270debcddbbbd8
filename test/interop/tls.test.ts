import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { type LabProcess, startProcess, startServer } from "../helpers/lab.js";

// Each third-party TLS client joins a `lab server --tls` chat and exchanges a line with a witness
// (a Node TLS client). ncat 7.93 does not match IP SANs, so the tools dial `localhost`, which the
// certificate names; none of them offers ALPN except `openssl s_client -alpn`.

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-interop-tls-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}

/** A chat participant over TLS that trusts anything (the tools under test are what is checked). */
async function witness(
  port: number,
): Promise<{ send(line: string): void; waitFor(text: string): Promise<void> }> {
  const socket = tls.connect({
    host: "127.0.0.1",
    port,
    rejectUnauthorized: false,
    ALPNProtocols: ["netlab-chat/1"],
  });
  onTestFinished(() => void socket.destroy());
  let seen = "";
  const waiters = new Set<() => void>();
  socket.setEncoding("utf8").on("data", (d: string) => {
    seen += d;
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => socket.once("secureConnect", resolve).once("error", reject));
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!seen.includes(text)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`witness did not see ${JSON.stringify(text)} in 10 s; saw ${JSON.stringify(seen)}`));
      }, 10_000);
      waiters.add(check);
      check();
    });
  await waitFor("joined #lobby");
  return { send: (line) => socket.write(`${line}\n`), waitFor };
}

async function tlsChat(): Promise<{ lab: LabProcess; port: number; cert: string }> {
  const env = { XDG_CONFIG_HOME: dir };
  const { lab, port } = await startServer(
    (p) => ["server", "--tls", "--port", String(p)],
    () => /TLS identity SHA256:/,
    { env },
  );
  return { lab, port, cert: path.join(dir, "netlab", "identity", "cert.pem") };
}

const TOOLS: Array<{
  name: string;
  tool: string;
  apt: string;
  args: (port: number, cert: string) => string[];
}> = [
  { name: "ncat --ssl", tool: "ncat", apt: "ncat", args: (p) => ["--ssl", "localhost", String(p)] },
  {
    name: "ncat --ssl-verify --ssl-trustfile CERT",
    tool: "ncat",
    apt: "ncat",
    args: (p, cert) => ["--ssl-verify", "--ssl-trustfile", cert, "localhost", String(p)],
  },
  {
    name: "socat - OPENSSL:localhost:P,cafile=CERT",
    tool: "socat",
    apt: "socat",
    args: (p, cert) => ["-", `OPENSSL:localhost:${p},cafile=${cert}`],
  },
  {
    name: "openssl s_client -alpn netlab-chat/1",
    tool: "openssl",
    apt: "openssl",
    args: (p) => ["s_client", "-quiet", "-alpn", "netlab-chat/1", "-connect", `localhost:${p}`],
  },
];

describe("TLS interop: third-party clients join lab server --tls", () => {
  it.for(TOOLS)("$name joins the chat and exchanges a line", async ({ tool, apt, args }, ctx) => {
    if (!has(tool)) ctx.skip(`${tool} is not on PATH (apt-get install ${apt}; .ci/run does)`);
    const { port, cert } = await tlsChat();
    const other = await witness(port);
    const client = startProcess(tool, args(port, cert));
    await client.waitForOutput("netlab chat/1", { stream: "stdout" });
    client.write(`/nick ${tool}user\n`);
    await other.waitFor(`is now known as ${tool}user`);
    client.write(`hello from ${tool}\n`);
    await other.waitFor(`<${tool}user> hello from ${tool}`);
    other.send(`hi ${tool}`);
    await client.waitForOutput(`> hi ${tool}`, { stream: "stdout" });
    client.write("/quit\n");
    await other.waitFor(`${tool}user left #lobby`);
  });

  it("openssl s_client offering another ALPN protocol gets the no_application_protocol alert", async (ctx) => {
    if (!has("openssl")) ctx.skip("openssl is not on PATH (apt-get install openssl; .ci/run does)");
    const { lab, port } = await tlsChat();
    const client = startProcess("openssl", ["s_client", "-alpn", "h2", "-connect", `localhost:${port}`]);
    client.endInput();
    await client.waitForOutput(/no application protocol/i, { stream: "stderr" });
    expect(await client.exited).not.toBe(0);
    await lab.waitForOutput(/tls: 127\.0\.0\.1:\d+: TLS handshake failed/, { stream: "stderr" });
  });
});
