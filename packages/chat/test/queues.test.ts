import { describe, expect, it, onTestFinished } from "vitest";
import { ChatHub, type HubOptions, type Link } from "../src/hub.js";

/**
 * A peer that never reads: everything written stays queued, as with a socket nobody drains. It
 * keeps the Link contract as `wfile.send()` does (socketserver's tests check the writer itself):
 * past `maxQueuedBytes`, even after `flush()`, nothing is queued and the link is cut.
 */
class StuckLink implements Link {
  readonly address = "127.0.0.1";
  readonly port = 1;
  readonly bytesIn = 0;
  readonly written: string[] = [];
  bufferedBytes = 0;
  maxQueuedBytes = Number.POSITIVE_INFINITY;
  isDestroyed = false;
  /** The most this link ever held queued. */
  peak = 0;
  send(data: Uint8Array): boolean {
    if (this.isDestroyed) return true;
    if (this.bufferedBytes + data.length > this.maxQueuedBytes) {
      this.flush();
      if (this.bufferedBytes + data.length > this.maxQueuedBytes) {
        this.destroy();
        return false;
      }
    }
    this.written.push(Buffer.from(data).toString("utf8"));
    this.bufferedBytes += data.length;
    this.peak = Math.max(this.peak, this.bufferedBytes);
    return true;
  }
  /** Hands the batch to the kernel: this peer takes none of it. */
  flush(): void {}
  end(): void {}
  destroy(): void {
    this.isDestroyed = true;
    this.bufferedBytes = 0;
  }
  /** The peer read everything. */
  drain(): void {
    this.bufferedBytes = 0;
  }
}

/** A peer that reads whatever the kernel is handed: `flush()` empties its queue. */
class ReadingLink extends StuckLink {
  override flush(): void {
    this.drain();
  }
}

function hub(opts: Partial<HubOptions>): ChatHub {
  const h = new ChatHub({
    helloGraceMs: 60_000,
    idleTimeoutMs: 0,
    floodMessages: Number.POSITIVE_INFINITY,
    ...opts,
  });
  onTestFinished(() => h.dispose());
  return h;
}

/** Attaches a peer and joins it to #lobby (any line joins a text client). */
function join<L extends StuckLink>(h: ChatHub, link: L = new StuckLink() as L) {
  const session = h.attach(link)!;
  h.receive(session, "/who");
  return { session, link };
}

describe("output queues (#13)", () => {
  it("counts the history replay against the joiner's queue: only the newest that fit in half of it", () => {
    const h = hub({ maxQueueBytes: 4_000, historySize: 20 });
    const talker = join(h);
    for (let i = 0; i < 20; i++) {
      h.receive(talker.session, `${String(i).padStart(2, "0")} ${"x".repeat(190)}`);
      talker.link.drain();
    }
    const late = join(h);
    const replayed = late.link.written.filter((l) => l.startsWith("<guest-1> "));
    // Half of 4 000 bytes, less the welcome line: 9 lines of ~205 bytes, the newest ones.
    expect(replayed.length).toBeGreaterThanOrEqual(5);
    expect(replayed.length).toBeLessThan(10);
    expect(replayed.at(-1)).toMatch(/^<guest-1> 19 x+\n$/);
    expect(late.link.written).toContain(
      `* history: ${20 - replayed.length} older messages not shown, only the last ${replayed.length} fit in this connection's output queue\n`,
    );
    expect(late.link.isDestroyed).toBe(false);
  });

  it("cuts a client before its queue would pass maxQueueBytes: it never holds more", () => {
    const h = hub({ maxQueueBytes: 2_000 });
    const reasons: string[] = [];
    h.on("disconnect", (_p, why: string) => reasons.push(why));
    const talker = join(h);
    const stuck = join(h);
    for (let i = 0; i < 30 && !stuck.link.isDestroyed; i++) {
      h.receive(talker.session, "y".repeat(100));
      talker.link.drain();
    }
    expect(stuck.link.isDestroyed).toBe(true);
    expect(stuck.link.peak).toBeLessThanOrEqual(2_000);
    h.detach(stuck.session);
    expect(reasons).toEqual(["slow consumer: more than 2000 bytes queued"]);
  });

  it("sends a burst bigger than maxQueueBytes on early to a client that reads, instead of cutting it", () => {
    const h = hub({ maxQueueBytes: 2_000 });
    const talker = join(h);
    const reader = join(h, new ReadingLink());
    const stuck = join(h);
    // One turn: 30 lines of ~110 bytes to each, with no end-of-turn flush between them.
    for (let i = 0; i < 30; i++) h.receive(talker.session, "v".repeat(100));
    expect(reader.link.isDestroyed).toBe(false);
    expect(reader.link.written.filter((l) => l.startsWith("<guest-1> "))).toHaveLength(30);
    expect(reader.link.peak).toBeLessThanOrEqual(2_000);
    expect(stuck.link.isDestroyed).toBe(true);
  });

  it("holds all queues under maxQueuedBytesTotal by cutting the largest ones first", () => {
    const h = hub({ maxQueueBytes: 10_000, maxQueuedBytesTotal: 5_000 });
    const reasons: string[] = [];
    h.on("disconnect", (p: { nick: string }, why: string) => reasons.push(`${p.nick}: ${why}`));
    const talker = join(h);
    const peers = [join(h), join(h), join(h), join(h)];
    // Each peer stopped reading at a different moment (the last one never read): it holds the most.
    for (let round = 0; round < 20; round++) {
      h.receive(talker.session, "z".repeat(150));
      talker.link.drain();
      for (let i = 0; i < peers.length; i++) if (round < 15 - 5 * i) peers[i]!.link.drain();
    }
    const queued = () => peers.reduce((sum, p) => sum + p.link.bufferedBytes, 0);
    expect(queued()).toBeGreaterThan(5_000);
    const largest = [...peers].sort((a, b) => b.link.bufferedBytes - a.link.bufferedBytes)[0]!;
    h.checkQueuedTotal();
    expect(queued()).toBeLessThanOrEqual(5_000);
    expect(largest.link.isDestroyed).toBe(true);
    expect(peers.filter((p) => !p.link.isDestroyed).length).toBeGreaterThan(0);
    for (const p of peers) if (p.link.isDestroyed) h.detach(p.session);
    expect(reasons.join("\n")).toMatch(/slow consumer: the server's output queues passed 5000 bytes/);
  });

  it("cuts the replay short when the server's queues are near maxQueuedBytesTotal", () => {
    const h = hub({ maxQueueBytes: 100_000, maxQueuedBytesTotal: 3_000, historySize: 10 });
    const talker = join(h);
    for (let i = 0; i < 10; i++) {
      h.receive(talker.session, "w".repeat(190));
      talker.link.drain();
    }
    const first = join(h);
    const second = join(h);
    const shown = (l: StuckLink) => l.written.filter((x) => x.startsWith("<guest-1> ")).length;
    expect(shown(first.link)).toBeLessThanOrEqual(10);
    expect(shown(second.link)).toBeLessThan(shown(first.link));
    expect(second.link.written.some((l) => l.startsWith("* history: "))).toBe(true);
  });

  it("rejects a queue limit below one byte", () => {
    expect(() => new ChatHub({ maxQueuedBytesTotal: 0 })).toThrow(/maxQueuedBytesTotal/);
  });
});
