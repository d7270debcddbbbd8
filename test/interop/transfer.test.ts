import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import getPort from "get-port";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runLab, startProcess, startServer } from "../helpers/lab.js";

// The raw mode of `lab files` / `lab transfer` against the tools and ten-line scripts of the classic
// socket tutorial: OpenBSD nc and Python's socket module.

let dir: string;
let file: string;
let hash: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-interop-transfer-"));
  file = path.join(dir, "test.bin");
  const data = createHash("sha512").update("netlab").digest();
  const body = Buffer.concat(Array.from({ length: 40_000 }, (_, i) => data.subarray(0, 1 + (i % 64))));
  await writeFile(file, body);
  hash = createHash("sha256").update(body).digest("hex");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** OpenBSD netcat (its -d and -N flags differ from ncat's): nc.openbsd when installed, else nc. */
const NC = spawnSync("sh", ["-c", "command -v nc.openbsd"]).status === 0 ? "nc.openbsd" : "nc";

const sha = async (p: string) =>
  createHash("sha256")
    .update(await readFile(p))
    .digest("hex");

/** Runs a command to completion with `input` on stdin (killed after `timeoutMs`). */
function run(
  cmd: string,
  args: string[],
  input = "",
  timeoutMs = 15_000,
): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(input);
  });
}

/** Starts a long-running helper (nc -l, a Python server) with stdin at EOF, killed when the test ends; resolves once it printed `ready` on stderr or stdout. */
async function startHelper(cmd: string, args: string[], ready?: string): Promise<void> {
  const helper = startProcess(cmd, args);
  helper.endInput();
  if (ready !== undefined) await helper.waitForOutput(ready);
}

const PY_CLASSIC_CLIENT = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.send(b"Hello server!")
with open(sys.argv[2], "wb") as f:
    while True:
        data = s.recv(1024)
        if not data:
            break
        f.write(data)
s.close()
`;

const PY_CLASSIC_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(5)
print("listening", flush=True)
conn, addr = s.accept()
conn.recv(1024)
with open(sys.argv[2], "rb") as f:
    while True:
        data = f.read(1024)
        if not data:
            break
        conn.send(data)
conn.close()
`;

describe("raw file transfer interop", () => {
  it("lab files --raw sends the file to nc (with and without a greeting)", async () => {
    const { port } = await startServer(
      (p) => ["files", "--raw", file, "--port", String(p)],
      (p) => `serving ${file} (raw) on 127.0.0.1:${p}`,
    );
    const quiet = await run(NC, ["-d", "127.0.0.1", String(port)]);
    expect(quiet.code).toBe(0);
    expect(createHash("sha256").update(quiet.stdout).digest("hex")).toBe(hash);
    const greeting = await run(NC, ["-N", "127.0.0.1", String(port)], "Hello server!\n");
    expect(createHash("sha256").update(greeting.stdout).digest("hex")).toBe(hash);
  });

  it("lab files --raw serves the classic Python client", async () => {
    const { lab, port } = await startServer(
      (p) => ["files", "--raw", file, "--port", String(p)],
      (p) => `serving ${file} (raw) on 127.0.0.1:${p}`,
    );
    const out = path.join(dir, "py-out.bin");
    const r = await run("python3", ["-c", PY_CLASSIC_CLIENT, String(port), out]);
    expect(r.code, r.stderr).toBe(0);
    expect(await sha(out)).toBe(hash);
    await lab.waitForOutput(`sent ${file} (`);
  });

  it("lab transfer --get --raw saves what nc -l sends", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    await startHelper("sh", ["-c", `${NC} -N -l 127.0.0.1 ${port} < '${file}'`]);
    const out = path.join(dir, "from-nc.bin");
    // nc -l needs a moment to listen; retry a refused connection a few times (bounded).
    let r = await runLab(["transfer", "--get", "--raw", "--port", String(port), "-o", out]);
    for (let i = 0; i < 20 && r.code === 1 && r.stderr.includes("connection refused"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      r = await runLab(["transfer", "--get", "--raw", "--port", String(port), "-o", out]);
    }
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`sha256 ${hash} (raw: not verified)`);
    expect(await sha(out)).toBe(hash);
  });

  it("lab transfer --get --raw talks to the classic Python server", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    await startHelper("python3", ["-c", PY_CLASSIC_SERVER, String(port), file], "listening");
    const out = path.join(dir, "from-py.bin");
    const r = await runLab(["transfer", "--get", "--raw", "--port", String(port), "-o", out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).files[0]).toMatchObject({ sha256: hash });
    expect(await sha(out)).toBe(hash);
  });
});
