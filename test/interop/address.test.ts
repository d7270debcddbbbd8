import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { type LabProcess, runProcess, startLab } from "../helpers/lab.js";

// #19: lab's IPv6 and Unix-socket servers answer the tools people already use on those addresses.

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const NC = has("nc.openbsd") ? "nc.openbsd" : "nc";
const hasIPv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === "::1");
const install = (pkg: string) => `install it: sudo apt-get install ${pkg} (see .ci/run)`;

function tempSocket(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "netlab-ia-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, "s.sock");
}

/** `lab server --mode MODE --host HOST`, once it prints where it listens. */
async function serve(
  mode: string,
  host: string,
  ...extra: string[]
): Promise<{ lab: LabProcess; line: string }> {
  const lab = startLab(["server", "--mode", mode, "--host", host, ...extra]);
  const line = await lab.waitForOutput(/listening on \S+/, { stream: "stderr" });
  return { lab, line };
}

const PY_UNIX_CLIENT = `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"hello from python\\n")
s.shutdown(socket.SHUT_WR)
got = b""
while True:
    data = s.recv(4096)
    if not data: break
    got += data
sys.stdout.write(got.decode())
`;

describe("#19 address interop", () => {
  it.skipIf(!has("ncat"))(
    `ncat -U talks to lab server on a Unix socket${has("ncat") ? "" : ` (skipped: no ncat; ${install("ncat")})`}`,
    async () => {
      const sock = tempSocket();
      await serve("upper", `unix:${sock}`);
      const r = await runProcess("ncat", ["-U", sock], { input: "over ncat\n", timeoutMs: 10_000 });
      expect(r.stdout).toBe("OVER NCAT\n");
    },
    20_000,
  );

  it.skipIf(!has("socat"))(
    `socat UNIX-CONNECT and ABSTRACT-CONNECT${has("socat") ? "" : ` (skipped: no socat; ${install("socat")})`}`,
    async () => {
      const sock = tempSocket();
      await serve("upper", `unix:${sock}`);
      const unix = await runProcess("socat", ["-", `UNIX-CONNECT:${sock}`], {
        input: "socat unix\n",
        timeoutMs: 10_000,
      });
      expect(unix.stdout).toBe("SOCAT UNIX\n");
      if (process.platform !== "linux") return;
      // Node 20 binds an abstract name padded with NULs to the whole sun_path (108 bytes), so a peer
      // must connect with the full-length address: socat's unix-tightsocklen=0 does exactly that.
      const name = `netlab-ia-${process.pid}-${Date.now()}`;
      await serve("upper", `@${name}`);
      const abs = await runProcess("socat", ["-", `ABSTRACT-CONNECT:${name},unix-tightsocklen=0`], {
        input: "socat abstract\n",
        timeoutMs: 10_000,
      });
      expect(abs.stdout).toBe("SOCAT ABSTRACT\n");
    },
    20_000,
  );

  it.skipIf(!hasIPv6Loopback)(
    "nc -6 talks to lab server on ::1 (skipped without ::1)",
    async () => {
      const { line } = await serve("upper", "::1", "--port", "0");
      const port = /\[::1\]:(\d+)/.exec(line)![1]!;
      // -N: shut the connection down at end of input, so the server answers and closes.
      const r = await runProcess(NC, ["-6", "-N", "::1", port], {
        input: "over nc six\n",
        timeoutMs: 10_000,
      });
      expect(r.stdout).toBe("OVER NC SIX\n");
    },
    20_000,
  );

  it.skipIf(!has("python3"))(
    `a Python AF_UNIX client${has("python3") ? "" : ` (skipped: ${install("python3")})`}`,
    async () => {
      const sock = tempSocket();
      await serve("upper", `unix:${sock}`);
      const r = await runProcess("python3", ["-c", PY_UNIX_CLIENT, sock], { timeoutMs: 10_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("HELLO FROM PYTHON\n");
    },
    20_000,
  );

  it.skipIf(!has("socat"))(
    "socat joins the chat on a Unix socket and sees the greeting",
    async () => {
      const sock = tempSocket();
      const { lab } = await serve("chat", `unix:${sock}`);
      const r = await runProcess("socat", ["-t", "1", "-", `UNIX-CONNECT:${sock}`], {
        input: "/quit\n",
        timeoutMs: 10_000,
      });
      expect(r.stdout).toContain("netlab chat/1");
      await lab.waitForOutput("connect unix socket (#1)");
    },
    20_000,
  );
});
