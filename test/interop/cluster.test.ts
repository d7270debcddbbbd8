import { describe, expect, it } from "vitest";
import { ChatClient, type ChatEvent } from "../../packages/chat/src/index.js";
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import { chatMember, clusterNode } from "../helpers/cluster.js";
import { runLab } from "../helpers/lab.js";
import { HAS_REDIS, REDIS_MISSING, startRedis } from "../helpers/redis.js";

if (!HAS_REDIS) console.warn(REDIS_MISSING);

describe.skipIf(!HAS_REDIS)("lab server --cluster (#16)", () => {
  it("carries a room across nodes: messages, /who and /nodes see both, nicks are unique cluster-wide", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a");
    const b = await clusterNode(redis, "b");
    const alice = await chatMember(a.port);
    const bob = await chatMember(b.port);
    await alice.c.waitFor(`* ${bob.nick} joined #lobby`);
    alice.c.send("/nick alice");
    await alice.c.waitFor(`is now known as alice`);
    bob.c.send("/nick alice");
    await bob.c.waitFor(/nick "alice" is already taken \(on node a\) \[NICK_TAKEN\]/);
    bob.c.send("/nick ａｌｉｃｅ"); // fullwidth: the same nick after NFKC
    await bob.c.waitFor('nick "ａｌｉｃｅ" is already taken (on node a)');
    bob.c.send("/nick bob");
    await alice.c.waitFor(`* ${bob.nick} is now known as bob`);
    alice.c.send("hello from a");
    await bob.c.waitFor("<alice> hello from a");
    bob.c.send("/who");
    await bob.c.waitFor("* in #lobby: alice, bob");
    bob.c.send("/nodes");
    await bob.c.waitFor("* nodes: a (1 client), b (1 client, this node)");
    bob.c.send("/msg alice psst");
    await alice.c.waitFor("*bob* psst");
    // A joiner on b sees what was said on a (the history is the room's stream).
    const carol = await lineClient(b.port);
    await carol.waitFor("<alice> hello from a");
  });

  it("refuses with one clear line each: Redis down, a bad scheme, a duplicate --node-id, NOAUTH, WRONGPASS", async () => {
    const redis = await startRedis({ password: "s3cret" });
    const down = await runLab(["server", "--port", "0", "--cluster", "redis://127.0.0.1:1"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^lab: cannot reach Redis at 127\.0\.0\.1:1: connection refused\nhint: .*apt-get install redis-server/,
    );
    const scheme = await runLab(["server", "--port", "0", "--cluster", "http://127.0.0.1:6379"]);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(
      /^lab: --cluster "http:\/\/127\.0\.0\.1:6379": the scheme is "http", not redis\nhint: /,
    );
    const noauth = await runLab(["server", "--port", "0", "--cluster", `redis://127.0.0.1:${redis.port}`]);
    expect(noauth.code).toBe(1);
    expect(noauth.stderr).toMatch(/^lab: Redis at 127\.0\.0\.1:\d+ wants a password \(NOAUTH\)\nhint: /);
    const wrong = await runLab([
      "server",
      "--port",
      "0",
      "--cluster",
      `redis://:nope@127.0.0.1:${redis.port}`,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(
      /^lab: Redis at 127\.0\.0\.1:\d+ refused the password \(WRONGPASS\)\nhint: /,
    );
    expect(wrong.stderr).not.toContain("nope");
    await clusterNode(redis, "a");
    const twice = await runLab(["server", "--port", "0", "--cluster", redis.url, "--node-id", "a"]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(
      /^lab: another node with --node-id a is in the cluster at 127\.0\.0\.1:\d+\nhint: /,
    );
    const mode = await runLab(["server", "--port", "0", "--cluster", redis.url, "--cluster-mode", "gossip"]);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/^lab: --cluster-mode must be streams or pubsub, got "gossip"\nhint: /);
    const alone = await runLab(["server", "--port", "0", "--cluster-mode", "pubsub"]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/^lab: --cluster-mode needs --cluster\nhint: /);
    for (const r of [down, scheme, noauth, wrong, twice, mode, alone])
      expect(r.stderr.split("\n").length).toBe(3);
  });

  it("a node killed with SIGKILL leaves: its users leave the room on the others within the lease, their nicks are free", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a", ["--cluster-lease", "2"]);
    const b = await clusterNode(redis, "b", ["--cluster-lease", "2"]);
    const alice = await chatMember(a.port);
    const bob = await chatMember(b.port);
    bob.c.send("/nick bob");
    await alice.c.waitFor("is now known as bob");
    const killedAt = Date.now();
    b.lab.child.kill("SIGKILL");
    await alice.c.waitFor(/\* bob left #lobby \(node b stopped answering\)/, { timeoutMs: 10_000 });
    expect(Date.now() - killedAt).toBeLessThan(30_000);
    alice.c.send("/who");
    await alice.c.waitFor(`* in #lobby: ${alice.nick}`);
    alice.c.send("/nick bob");
    await alice.c.waitFor(`* ${alice.nick} is now known as bob`);
  });

  it("4 nodes × 25 clients × 100 messages at once: every client gets all 9,900 of the others, in one order", async () => {
    const NODES = 4;
    const PER_NODE = 25;
    const LINES = 100;
    const redis = await startRedis();
    const nodes = [];
    for (let i = 0; i < NODES; i++)
      nodes.push(await clusterNode(redis, `n${i}`, ["--flood", "0", "--history", "0"]));
    // Each joins within the hello grace (300 ms): all at once, not one after another.
    const clients = (
      await Promise.all(
        nodes.flatMap((n) => Array.from({ length: PER_NODE }, () => chatMember(n.port, undefined, 60_000))),
      )
    ).map((j) => j.c);
    // One listener per node that says nothing: it sees all 10 000, the order to compare with.
    const observers = await Promise.all(
      nodes.map(async (n) => (await chatMember(n.port, undefined, 60_000)).c),
    );
    const lastNick = (await chatMember(nodes[0]!.port)).nick;
    await Promise.all(clients.map((c) => c.waitFor(`* ${lastNick} joined #lobby`)));
    clients.forEach((c, i) => {
      c.socket.write(Array.from({ length: LINES }, (_, n) => `c${i} ${n}\n`).join(""));
    });
    const MESSAGE = /^<guest-\d+> (c\d+ \d+)$/;
    const messages = (c: LineClient) =>
      c.lines.map((l) => MESSAGE.exec(l)?.[1]).filter((m) => m !== undefined);
    const total = NODES * PER_NODE * LINES;
    const count = (want: number) => {
      let seen = 0;
      let matched = 0;
      return (ls: string[]) => {
        for (; seen < ls.length; seen++) if (MESSAGE.test(ls[seen]!)) matched++;
        return matched >= want;
      };
    };
    await Promise.all(observers.map((o) => o.waitUntil(count(total), `${total} messages`, 90_000)));
    await Promise.all(
      clients.map((c) => c.waitUntil(count(total - LINES), `${total - LINES} messages`, 90_000)),
    );
    const order = messages(observers[0]!);
    const problems: string[] = [];
    if (new Set(order).size !== total)
      problems.push(`observer 0 got ${new Set(order).size} distinct of ${total}`);
    observers.forEach((o, i) => {
      if (messages(o).join("\n") !== order.join("\n")) problems.push(`observer ${i} saw another order`);
    });
    clients.forEach((c, i) => {
      const expected = order.filter((m) => !m.startsWith(`c${i} `));
      const got = messages(c);
      if (got.length !== expected.length)
        problems.push(`client ${i} got ${got.length}, expected ${expected.length}`);
      else if (got.join("\n") !== expected.join("\n")) problems.push(`client ${i} saw another order`);
    });
    expect(problems.slice(0, 10)).toEqual([]);
    // A node sends what its clients said in one turn as one APPEND script call, not one XADD each:
    // 10 000 entries appended by far fewer calls.
    const stats = await redis.cli("INFO", "commandstats");
    const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
    expect(calls("xadd")).toBeGreaterThanOrEqual(total);
    expect(calls("evalsha") + calls("eval")).toBeLessThan(total / 4);
  }, 180_000);

  it("at 1,000 msg/s, CLIENT KILL of a reader and a redis-server restart (appendonly) lose nothing and show nothing twice", async () => {
    const redis = await startRedis({ appendOnly: true });
    const a = await clusterNode(redis, "a", ["--flood", "0", "--history", "0"]);
    const b = await clusterNode(redis, "b", ["--flood", "0", "--history", "0"]);
    const sender = await chatMember(a.port);
    const onA = await chatMember(a.port);
    const onB = await chatMember(b.port);
    await sender.c.waitFor(`* ${onB.nick} joined #lobby`);
    const TOTAL = 4_000;
    let sent = 0;
    // 10 lines every 10 ms: 1 000 a second.
    const timer = setInterval(() => {
      const batch: string[] = [];
      for (let i = 0; i < 10 && sent < TOTAL; i++) batch.push(`m ${sent++}`);
      sender.c.socket.write(`${batch.join("\n")}\n`);
      if (sent >= TOTAL) clearInterval(timer);
    }, 10);
    const line = (n: number) => new RegExp(`^<${sender.nick}> m ${n}$`);
    await onB.c.waitFor(line(500), { timeoutMs: 20_000 });
    const list = await redis.cli("CLIENT", "LIST");
    const readerId = /id=(\d+) .*name=netlab-reader-b /.exec(list)?.[1];
    expect(readerId).toBeDefined();
    await redis.cli("CLIENT", "KILL", "ID", readerId!);
    await onB.c.waitFor(line(1_500), { timeoutMs: 20_000 });
    await redis.stop();
    await onA.c.waitFor(/cluster degraded: lost the link to Redis/, { timeoutMs: 10_000 });
    await redis.restart();
    await onA.c.waitFor(/cluster back: Redis at .* answers again/, { timeoutMs: 20_000 });
    await Promise.all([onA.c, onB.c].map((c) => c.waitFor(line(TOTAL - 1), { timeoutMs: 60_000 })));
    clearInterval(timer);
    for (const c of [onA.c, onB.c]) {
      const got = c.lines
        .map((l) => /^<guest-\d+> m (\d+)$/.exec(l)?.[1])
        .filter((m) => m !== undefined)
        .map(Number);
      const lost = TOTAL - new Set(got).size;
      const twice = got.length - new Set(got).size;
      expect({ lost, twice }).toEqual({ lost: 0, twice: 0 });
    }
  }, 120_000);

  it("a JSON client reconnecting with hello.since gets exactly what it missed, or a history gap", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a", ["--flood", "0", "--cluster-max-len", "10"]);
    const b = await clusterNode(redis, "b", ["--flood", "0"]);
    const talker = await chatMember(a.port);
    const watcher = await chatMember(b.port);
    for (let i = 0; i < 5; i++) talker.c.send(`before ${i}`);
    const json = await lineClient(b.port);
    json.send(JSON.stringify({ type: "hello", proto: 1, nick: "jay" }));
    const last = await json.waitFor(/"text":"before 4"/);
    const since = JSON.parse(last).streamId as string;
    expect(since).toMatch(/^\d+-\d+$/);
    json.close();
    await json.closed;
    for (let i = 0; i < 3; i++) talker.c.send(`missed ${i}`);
    await watcher.c.waitFor(`<${talker.nick}> missed 2`);
    const back = await lineClient(a.port);
    back.send(JSON.stringify({ type: "hello", proto: 1, nick: "jay", room: "#lobby", since }));
    await back.waitFor(/"type":"join","room":"#lobby","nick":"jay"/);
    const texts = back.lines.filter((l) => l.includes('"type":"message"')).map((l) => JSON.parse(l).text);
    expect(texts).toEqual(["missed 0", "missed 1", "missed 2"]);
    // Past --cluster-max-len the stream is trimmed: a client that was away longer is told.
    for (let i = 0; i < 400; i++) talker.c.send(`flood ${i}`);
    await back.waitFor(/"text":"flood 399"/, { timeoutMs: 20_000 });
    const gone = await lineClient(b.port);
    gone.send(JSON.stringify({ type: "hello", proto: 1, room: "#lobby", since }));
    await gone.waitFor(/"kind":"gap","text":"history gap: #lobby no longer holds every message after/);
  }, 60_000);

  it("--cluster-mode pubsub: killing the subscriber connections mid-run loses messages, and the room is told how many", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a", ["--cluster-mode", "pubsub", "--flood", "0"]);
    const b = await clusterNode(redis, "b", ["--cluster-mode", "pubsub", "--flood", "0"]);
    const talker = await chatMember(a.port);
    const watcher = await chatMember(b.port);
    await talker.c.waitFor(`* ${watcher.nick} joined #lobby`);
    const TOTAL = 5_000;
    for (let i = 0; i < TOTAL; i++) talker.c.send(`m ${i}`);
    await watcher.c.waitFor(`<${talker.nick}> m 50`);
    expect(await redis.cli("CLIENT", "KILL", "TYPE", "pubsub")).toMatch(/^[1-9]/);
    // Both nodes subscribe again on their own; only then can "after" reach the watcher.
    const channel = "netlab:pubsub:#lobby";
    const deadline = Date.now() + 10_000;
    while (!(await redis.cli("PUBSUB", "NUMSUB", channel)).includes(`${channel}\n2`)) {
      if (Date.now() > deadline) throw new Error("the nodes did not subscribe again within 10 s");
    }
    talker.c.send("after");
    await watcher.c.waitFor(`<${talker.nick}> after`, { timeoutMs: 30_000 });
    const said = new RegExp(`^<${talker.nick}> m (\\d+)$`);
    const heard = watcher.c.lines.flatMap((l) => said.exec(l)?.[1] ?? []).map(Number);
    const lost = watcher.c.lines
      .flatMap((l) => /^\* (\d+) messages? (?:was|were) lost \(from node a: /.exec(l)?.[1] ?? [])
      .map(Number);
    expect(lost.length).toBeGreaterThan(0);
    // Nothing hidden: what arrived and what was reported lost add up to what was said, in order.
    expect(heard.length + lost.reduce((x, y) => x + y, 0)).toBe(TOTAL);
    expect(heard).toEqual([...heard].sort((x, y) => x - y));
    await b.lab.waitForOutput(/cluster: \d+ messages? from node a lost in #lobby \(pubsub\)/, {
      stream: "stderr",
    });
  }, 60_000);

  it("a ChatClient given several nodes fails over to the next when its node dies, and gets what it missed once", async () => {
    const redis = await startRedis();
    const a = await clusterNode(redis, "a", ["--flood", "0"]);
    const b = await clusterNode(redis, "b", ["--flood", "0"]);
    const talker = await chatMember(b.port);
    const client = new ChatClient({
      port: a.port,
      failover: [{ port: b.port }],
      nick: "fay",
      reconnect: true,
      reconnectDelayMs: 50,
    });
    const texts: string[] = [];
    client.on("event", (e: ChatEvent) => {
      if (e.type === "message") texts.push(e.text);
    });
    await client.connect();
    await talker.c.waitFor("* fay joined #lobby");
    for (let i = 0; i < 3; i++) talker.c.send(`one ${i}`);
    await client.settle({ quietMs: 200 });
    const reconnected = new Promise<void>((resolve) => {
      client.on("state", (state: string) => {
        if (state === "connected" && client.port === b.port) resolve();
      });
    });
    a.lab.child.kill("SIGKILL");
    for (let i = 0; i < 3; i++) talker.c.send(`two ${i}`);
    await reconnected;
    await client.settle({ quietMs: 300 });
    await client.close();
    expect(texts).toEqual(["one 0", "one 1", "one 2", "two 0", "two 1", "two 2"]);
  });
});
