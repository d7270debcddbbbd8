import net from "node:net";
import { describe, expect, it } from "vitest";
import { type LabProcess, runLab, SIGNAL_EXIT_MS, startServer } from "../helpers/lab.js";
import { dribble } from "../helpers/slow-peer.js";

/** Issue #13: `lab server` in every mode has the chat server's limits, and one signal always stops it. */

const MODES = ["chat", "echo", "upper"] as const;

function server(mode: string, extra: string[] = []): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => ["server", "--mode", mode, "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p} (${mode})`,
  );
}

function connect(port: number): Promise<net.Socket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection (or `timeoutMs` passes: rejects). */
function readToClose(socket: net.Socket, timeoutMs = 5_000): Promise<string> {
  let out = "";
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not closed within ${timeoutMs} ms; got ${JSON.stringify(out)}`)),
      timeoutMs,
    );
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** Polls `check` every 20 ms; rejects after `timeoutMs`. */
async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("lab server --mode echo|upper: the limits chat has", () => {
  it("says '1 client', not '1 clients', when --max-clients is 1", async () => {
    const { lab } = await server("upper", ["--max-clients", "1"]);
    await lab.waitForOutput("limits: 1 client, idle timeout 600 s, line timeout 30 s", { stream: "stderr" });
    expect(await lab.stop()).toBe(0);
  });

  it("#13: every mode states its limits, by default 1000 clients, 600 s idle, 30 s per line", async () => {
    for (const mode of MODES) {
      const { lab } = await server(mode);
      await lab.waitForOutput("limits: 1000 clients, idle timeout 600 s, line timeout 30 s", {
        stream: "stderr",
      });
      expect(await lab.stop()).toBe(0);
    }
    const { lab } = await server("chat", [
      "--max-queued",
      "1M",
      "--line-timeout",
      "0",
      "--idle-timeout",
      "0",
    ]);
    await lab.waitForOutput(
      "limits: 1000 clients, idle timeout off, line timeout off, output queues 1.0 MiB in all",
      {
        stream: "stderr",
      },
    );
  });

  it("#13: a --max-queued that is not a size, or under 64K, is a usage error", async () => {
    for (const bad of ["lots", "1000"]) {
      const r = await runLab(["server", "--max-queued", bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr).toContain(
        `lab: --max-queued must be a size of at least 64K, such as 64M or 1G, got "${bad}"`,
      );
    }
  });

  it("#13: echo refuses the 1001st connection by default with one ERR line", {
    timeout: 20_000,
  }, async () => {
    const { lab, port } = await server("echo");
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 1_000; i += 100) {
        held.push(...(await Promise.all(Array.from({ length: 100 }, () => connect(port)))));
      }
      await lab.waitForOutput(/connect 127\.0\.0\.1:\d+ \(#1000\)/, { stream: "stderr" });
      const extra = await connect(port);
      expect(await readToClose(extra)).toBe("ERR server full (1000 connections)\n");
    } finally {
      for (const s of held) s.destroy();
    }
  });

  it("#13: upper applies --idle-timeout and --max-clients as echo and chat do", async () => {
    const { lab, port } = await server("upper", ["--idle-timeout", "0.3", "--max-clients", "1"]);
    const first = await connect(port);
    const closed = readToClose(first);
    await lab.waitForOutput(/connect 127\.0\.0\.1:\d+ \(#1\)/, { stream: "stderr" });
    expect(await readToClose(await connect(port))).toBe("ERR server full (1 connections)\n");
    expect(await closed).toBe("");
    await lab.waitForOutput(/disconnect 127\.0\.0\.1:\d+ \(#1, 0 B in, 0 B out\)/, { stream: "stderr" });
  });

  it("#13: echo and upper cut a client dribbling one byte every 200 ms after --line-timeout, saying why", async () => {
    for (const mode of ["echo", "upper"]) {
      const { port } = await server(mode, ["--line-timeout", "0.5"]);
      const normal = await connect(port);
      const slow = await connect(port);
      const got = readToClose(slow);
      const sending = dribble(slow, "y".repeat(100), 200);
      expect(await got).toBe("ERR line not completed within 500 ms; closing\n");
      await sending;
      // Whole lines are served as before.
      const reply = new Promise<string>((resolve) => normal.once("data", (d) => resolve(String(d))));
      normal.write("still here\n");
      expect(await reply).toBe(mode === "echo" ? "still here\n" : "STILL HERE\n");
      normal.destroy();
    }
  });
});

describe("lab server: one signal stops it within a second", () => {
  /**
   * Peers that never read, and enough traffic that the server holds output it cannot deliver:
   * resolves once the server has taken in all of it (chat) or stalled on it (echo, upper).
   */
  async function stuckPeers(mode: string, port: number): Promise<net.Socket[]> {
    const peers = await Promise.all(Array.from({ length: 4 }, () => connect(port)));
    const line = `${"z".repeat(60 * 1024)}\n`;
    if (mode === "chat") {
      // One talker fills every other member's queue; nobody else reads.
      const talker = await connect(port);
      let heard = "";
      talker.setEncoding("utf8");
      talker.on("data", (d: string) => {
        heard += d;
      });
      peers.push(talker);
      await until("the talker to join", () => heard.includes("joined #lobby"));
      for (let i = 0; i < 40; i++) talker.write(line);
      // Lines are handled in order: the /rooms reply means all 40 were broadcast.
      talker.write("/rooms\n");
      await until("the reply to /rooms", () => heard.includes("* rooms: "));
    } else {
      // Each peer's echo fills its own socket until the handler waits for a drain that never
      // comes and the server stops reading: then the peer's own writes back up. Loopback buffers
      // autotune to several MB each way, so each peer keeps writing whenever the kernel takes
      // more (bounded at 64 MiB) rather than sending a fixed amount that might all fit.
      const maxBytes = 64 * 1024 * 1024;
      let lastDrainAt = Date.now();
      for (const p of peers) {
        let sent = 0;
        const fill = () => {
          lastDrainAt = Date.now();
          while (sent < maxBytes && !p.destroyed) {
            sent += line.length;
            if (!p.write(line)) return;
          }
        };
        p.on("drain", fill);
        fill();
      }
      // Stalled: the kernel has taken nothing more from any peer for 300 ms.
      await until(
        "the server to stall on every peer",
        () => Date.now() - lastDrainAt >= 300 && peers.every((p) => p.writableLength > 0),
        20_000,
      );
    }
    return peers;
  }

  for (const mode of MODES) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`#13: ${mode}: one ${signal} ends it within 1 s with non-reading peers holding full queues`, async () => {
        const extra = mode === "chat" ? ["--flood", "0"] : [];
        const { lab, port } = await server(mode, extra);
        const peers = await stuckPeers(mode, port);
        try {
          const exited = new Promise<number>((resolve) => lab.child.once("exit", () => resolve(Date.now())));
          const start = Date.now();
          lab.child.kill(signal);
          const tookMs = (await exited) - start;
          expect(await lab.exited).toBe(0);
          expect(lab.stderr()).toContain("stopped");
          expect(tookMs).toBeLessThan(SIGNAL_EXIT_MS);
        } finally {
          for (const p of peers) p.destroy();
        }
      });
    }
  }
});
