// Cluster test pieces shared by test/interop/cluster*.test.ts: a node, a member of a room, and fay
// on a failing-over `lab client` with an observer.
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { startLab, startServer } from "./lab.js";
import { type RedisServer, startRedis } from "./redis.js";

/** `lab server` options that turn its flood limit off, for tests that send fast on purpose. */
export const FLOOD_OFF = ["--flood", "0"];

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

/**
 * A fresh Redis, two nodes a and b, `talkers` text clients and then an observer on b in #ops, and
 * `lab client --json … --node A --node B --nick fay` (with `extra` options) on a, in #ops too once
 * the observer saw her join.
 */
export async function fayInOps(extra: string[] = [], talkers = 0) {
  const redis = await startRedis();
  const a = await clusterNode(redis, "a", FLOOD_OFF);
  const b = await clusterNode(redis, "b", FLOOD_OFF);
  const members = [];
  for (let i = 0; i < talkers; i++) members.push(await chatMember(b.port, "#ops"));
  const observer = await chatMember(b.port, "#ops");
  const client = startLab([
    "client",
    "--json",
    ...extra,
    "--node",
    `127.0.0.1:${a.port}`,
    "--node",
    `127.0.0.1:${b.port}`,
    "--nick",
    "fay",
  ]);
  client.write("/join #ops\n");
  await observer.c.waitFor("* fay joined #ops");
  // The client too: the room hears the join through Redis, while node a may still hold the
  // client's copy in its batch for this turn; a test that freezes or kills a at once would
  // otherwise leave a client that still thinks it is in #lobby, and rejoins there.
  await client.waitForOutput(/"type":"join","room":"#ops","nick":"fay"/, { stream: "stdout" });
  return { redis, a, b, talkers: members, observer, client };
}
