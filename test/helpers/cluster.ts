// Cluster test pieces shared by test/interop/cluster*.test.ts: a node and a member of a room.
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { startServer } from "./lab.js";
import type { RedisServer } from "./redis.js";

/** A `lab server --cluster` node on a free port, with `extra` arguments; killed when the test ends. */
export async function clusterNode(redis: RedisServer, id: string, extra: string[] = []) {
  return startServer(
    (p) => ["server", "--port", String(p), "--cluster", redis.url, "--node-id", id, ...extra],
    (p) => `listening on 127.0.0.1:${p}`,
  );
}

/** A text-mode client that has joined #lobby, and then `room` when given; its nick. */
export async function chatMember(
  port: number,
  room?: string,
  timeoutMs = 10_000,
): Promise<{ c: LineClient; nick: string }> {
  const c = await lineClient(port, { timeoutMs });
  const nick = /you are (\S+)\./.exec(await c.waitFor("netlab chat/1"))?.[1] ?? "";
  await c.waitFor(`* ${nick} joined #lobby`);
  if (room !== undefined) {
    c.send(`/join ${room}`);
    await c.waitFor(`* ${nick} joined ${room}`);
  }
  return { c, nick };
}
