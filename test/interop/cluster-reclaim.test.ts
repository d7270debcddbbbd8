import { createHash } from "node:crypto";
import { describe, expect, it, onTestFinished } from "vitest";
import type { BackendSink } from "../../packages/chat/src/index.js";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { RedisBackend } from "../../packages/chat-redis/src/index.js";
import { chatMember, clusterNode, FLOOD_OFF, fayInOps } from "../helpers/cluster.js";
import { HAS_REDIS, REDIS_MISSING, startRedis } from "../helpers/redis.js";

if (!HAS_REDIS) console.warn(REDIS_MISSING);

// Reclaim tokens across nodes (docs/cluster.md, "A nick through a crash"): a client that lands on
// another node takes its nick back at once with the token its old node gave it.

/** A raw JSON client whose hello is `hello`; its welcome. */
async function jsonClient(port: number, hello: object) {
  const c = await lineClient(port, { timeoutMs: 10_000 });
  await c.waitFor("netlab chat/1");
  c.send(JSON.stringify({ type: "hello", proto: 1, ...hello }));
  const welcome = JSON.parse(await c.waitFor(/"type":"welcome"/)) as { nick: string; reclaim?: string };
  return { c, welcome };
}

/** A started RedisBackend whose sink records the nicks other nodes reclaimed from it. */
async function backendNode(url: string, nodeId: string) {
  const reclaimed: string[] = [];
  const sink: BackendSink = {
    deliver() {},
    deliverPrivate() {},
    status() {},
    lost() {},
    reclaimed(nick) {
      reclaimed.push(nick);
    },
  };
  const backend = new RedisBackend({ url, nodeId });
  await backend.start(sink);
  onTestFinished(() => backend.close());
  await backend.openRoom("#r", 0);
  return { backend, reclaimed };
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe.skipIf(!HAS_REDIS)("reclaim tokens in a cluster", () => {
  it("RedisBackend.claimNick: only the stored hash moves a nick; the old node is told, loses the member, and its release leaves the new holder's key", async () => {
    const redis = await startRedis();
    const a = await backendNode(redis.url, "a");
    const b = await backendNode(redis.url, "b");
    const get = async (key: string) => (await redis.cli("GET", key)).trim();
    await a.backend.claimNick("Zed", undefined, { hash: sha256("t1") });
    await a.backend.publish({ type: "join", room: "#r", nick: "Zed", ts: Date.now(), sid: 1 });
    expect(await get("netlab:nick:zed")).toBe(`a|Zed|${sha256("t1")}`);
    // A guest's (or text client's) nick has no hash: nothing reclaims it, not even an empty proof.
    await a.backend.claimNick("guest-9");
    for (const proof of ["", sha256("")]) {
      await expect(b.backend.claimNick("guest-9", undefined, { proof })).rejects.toMatchObject({
        code: "NICK_TAKEN",
      });
    }
    const refused = b.backend.claimNick("zed", undefined, { hash: sha256("t2"), proof: sha256("t0") });
    await expect(refused).rejects.toMatchObject({
      code: "NICK_TAKEN",
      message: 'nick "zed" is already taken (on node a)',
    });
    // A token is for its nick only: b0b's does not take "bob", which only looks like it.
    await a.backend.claimNick("b0b", undefined, { hash: sha256("t3") });
    await expect(b.backend.claimNick("bob", undefined, { proof: sha256("t3") })).rejects.toMatchObject({
      code: "NICK_TAKEN",
    });

    const took = await b.backend.claimNick("zed", undefined, { hash: sha256("t2"), proof: sha256("t1") });
    expect(took).toEqual({ node: "a", nick: "Zed", room: "#r" });
    expect(await get("netlab:nick:zed")).toBe(`b|zed|${sha256("t2")}`);
    expect((await redis.cli("HGETALL", "netlab:node:a:members")).trim()).toBe("");
    const deadline = Date.now() + 5_000;
    while (a.reclaimed.length === 0) {
      if (Date.now() > deadline) throw new Error("node a was not told within 5 s");
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(a.reclaimed).toEqual(["Zed"]);
    // What a's session closing does: a no longer counts the nick as its own and sends nothing.
    a.backend.releaseNick("Zed");
    expect(await get("netlab:nick:zed")).toBe(`b|zed|${sha256("t2")}`);
    // The spent token reclaims nothing from b.
    await expect(a.backend.claimNick("zed", undefined, { proof: sha256("t1") })).rejects.toMatchObject({
      code: "NICK_TAKEN",
    });
  });

  it("SIGKILL of its node: the client fails over with its reclaim token and is fay again within 5 s (lease 15 s); the room sees one leave and one return; after a's lease runs out b still holds fay", async () => {
    const { redis, a, observer, client } = await fayInOps([]);
    expect((await redis.cli("GET", "netlab:nick:fay")).trim()).toMatch(/^a\|fay\|[0-9a-f]{64}$/);

    const killedAt = Date.now();
    a.lab.child.kill("SIGKILL");
    await client.waitForOutput(/^\* connection to .* now on .*$/m, { stream: "stderr" });
    const joined = observer.c.lines.indexOf("* fay joined #ops");
    await observer.c.waitFor("* fay joined #ops", { from: joined + 1, timeoutMs: 5_000 });
    const back = Date.now() - killedAt;
    expect(back).toBeLessThan(5_000);
    // The client's own view: a second welcome under its nick, and never NICK_TAKEN.
    await client.waitForOutput(
      /"type":"welcome"[^\n]*"nick":"fay"[\s\S]*"type":"welcome"[^\n]*"nick":"fay"/,
      {
        stream: "stdout",
      },
    );
    expect(client.stdout()).not.toContain("NICK_TAKEN");
    expect(client.stdout()).not.toContain('"reclaim"');
    expect((await redis.cli("GET", "netlab:nick:fay")).trim()).toMatch(/^b\|fay\|[0-9a-f]{64}$/);

    // Node a's lease runs out and b reaps it: fay is not among a's members any more, so no leave
    // is announced for her, and a's cleanup leaves b's nick key alone.
    const deadline = Date.now() + 30_000;
    while ((await redis.cli("ZSCORE", "netlab:nodes", "a")).trim() !== "") {
      if (Date.now() > deadline) throw new Error("node a was not reaped within 30 s");
      await new Promise((r) => setTimeout(r, 250));
    }
    expect((await redis.cli("GET", "netlab:nick:fay")).trim()).toMatch(/^b\|fay\|[0-9a-f]{64}$/);
    observer.c.send("/who");
    await observer.c.waitFor(/^\* in #ops: .*\bfay\b/);
    expect(observer.c.lines.filter((l) => /\bfay\b/.test(l) && !l.startsWith("* in #ops"))).toEqual([
      "* fay joined #ops",
      "* fay left #ops (reclaimed by a new connection)",
      "* fay joined #ops",
    ]);
    console.log(`cluster reclaim: fay back on b ${back} ms after node a was killed (lease 15 s)`);
    client.endInput();
    expect(await client.exited).toBe(0);
  }, 60_000);

  it("SIGSTOP of its node (a machine gone silent, no FIN): an idle client notices within two --stall-timeouts, fails over and is fay again", async () => {
    const { a, observer, client } = await fayInOps(["--stall-timeout", "1s"]);
    // A frozen node keeps its connections open and answers nothing, as a machine that lost power
    // does to a client that is not sending: only the client's liveness pings can notice.
    const stoppedAt = Date.now();
    a.lab.child.kill("SIGSTOP");
    onTestFinished(() => {
      a.lab.child.kill("SIGKILL");
    });
    await client.waitForOutput(/^\* connection to .* now on .*$/m, { stream: "stderr", timeoutMs: 10_000 });
    const joined = observer.c.lines.indexOf("* fay joined #ops");
    await observer.c.waitFor("* fay joined #ops", { from: joined + 1, timeoutMs: 5_000 });
    const back = Date.now() - stoppedAt;
    // Quiet for 1 s, then a ping unanswered for 1 s, then the reconnect and the reclaim.
    expect(back).toBeLessThan(5_000);
    expect(client.stdout()).not.toContain("NICK_TAKEN");
    console.log(`cluster liveness: fay back on b ${back} ms after node a was frozen (--stall-timeout 1s)`);
    client.endInput();
    expect(await client.exited).toBe(0);
  }, 60_000);

  it("both nodes alive: a hello on b with the token takes the nick from a at once; a closes its old session with NICK_RECLAIMED and announces no second leave; a wrong token gets NICK_TAKEN (on node a)", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a", FLOOD_OFF);
    const b = await clusterNode(redis, "b", FLOOD_OFF);
    const onA = await chatMember(a.port, "#ops");
    const onB = await chatMember(b.port, "#ops");
    const old = await jsonClient(a.port, { nick: "gus", room: "#ops" });
    expect(old.welcome.nick).toBe("gus");
    const token = old.welcome.reclaim ?? "";
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    await onB.c.waitFor("* gus joined #ops");

    const wrong = await jsonClient(b.port, {
      nick: "gus",
      reclaim: `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`,
    });
    expect(wrong.welcome.nick).not.toBe("gus");
    expect(await wrong.c.waitFor(/"type":"error"/)).toContain(
      '"message":"nick \\"gus\\" is already taken (on node a)"',
    );

    const started = Date.now();
    const fresh = await jsonClient(b.port, { nick: "gus", reclaim: token, room: "#ops" });
    expect(fresh.welcome.nick).toBe("gus");
    expect(fresh.welcome.reclaim).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(fresh.welcome.reclaim).not.toBe(token);
    // Node a hears it through its inbox: the old session is told and closed.
    expect(await old.c.waitFor(/"code":"NICK_RECLAIMED"/)).toContain(
      "your nick was reclaimed by a new connection",
    );
    await old.c.closed;
    expect(Date.now() - started).toBeLessThan(2_000);
    await fresh.c.waitFor(/"type":"join","room":"#ops","nick":"gus"/);
    for (const watcher of [onA, onB]) {
      await watcher.c.waitFor("* gus joined #ops", {
        from: watcher.c.lines.indexOf("* gus joined #ops") + 1,
      });
      watcher.c.send("/who");
      const who = await watcher.c.waitFor(/^\* in #ops: /);
      expect(who.split(/[:,] /).filter((n) => n === "gus")).toHaveLength(1);
      expect(watcher.c.lines.filter((l) => /\bgus\b/.test(l) && !l.startsWith("* in #ops"))).toEqual([
        "* gus joined #ops",
        "* gus left #ops (reclaimed by a new connection)",
        "* gus joined #ops",
      ]);
    }
    // The old token is spent, and a private message to gus reaches the new session on b.
    const again = await jsonClient(a.port, { nick: "gus", reclaim: token });
    expect(again.welcome.nick).not.toBe("gus");
    onA.c.send("/msg gus still there?");
    await fresh.c.waitFor(/"type":"private".*"still there\?"/);
  }, 30_000);
});
