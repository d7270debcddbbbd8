import { type ChildProcess, spawn } from "node:child_process";
import { describe, expect, it, onTestFinished } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startServer } from "../helpers/lab.js";

/** A spawned process with its output collected and a bounded wait for text on stdout. */
function spawnTool(cmd: string, args: string[]) {
  const child: ChildProcess = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of [...waiters]) w();
  });
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  child.stdin?.on("error", () => {});
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  return {
    child,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(text: string, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!stdout.includes(text)) return;
          done();
          resolve();
        };
        const timer = setTimeout(() => {
          done();
          reject(
            new Error(`timed out waiting for ${text}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`),
          );
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

// A plain line-echo server as a networking course writes it with Python's socket module. It prints
// its port, answers each line with "echo: LINE", and reports every byte it received on stderr.
const PY_ECHO = `import socket, sys
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
got = b""; buf = b""
while True:
    data = conn.recv(4096)
    if not data: break
    got += data; buf += data
    while b"\\n" in buf:
        line, buf = buf.split(b"\\n", 1)
        conn.sendall(b"echo: " + line + b"\\n")
conn.close()
sys.stderr.write(repr(got)); sys.stderr.flush()
`;

describe("chat interop", () => {
  it("nc (netcat-openbsd) joins the chat and is a full participant", async () => {
    const { port } = await startServer(
      (p) => ["server", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const other = await lineClient(port, { timeoutMs: 10_000 });
    await other.waitFor("joined #lobby");
    const nc = spawnTool("nc", ["127.0.0.1", String(port)]);
    await nc.waitFor("netlab chat/1");
    nc.child.stdin?.write("/nick ncuser\n");
    await other.waitFor("is now known as ncuser");
    nc.child.stdin?.write("hello from nc\n");
    await other.waitFor("<ncuser> hello from nc");
    other.send("hi nc");
    await nc.waitFor("> hi nc");
    nc.child.stdin?.write("/quit\n");
    await other.waitFor("* ncuser left #lobby (quit)");
    // The server closes the connection after /quit; nc sees EOF and ends.
    nc.child.stdin?.end();
    expect(await nc.exited).toBe(0);
  });

  it("lab client talks to a plain Python line-echo server and sends only what was typed", async () => {
    const py = spawnTool("python3", ["-c", PY_ECHO]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`python server did not start: ${py.stderr()}`)),
        10_000,
      );
      py.child.stdout?.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const port = py.stdout().trim();
    const r = await runLab(["client", "--port", port], { input: "hello\nworld\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("echo: hello\necho: world\n");
    expect(r.stderr).toBe("");
    await py.exited;
    expect(py.stderr()).toBe("b'hello\\nworld\\n'");
  });
});
