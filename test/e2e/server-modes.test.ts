import net from "node:net";
import { describe, expect, it } from "vitest";
import { runLab, startServer } from "../helpers/lab.js";

/** Sends `input`, half-closes, and returns everything the server sent until it closed. */
async function exchange(port: number, input: string, timeoutMs = 5_000): Promise<string> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.setEncoding("utf8");
  let out = "";
  socket.on("data", (d: string) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no EOF within ${timeoutMs} ms; got ${JSON.stringify(out)}`));
    }, timeoutMs);
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once("connect", () => socket.end(input));
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function server(mode: string, extra: string[] = []) {
  return startServer(
    (p) => ["server", "--mode", mode, "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p} (${mode})`,
  );
}

describe("lab server --mode echo|upper", () => {
  it("echo: each line comes back, and connect/disconnect are logged with the peer", async () => {
    const { lab, port } = await server("echo");
    expect(await exchange(port, "hello\nsecond line\n")).toBe("hello\nsecond line\n");
    await lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+ \(#1, 18 B in, 18 B out\)/, { stream: "stderr" });
    expect(lab.stderr()).toMatch(/connect 127\.0\.0\.1:\d+ \(#1\)/);
    expect(lab.stdout()).toBe("");
  });

  it("a SIGTERM sent the moment the ready line appears still shuts down gracefully (exit 0)", async () => {
    for (const mode of ["echo", "chat"]) {
      const { lab } = await server(mode);
      expect(await lab.stop("SIGTERM")).toBe(0);
      expect(lab.stderr()).toContain("stopped");
    }
  });

  it("upper: each line comes back upper-cased, even after the client half-closed", async () => {
    const { port } = await server("upper");
    expect(await exchange(port, "hello\nno newline at the end")).toBe("HELLO\nNO NEWLINE AT THE END\n");
  });

  it("--max-clients: the extra connection gets one ERR line, the others keep working", async () => {
    const { lab, port } = await server("echo", ["--max-clients", "1"]);
    const first = net.connect({ host: "127.0.0.1", port });
    first.setEncoding("utf8");
    await new Promise((r) => first.once("connect", r));
    try {
      // The first connection is registered once it echoes.
      first.write("one\n");
      await new Promise((r) => first.once("data", r));
      expect(await exchange(port, "")).toBe("ERR server full (1 connections)\n");
      await lab.waitForOutput(/refuse 127\.0\.0\.1:\d+: server full/);
      first.write("two\n");
      expect(await new Promise((r) => first.once("data", r))).toBe("two\n");
    } finally {
      first.destroy();
    }
  });

  it("--idle-timeout closes a silent connection", async () => {
    const { lab, port } = await server("echo", ["--idle-timeout", "0.2"]);
    const socket = net.connect({ host: "127.0.0.1", port });
    const closed = new Promise((r) => socket.once("close", r));
    socket.on("error", () => {});
    await closed;
    await lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+ \(#1, 0 B in, 0 B out\)/);
  });

  it("shuts down on SIGTERM and on SIGINT with exit 0, even with a client connected", async () => {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const { lab, port } = await server("echo");
      const idle = net.connect({ host: "127.0.0.1", port });
      idle.on("error", () => {});
      await lab.waitForOutput("connect 127.0.0.1");
      const code = await lab.stop(signal);
      expect(code).toBe(0);
      expect(lab.stderr()).toContain("shutting down (1 connection open)");
      expect(lab.stderr()).toContain("stopped");
      idle.destroy();
    }
  });

  it("a port in use: one line naming the port, a hint, exit 1", async () => {
    const { port } = await server("echo");
    const r = await runLab(["server", "--mode", "echo", "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: port ${port} on 127.0.0.1 is already in use\nhint: stop the other server or choose another --port\n`,
    );
  });

  it("bad options are usage errors (exit 2) naming the option", async () => {
    const bad = [
      [["--port", "70000"], "--port must be a whole number from 0 to 65535"],
      [["--max-clients", "0"], "--max-clients must be a whole number from 1"],
      [["--idle-timeout", "soon"], "--idle-timeout must be a time"],
      [["--mode", "nosuch"], 'unknown --mode "nosuch"'],
    ] as const;
    for (const [args, message] of bad) {
      const r = await runLab(["server", ...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it("--help lists the modes and an example", async () => {
    const r = await runLab(["server", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/echo +each line comes back as sent/);
    expect(r.stdout).toMatch(/upper +each line comes back upper-cased/);
    expect(r.stdout).toContain("Examples:");
  });
});
