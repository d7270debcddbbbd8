import { describe, expect, it, onTestFinished } from "vitest";
import { type BackendSink, compareStreamIds, type DeliveredEvent } from "../../packages/chat/src/index.js";
import { RedisBackend } from "../../packages/chat-redis/src/index.js";
import { HAS_REDIS, REDIS_MISSING, startRedis } from "../helpers/redis.js";

if (!HAS_REDIS) console.warn(REDIS_MISSING);

/** A started backend whose sink collects the room's messages; `until(n)` resolves once it has n. */
async function backendNode(url: string, nodeId: string) {
  const got: DeliveredEvent[] = [];
  let want = Number.POSITIVE_INFINITY;
  let reached: () => void = () => {};
  const sink: BackendSink = {
    deliver(e) {
      if (e.type !== "message") return;
      got.push(e);
      if (got.length >= want) reached();
    },
    deliverPrivate() {},
    status() {},
    lost() {},
    reclaimed() {},
  };
  const backend = new RedisBackend({ url, nodeId });
  await backend.start(sink);
  onTestFinished(() => backend.close());
  await backend.openRoom("#r", 0);
  return {
    backend,
    got,
    until(n: number, timeoutMs: number): Promise<void> {
      if (got.length >= n) return Promise.resolve();
      want = n;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`node ${nodeId}: ${got.length} of ${n} messages in ${timeoutMs} ms`)),
          timeoutMs,
        );
        reached = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}

/** `count` messages from `node`, `perTurn` in each turn of the event loop (one APPEND a turn). */
async function talk(backend: RedisBackend, node: string, count: number, perTurn: number): Promise<void> {
  const published: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    published.push(
      backend.publish({
        type: "message",
        room: "#r",
        from: node,
        text: `${node} ${i}`,
        ts: Date.now(),
        sid: 1,
      }),
    );
    if (i % perTurn === perTurn - 1) await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(published);
}

describe.skipIf(!HAS_REDIS)("cluster reader: nodes appending at once (#16)", () => {
  it("three nodes appending at once, in batches of different sizes, deliver every message once, in one order, and each publish resolves", async () => {
    const redis = await startRedis();
    const nodes = await Promise.all(["a", "b", "c"].map((id) => backendNode(redis.url, id)));
    const PER_NODE = 300;
    const total = PER_NODE * nodes.length;
    await Promise.all(nodes.map((n, i) => talk(n.backend, "abc"[i] as string, PER_NODE, 1 + i * 4)));
    await Promise.all(nodes.map((n) => n.until(total, 20_000)));
    const order = nodes[0]!.got.map((e) => (e.type === "message" ? e.text : ""));
    expect(new Set(order).size).toBe(total);
    for (const n of nodes) {
      expect(n.got.map((e) => (e.type === "message" ? e.text : ""))).toEqual(order);
      // Stream ids strictly ascending: nothing delivered twice or out of the stream's order.
      const ids = n.got.map((e) => e.streamId as string);
      expect(ids.every((id, i) => i === 0 || compareStreamIds(id, ids[i - 1] as string) > 0)).toBe(true);
    }
    // Each sender's own messages in the order it published them.
    for (const who of "abc") {
      const own = order.filter((t) => t.startsWith(`${who} `));
      expect(own).toEqual(Array.from({ length: PER_NODE }, (_, i) => `${who} ${i}`));
    }
  }, 60_000);
});
