import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startLab, startServer } from "../helpers/lab.js";
import { HAS_REDIS, REDIS_MISSING, startRedis } from "../helpers/redis.js";

if (!HAS_REDIS) console.warn(REDIS_MISSING);

/** The transcript section of one pane: from its `== title ==` to the next blank line. */
function pane(stdout: string, title: RegExp): string {
  const lines = stdout.split("\n");
  const at = lines.findIndex((l) => title.test(l));
  if (at < 0) throw new Error(`no pane ${title} in:\n${stdout}`);
  const rest = lines.slice(at);
  const end = rest.indexOf("");
  return rest.slice(0, end < 0 ? undefined : end).join("\n");
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** The pids of `pid`'s descendants, from /proc (Linux). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent pid is the 2nd field after the parenthesised command name.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {} // gone meanwhile
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length > 0; ) {
    const next = [...parents].filter(([, ppid]) => frontier.includes(ppid)).map(([child]) => child);
    found.push(...next);
    frontier = next;
  }
  return found;
}

/** The port of the redis-server below `pid`, once one is listening (checked every 50 ms). */
async function redisPortBelow(pid: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const child of descendants(pid)) {
      const cmd = (() => {
        try {
          return readFileSync(`/proc/${child}/cmdline`, "utf8");
        } catch {
          return "";
        }
      })();
      const port = Number(/^\S*redis-server 127\.0\.0\.1:(\d+)/.exec(cmd)?.[1]);
      if (port > 0 && (await canConnect(port))) return port;
    }
    await sleep(50);
  }
  throw new Error(`no redis-server listening below pid ${pid} within ${timeoutMs} ms`);
}

/** Every client line of a pane that carries a route (`a→b <nick> text`). */
function routed(text: string): string[] {
  return text.split("\n").filter((l) => /^\w+→\w+ </.test(l));
}

describe.skipIf(!HAS_REDIS)("lab demo --cluster (#16)", () => {
  it("runs two nodes through the Redis given, a client on each, every message marked with the nodes it crossed", async () => {
    const redis = await startRedis();
    const script = [
      "clients 3",
      "client 1: hello from node a",
      "expect client 2: a→b <alice> hello from node a",
      "expect client 3: a→a <alice> hello from node a",
      "client 2: and back from b",
      "expect client 1: b→a <bob> and back from b",
      "expect client 3: b→a <bob> and back from b",
    ].join("\n");
    const r = await runLab(["demo", "--cluster", redis.url, "--script", "-", "--expect-timeout", "10s"], {
      input: `${script}\n`,
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const server = pane(r.stdout, /^== server/);
    expect(server).toMatch(/node a listening on 127\.0\.0\.1:\d+/);
    expect(server).toMatch(/node b listening on 127\.0\.0\.1:\d+/);
    expect(server).toContain(`nodes a and b joined through Redis at 127.0.0.1:${redis.port}`);
    const alice = pane(r.stdout, /^== client 1 alice/);
    const bob = pane(r.stdout, /^== client 2 bob/);
    expect(alice).toMatch(/\* connecting to node a at /);
    expect(bob).toMatch(/\* connecting to node b at /);
    expect(routed(alice)).toEqual(["a→a <alice> hello from node a", "b→a <bob> and back from b"]);
    expect(routed(bob)).toEqual(["a→b <alice> hello from node a", "b→b <bob> and back from b"]);
    // The demo's nodes are real cluster nodes: they registered in the Redis they were given.
    expect(await redis.cli("KEYS", "netlab:*")).not.toBe("");
  });

  it("says its nodes are a and b when a node of that id is already in the cluster", async () => {
    const redis = await startRedis();
    await startServer(
      (p) => ["server", "--port", String(p), "--cluster", redis.url, "--node-id", "a"],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const r = await runLab(["demo", "--cluster", redis.url, "--script", "-"], {
      input: "clients 1\n",
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(1);
    // The demo has no --node-id to give: the hint says what to change instead.
    expect(r.stderr).toMatch(/^lab: another node with --node-id a is in the cluster at 127\.0\.0\.1:\d+\n/);
    expect(r.stderr).toMatch(/^hint: the demo's nodes are a and b: .*--node-id c/m);
  });

  it("starts a redis-server of its own without a URL, and stops it on exit", async () => {
    const args = ["--clients", "2", "--json", "--expect-timeout", "10s"];
    const demo = startLab(["demo", "--cluster", "--script", "-", ...args]);
    demo.write("client 2: hi from b\nexpect client 1: b→a <bob> hi from b\n");
    demo.endInput();
    expect(await demo.exited, demo.stderr()).toBe(0);
    const out = JSON.parse(demo.stdout()) as {
      server: { cluster: { redis: string; nodes: Array<{ id: string }> } };
      clients: Array<{ nick: string; node: string }>;
    };
    expect(out.server.cluster.nodes.map((n) => n.id)).toEqual(["a", "b"]);
    expect(out.clients.map((c) => [c.nick, c.node])).toEqual([
      ["alice", "a"],
      ["bob", "b"],
    ]);
    const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(out.server.cluster.redis)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(await canConnect(port)).toBe(false);
  });

  it.runIf(process.platform === "linux")(
    "its own redis-server goes too when the demo is killed with SIGKILL, with no chance to stop it",
    async () => {
      // An expectation that never comes keeps the demo running while the test looks for its Redis.
      const demo = startLab([
        "demo",
        "--cluster",
        "--clients",
        "2",
        "--script",
        "-",
        "--expect-timeout",
        "60s",
      ]);
      demo.write("expect client 1: nobody says this\n");
      demo.endInput();
      const pid = demo.child.pid ?? 0;
      const port = await redisPortBelow(pid, 15_000);
      demo.child.kill("SIGKILL");
      await demo.exited;
      const deadline = Date.now() + 10_000;
      while ((await canConnect(port)) && Date.now() < deadline) await sleep(50);
      expect(await canConnect(port)).toBe(false);
    },
  );

  it("shares its room with an outside lab server --cluster node: a message sent there shows as c→a and c→b", async () => {
    const redis = await startRedis();
    const { port } = await startServer(
      (p) => ["server", "--port", String(p), "--cluster", redis.url, "--node-id", "c"],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const demo = startLab([
      "demo",
      "--cluster",
      redis.url,
      "--script",
      "-",
      "--clients",
      "2",
      "--expect-timeout",
      "15s",
    ]);
    demo.write(
      "expect client 1: c→a <visitor> over the cluster\nexpect client 2: c→b <visitor> over the cluster\n",
    );
    demo.endInput();
    const visitor = await lineClient(port);
    await visitor.waitFor(/you are/);
    visitor.send("/nick visitor");
    await visitor.waitFor("is now known as visitor");
    visitor.send("over the cluster");
    expect(await demo.exited, `${demo.stdout()}\n${demo.stderr()}`).toBe(0);
  });
});
