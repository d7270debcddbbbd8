import { describe, expect, it } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startProcess, startServer } from "../helpers/lab.js";

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
    const nc = startProcess("nc", ["127.0.0.1", String(port)]);
    await nc.waitForOutput("netlab chat/1", { stream: "stdout" });
    nc.write("/nick ncuser\n");
    await other.waitFor("is now known as ncuser");
    nc.write("hello from nc\n");
    await other.waitFor("<ncuser> hello from nc");
    other.send("hi nc");
    await nc.waitForOutput("> hi nc", { stream: "stdout" });
    nc.write("/quit\n");
    await other.waitFor("* ncuser left #lobby (quit)");
    // The server closes the connection after /quit; nc sees EOF and ends.
    nc.endInput();
    expect(await nc.exited).toBe(0);
  });

  it("lab client talks to a plain Python line-echo server and sends only what was typed", async () => {
    const py = startProcess("python3", ["-c", PY_ECHO]);
    const port = (await py.waitForOutput(/^\d+\n/, { stream: "stdout" })).trim();
    const r = await runLab(["client", "--port", port], { input: "hello\nworld\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("echo: hello\necho: world\n");
    expect(r.stderr).toBe("");
    await py.exited;
    expect(py.stderr()).toBe("b'hello\\nworld\\n'");
  });
});
