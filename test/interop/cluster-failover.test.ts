import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../packages/chat/src/index.js";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { clusterNode, FLOOD_OFF, fayInOps } from "../helpers/cluster.js";
import { HAS_REDIS, REDIS_MISSING } from "../helpers/redis.js";

if (!HAS_REDIS) console.warn(REDIS_MISSING);

describe.skipIf(!HAS_REDIS)("lab client --node: failing over between cluster nodes (#16)", () => {
  it("SIGKILL of its node while messages flow: the client goes on on the next node, in its room, with every message once and in the room's order", async () => {
    // The talkers and the observer are in #ops before fay: the #ops joins in her output are her own.
    const { redis, a, b, talkers, observer, client } = await fayInOps([], 2);

    // Both talkers say one line each 10 ms, 300 each: three seconds of traffic around the kill.
    const LINES = 300;
    let sent = 0;
    const timer = setInterval(() => {
      talkers.forEach((t, i) => {
        t.c.send(`t${i} ${sent}`);
      });
      if (++sent >= LINES) clearInterval(timer);
    }, 10);
    try {
      await client.waitForOutput('"text":"t1 60"', { stream: "stdout" });
      a.lab.child.kill("SIGKILL");
      const failover = await client.waitForOutput(/^\* connection to .*$/m, { stream: "stderr" });
      expect(failover).toMatch(
        new RegExp(
          `^\\* connection to 127\\.0\\.0\\.1:${a.port} lost; now on 127\\.0\\.0\\.1:${b.port}, resumed after id \\d+-\\d+ in #ops$`,
        ),
      );
      const last = `t1 ${LINES - 1}`;
      await client.waitForOutput(`"text":"${last}"`, { stream: "stdout", timeoutMs: 20_000 });
      await observer.c.waitFor(`<${talkers[1]!.nick}> ${last}`, { timeoutMs: 20_000 });
    } finally {
      clearInterval(timer);
    }

    const said = new RegExp(`^<(?:${talkers.map((t) => t.nick).join("|")})> (t\\d \\d+)$`);
    const order = observer.c.lines.flatMap((l) => said.exec(l)?.[1] ?? []);
    expect(order).toHaveLength(2 * LINES);
    const events = client
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as ChatEvent);
    const heard = events.flatMap((e) => (e.type === "message" && e.room === "#ops" ? [e.text] : []));
    // Every line once, in the order the room's other members saw: nothing lost across the kill,
    // nothing replayed twice.
    expect(heard).toEqual(order);
    // On b it is back in #ops, as fay again: its reclaim token took the nick from node a's lease.
    const joins = events.filter((e) => e.type === "join" && e.room === "#ops");
    const rejoined = joins.at(-1) as Extract<ChatEvent, { type: "join" }>;
    expect(joins.length).toBeGreaterThanOrEqual(2);
    expect(events.filter((e) => e.type === "join" && e.room === "#lobby")).toHaveLength(1);
    observer.c.send("/who");
    await observer.c.waitFor(new RegExp(`^\\* in #ops: .*\\b${rejoined.nick}\\b`));
    // History from the room's stream (XREVRANGE, on a node new to #ops) keeps each line's own
    // time: the ts the client saw it said with, live or caught up.
    const saidAt = new Map(events.flatMap((e) => (e.type === "message" ? [[e.text, e.ts] as const] : [])));
    const c = await clusterNode(redis, "c", FLOOD_OFF);
    const joiner = await lineClient(c.port);
    await joiner.waitFor("netlab chat/1");
    joiner.send(JSON.stringify({ type: "hello", proto: 1, room: "#ops" }));
    await joiner.waitFor('"type":"join"');
    const history = joiner.lines
      .filter((l) => l.includes('"type":"message"'))
      .map((l) => JSON.parse(l) as Extract<ChatEvent, { type: "message" }>);
    expect(history.length).toBeGreaterThan(0);
    for (const m of history)
      expect({ text: m.text, history: m.history, ts: m.ts }).toEqual({
        text: m.text,
        history: true,
        ts: saidAt.get(m.text),
      });
    client.endInput();
    expect(await client.exited).toBe(0);
  }, 60_000);
});
