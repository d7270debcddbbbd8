import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { type LabProcess, startServer } from "../helpers/lab.js";
import { dribble } from "../helpers/slow-peer.js";

/** Issue #13, chat server side: memory stays bounded, slow lines are cut, a reset line is not a line. */

const MiB = 1024 * 1024;
const JOINERS = 1_000;
/** Each history line: just under the 64 KiB line limit once the server adds `<guest-N> `. */
const LONG_LINE_CHARS = 64 * 1024 - 64;
/**
 * Stated figure: with 1 000 joiners that never read and a history of 50 lines of 64 KiB, the
 * server's peak resident memory grows by less than this over its size before they came (measured:
 * about 15 MiB; on main before #13 it passed 900 MiB and the server stalled).
 */
const MAX_PEAK_GROWTH = 128 * MiB;
/** After they leave, the server's resident memory is back within this of its size before they came. */
const MAX_GROWTH_AFTER_LEAVE = 64 * MiB;

function chat(extra: string[] = []): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => ["server", "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p} (chat)`,
  );
}

/** A field of /proc/PID/status in bytes (VmRSS: resident now; VmHWM: the peak). */
function procBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Opens `n` connections that never read (no data listener: Node reads 16 KiB, then the kernel fills). */
async function nonReaders(port: number, n: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => {
      const s = net.connect({ host: "127.0.0.1", port });
      s.on("error", () => {});
      sockets.push(s);
      return new Promise<void>((resolve, reject) => {
        s.once("connect", resolve);
        s.once("error", reject);
      });
    });
    await Promise.all(batch);
  }
  return sockets;
}

/** The members of #lobby as `/rooms` counts them. */
async function lobbySize(client: LineClient): Promise<number> {
  const from = client.lines.length;
  client.send("/rooms");
  const line = await client.waitFor(/^\* rooms: /, { from });
  return Number(/#lobby \((\d+)\)/.exec(line)?.[1] ?? 0);
}

function count(text: string, pattern: RegExp): number {
  return text.match(new RegExp(pattern.source, "g"))?.length ?? 0;
}

async function until(
  what: string,
  timeoutMs: number,
  check: () => Promise<boolean> | boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("chat server: bounded output queues", () => {
  it("#13: 1 000 joiners that never read, with a full history of long lines: RSS grows < 128 MiB, and is within 64 MiB of the start once they leave", {
    timeout: 40_000,
  }, async () => {
    const { lab, port } = await chat(["--history", "50", "--flood", "0", "--max-clients", "1100"]);
    const pid = lab.child.pid!;
    const talker = await lineClient(port, { timeoutMs: 15_000 });
    for (let i = 0; i < 50; i++) talker.send(`${i} ${"x".repeat(LONG_LINE_CHARS)}`);
    // Lines are handled in order: the reply to /rooms means all 50 are in the history.
    expect(await lobbySize(talker)).toBe(1);
    const before = procBytes(pid, "VmRSS");

    const sockets = await nonReaders(port, JOINERS);
    // Every joiner is in #lobby (its history replayed, as much as fits) or was cut as a slow consumer.
    await until("every joiner to be joined or cut", 20_000, async () => {
      const cut = count(lab.stderr(), /left: slow consumer/);
      return (await lobbySize(talker)) + cut >= JOINERS + 1;
    });
    const peak = procBytes(pid, "VmHWM");

    // A reader that joins now still gets the newest history, cut to what fits in its queue.
    const late = await lineClient(port);
    await late.waitFor(/^\* history: \d+ older messages not shown/);
    await late.waitFor(/^<guest-1> 49 x+$/);

    for (const s of sockets) s.destroy();
    await until("every joiner's disconnect to be logged", 10_000, () => {
      return count(lab.stderr(), / disconnect 127\./) >= JOINERS;
    });
    let after = procBytes(pid, "VmRSS");
    // V8 hands memory back a moment after the allocations stop: give it a few seconds.
    await until("RSS to come back down", 8_000, () => {
      after = procBytes(pid, "VmRSS");
      return after - before < MAX_GROWTH_AFTER_LEAVE;
    }).catch(() => undefined);

    const mb = (n: number) => `${Math.round(n / MiB)} MiB`;
    const report = `RSS before ${mb(before)}, peak ${mb(peak)}, after leaving ${mb(after)}`;
    expect(peak - before, report).toBeLessThan(MAX_PEAK_GROWTH);
    expect(after - before, report).toBeLessThan(MAX_GROWTH_AFTER_LEAVE);
    expect(await lobbySize(talker)).toBe(2);
  });
});

describe("chat server: slow lines (slowloris)", () => {
  it("#13: a client dribbling one byte every 200 ms is told and cut; a normal client is unaffected", async () => {
    const { lab, port } = await chat(["--line-timeout", "0.6"]);
    const normal = await lineClient(port);
    const slow = await lineClient(port);
    await normal.waitFor(/^\* guest-1 joined #lobby/);
    await slow.waitFor(/^\* guest-2 joined #lobby/);
    const start = Date.now();
    const sending = dribble(slow.socket, "x".repeat(200), 200);
    await slow.waitFor("! line not completed within 600 ms, disconnected [LINE_TIMEOUT]");
    await slow.closed;
    expect(Date.now() - start).toBeLessThan(5_000);
    await sending;
    await normal.waitFor(/^\* guest-2 left #lobby \(line not completed within 600 ms/);
    await lab.waitForOutput("guest-2 left: line not completed within 600 ms", { stream: "stderr" });
    // The normal client, whole lines a while apart, is still served.
    normal.send("/rooms");
    expect(await normal.waitFor(/^\* rooms: /)).toBe("* rooms: #lobby (1)");
  });
});

describe("chat server: a line cut off by a reset", () => {
  /** A talker sends `complete\npartial`, then ends its connection with `end`; what does the room see? */
  async function roomSees(end: (socket: net.Socket) => void): Promise<string[]> {
    const { port } = await chat();
    const observer = await lineClient(port);
    const talker = await lineClient(port);
    await observer.waitFor(/^\* guest-2 joined #lobby/);
    talker.socket.write("complete\npartial");
    await observer.waitFor("<guest-2> complete");
    end(talker.socket);
    // Whatever the server makes of "partial" comes before the leave it announces.
    await observer.waitFor(/^\* guest-2 left #lobby/);
    return observer.lines.filter((l) => l.startsWith("<guest-2> "));
  }

  it("#13: a connection reset drops the unfinished line instead of broadcasting it", async () => {
    expect(await roomSees((s) => s.resetAndDestroy())).toEqual(["<guest-2> complete"]);
  });

  it("#13: a clean end of input (FIN) still delivers a final line without its newline, as nc users expect", async () => {
    expect(await roomSees((s) => s.end())).toEqual(["<guest-2> complete", "<guest-2> partial"]);
  });
});
