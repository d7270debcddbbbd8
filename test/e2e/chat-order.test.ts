import { describe, expect, it } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { startServer } from "../helpers/lab.js";

const CLIENTS = 50;
const LINES = 200;
const MESSAGE = /^<(guest-\d+)> c(\d+) (\d+)$/;

describe("lab server ordering and loss", () => {
  it(`delivers every line of ${CLIENTS} clients × ${LINES} to every other client, in order, none twice`, async () => {
    const { port } = await startServer(
      (p) => ["server", "--port", String(p), "--flood", "0", "--history", "0"],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const clients = [];
    for (let i = 0; i < CLIENTS; i++) {
      const c = await lineClient(port, { timeoutMs: 60_000 });
      clients.push(c);
    }
    // Everyone is in the room before anyone speaks: the last joiner's join reached them all.
    const last = clients.at(-1)!;
    const lastNick = /you are (\S+)\./.exec(await last.waitFor("netlab chat/1"))?.[1];
    await Promise.all(clients.map((c) => c.waitFor(`* ${lastNick} joined #lobby`)));

    clients.forEach((c, i) => {
      // One write per client, as a fast typist's lines would arrive: framing is the server's job.
      c.socket.write(Array.from({ length: LINES }, (_, n) => `c${i} ${n}\n`).join(""));
    });
    const expected = (CLIENTS - 1) * LINES;
    const counter = () => {
      // Counts only the lines that arrived since the last call: the wait stays linear.
      let seen = 0;
      let matched = 0;
      return (ls: string[]) => {
        for (; seen < ls.length; seen++) if (MESSAGE.test(ls[seen]!)) matched++;
        return matched >= expected;
      };
    };
    await Promise.all(clients.map((c) => c.waitUntil(counter(), `${expected} lines`, 60_000)));

    // Plain comparisons, one expect at the end: 490 000 expect() calls would take longer than the chat.
    const problems: string[] = [];
    clients.forEach((c, i) => {
      const next = new Map<number, number>();
      for (const line of c.lines) {
        const m = MESSAGE.exec(line);
        if (!m) continue;
        const from = Number(m[2]);
        const n = Number(m[3]);
        if (from === i) problems.push(`client ${i} got its own line back: ${line}`);
        // In order and none twice: each sender's numbers arrive exactly as 0, 1, 2, ...
        const want = next.get(from) ?? 0;
        if (n !== want) problems.push(`client ${i}: from c${from} got ${n}, expected ${want}`);
        next.set(from, n + 1);
      }
      if (next.size !== CLIENTS - 1) problems.push(`client ${i} heard from ${next.size} senders`);
      for (const [from, got] of next)
        if (got !== LINES) problems.push(`client ${i}: ${got} lines from c${from}`);
    });
    expect(problems.slice(0, 20)).toEqual([]);
  }, 90_000);
});
