import { describe, expect, it } from "vitest";
import { runLab, runProcess, startProcess, startServer } from "../helpers/lab.js";

/** `lab udp echo` on a free port. */
function startEcho(): Promise<{ port: number }> {
  return startServer(
    (p) => ["udp", "echo", "--port", String(p), "--verbose"],
    (p) => `listening on udp 127.0.0.1:${p}`,
  );
}

// The five-line script of every networking course: sendto, then recvfrom.
const PY_CLIENT = `import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(sys.argv[2].encode(), ("127.0.0.1", int(sys.argv[1])))
data, addr = s.recvfrom(65535)
print(data.decode(), addr[0], addr[1])`;

// Python's own socketserver UDP echo, for lab udp ping to measure.
const PY_ECHO = `import socketserver, sys
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data, self.client_address)
with socketserver.UDPServer(("127.0.0.1", 0), Echo) as server:
    print(server.server_address[1], flush=True)
    server.serve_forever()`;

describe("lab udp against nc and Python", () => {
  it("echoes what nc -u sends", async () => {
    const { port } = await startEcho();
    // OpenBSD nc (what .ci/run installs; ncat's -w means something else): -w1 quits a second
    // after stdin ends, having printed what came back.
    const r = await runProcess("nc.openbsd", ["-u", "-w1", "127.0.0.1", String(port)], {
      input: "hello from nc\n",
      timeoutMs: 10_000,
    });
    expect(r.stdout).toBe("hello from nc\n");
  });

  it("echoes a five-line Python sendto/recvfrom script, from the port it sent from", async () => {
    const { port } = await startEcho();
    const r = await runProcess("python3", ["-c", PY_CLIENT, String(port), "hello from python"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`hello from python 127.0.0.1 ${port}\n`);
  });

  it("shows a Python sender's address in lab udp listen", async () => {
    const { lab, port } = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "1"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const script = `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
s.sendto(b"hi from python", ("127.0.0.1", ${port})); print(s.getsockname()[1])`;
    const r = await runProcess("python3", ["-c", script]);
    const pyPort = r.stdout.trim();
    expect(await lab.exited).toBe(0);
    expect(lab.stdout()).toBe(`127.0.0.1:${pyPort}  14 bytes  hi from python\n`);
  });

  it("pings Python's socketserver.UDPServer echo", async () => {
    const py = startProcess("python3", ["-c", PY_ECHO]);
    const port = Number(await py.waitForOutput(/^\d+(?=\n)/, { stream: "stdout" }));
    const r = await runLab([
      "udp",
      "ping",
      "--port",
      String(port),
      "-c",
      "5",
      "--interval",
      "0.02",
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ transmitted: 5, received: 5, lossPercent: 0 });
  });
});
