// Issue #13, `lab udp` against hostile peers: the echo server's delay queue stays bounded in bytes
// whatever is sent to it, `lab udp listen` never prints live control codes, and one Ctrl-C or
// SIGTERM ends every udp command within a second.

import { describe, expect, it } from "vitest";
import { formatBytes } from "../../packages/core/src/index.js";
import { type LabProcess, SIGNAL_EXIT_MS, startLab, startServer } from "../helpers/lab.js";
import { udpClient } from "../helpers/udp.js";

const MAX_QUEUE = 1024 * 1024;
const BIG = 64_000;

async function startEcho(args: string[]): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => ["udp", "echo", "--port", String(p), ...args],
    (p) => `listening on udp 127.0.0.1:${p}`,
  );
}

/** Sends SIGNAL and resolves with the exit code and how long the process took to end, in ms. */
async function stopTimed(lab: LabProcess, signal: NodeJS.Signals): Promise<{ code: number; ms: number }> {
  const sent = Date.now();
  const code = await lab.stop(signal);
  return { code, ms: Date.now() - sent };
}

describe("#13 lab udp echo: the delay queue is bounded in bytes", () => {
  it("#13: under a blast of 64 KB datagrams with --delay 3s, queues at most --max-queue-bytes and counts the drops", async () => {
    const { lab, port } = await startEcho(["--delay", "3s", "--max-queue-bytes", String(MAX_QUEUE), "-v"]);
    const socket = await udpClient();
    const me = `127.0.0.1:${socket.address().port}`;
    const count = 40; // 2.56 MB offered; 16 fit in 1 MiB
    for (let i = 1; i <= count; i++) {
      socket.send(Buffer.alloc(BIG, i), port, "127.0.0.1");
      // One at a time, so the kernel's receive buffer never drops any: the emulator sees them all.
      await lab.waitForOutput(`#${i} ${me}  ${BIG} bytes  `, { stream: "stderr" });
    }
    const fit = Math.floor(MAX_QUEUE / BIG);
    expect(lab.stderr()).toContain(`#${fit + 1} ${me}  ${BIG} bytes  dropped, delay queue full`);
    expect((await stopTimed(lab, "SIGINT")).code).toBe(0);
    expect(lab.stderr()).toContain(
      `${count - fit} dropped for a full delay queue, peak ${formatBytes(fit * BIG)} of ${formatBytes(MAX_QUEUE)} queued`,
    );
  });

  it("#13: bounds the queue by default (16 MiB) and says so in the summary, exact in --log-format json", async () => {
    const { lab, port } = await startEcho(["--delay", "3s", "-v", "--log-format", "json"]);
    const socket = await udpClient();
    socket.send(Buffer.alloc(BIG), port, "127.0.0.1");
    await lab.waitForOutput(`${BIG} bytes  echoed after`, { stream: "stderr" });
    expect((await stopTimed(lab, "SIGTERM")).code).toBe(0);
    const stopped = lab
      .stderr()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.event === "stopped");
    expect(stopped).toMatchObject({
      datagrams: 1,
      queueDrops: 0,
      peakQueuedBytes: BIG,
      maxQueuedBytes: 16 * 1024 * 1024,
    });
    expect(stopped?.msg).toContain("0 dropped for a full delay queue, peak 62.5 KiB of 16.0 MiB queued");
  });
});

describe("#13 lab udp listen: text from the network is shown, never obeyed", () => {
  it("#13: prints C1 controls, bidi overrides, separators and a BOM as <U+XXXX>; --json keeps them exact", async () => {
    const hostile = "\ufeffhi \u009b2J \u202eexe.txt \u2028 \u2066x\u2069";
    const { lab, port } = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "2"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const json = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "1", "--json"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const socket = await udpClient();
    socket.send(Buffer.from(hostile), port, "127.0.0.1");
    socket.send(Buffer.from("ring \u0007 and \u001b]0;PWNED\u0007"), port, "127.0.0.1");
    socket.send(Buffer.from(hostile), json.port, "127.0.0.1");
    expect(await lab.exited).toBe(0);
    const lines = lab.stdout().trimEnd().split("\n");
    expect(lines[0]).toMatch(/ {2}<U\+FEFF>hi <U\+009B>2J <U\+202E>exe\.txt <U\+2028> <U\+2066>x<U\+2069>$/);
    expect(lines[1]).toMatch(/ {2}hex 72696e67/); // control bytes: shown as hex
    expect(lab.stdout()).not.toMatch(
      /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/,
    );
    expect(await json.lab.exited).toBe(0);
    expect(JSON.parse(json.lab.stdout()).text).toBe(hostile);
  });
});

describe("#13 lab udp: one Ctrl-C or SIGTERM ends it within 1 s", () => {
  it.each(["SIGINT", "SIGTERM"] as const)(
    "#13: ping with replies still pending ends on one %s with exit 130, summary printed",
    async (signal) => {
      const { port } = await startEcho(["--delay", "3s"]);
      const lab = startLab([
        "udp",
        "ping",
        "--port",
        String(port),
        "--interval",
        "0.05",
        "-W",
        "10",
        "--linger",
        "10",
      ]);
      await lab.waitForOutput("PING 127.0.0.1", { stream: "stderr" });
      const { code, ms } = await stopTimed(lab, signal);
      expect(code).toBe(130);
      expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
      expect(lab.stdout()).toMatch(/\d+ packets transmitted, 0 received/);
    },
  );

  it("#13: listen ends on one SIGINT within 1 s", async () => {
    const { lab } = await startServer(
      (p) => ["udp", "listen", "--port", String(p)],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const { code, ms } = await stopTimed(lab, "SIGINT");
    expect(code, lab.stderr()).toBe(0);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });

  it("#13: echo with delayed replies queued ends on one SIGTERM within 1 s", async () => {
    const { lab, port } = await startEcho(["--delay", "3s", "-v"]);
    const socket = await udpClient();
    socket.send(Buffer.from("later"), port, "127.0.0.1");
    await lab.waitForOutput("echoed after", { stream: "stderr" });
    const { code, ms } = await stopTimed(lab, "SIGTERM");
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });

  it("#13: send --wait ends on one SIGINT within 1 s with exit 130", async () => {
    const peer = await udpClient();
    const arrived = new Promise<void>((resolve) => peer.once("message", () => resolve()));
    const lab = startLab(["udp", "send", `127.0.0.1:${peer.address().port}`, "hello", "--wait", "10"]);
    await arrived; // sent; now waiting for a reply that never comes
    const { code, ms } = await stopTimed(lab, "SIGINT");
    expect(code).toBe(130);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
  });
});
