import { readFileSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { type LabProcess, startServer } from "../helpers/lab.js";

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
  it("#13: 1 000 joiners that never read, with a full history of long lines: RSS stays bounded and comes back down", {
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
      return count(lab.stderr(), /\ndisconnect /) >= JOINERS;
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
