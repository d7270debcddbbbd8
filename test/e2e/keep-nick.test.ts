import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { startLab, startLabOnTerminal, startServer } from "../helpers/lab.js";

/** A chat server, and a temp config folder for the clients (their reclaim.json lives there). */
async function setup() {
  const { port } = await startServer(
    (p) => ["server", "--port", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );
  const dir = await mkdtemp(path.join(tmpdir(), "netlab-keepnick-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  const relay = await deadLinkRelay(port);
  const env = { XDG_CONFIG_HOME: dir };
  const file = path.join(dir, "netlab", "reclaim.json");
  /** `lab client --nick NICK` through the relay, piped (stdin stays open until ended). */
  const client = (nick: string, ...extra: string[]) =>
    startLab(["client", "--port", String(relay.port), "--nick", nick, ...extra], { env });
  return { port, relay, env, dir, file, client };
}

/**
 * A relay whose client side may die (SIGKILL) without the server hearing of it: the connection to
 * the server stays open, as behind a NAT box that forgot it, so the server still holds the session.
 * `sent[i]` is everything connection i sent the server.
 */
async function deadLinkRelay(serverPort: number) {
  const sockets: net.Socket[] = [];
  const sent: string[] = [];
  const relay = net.createServer((client) => {
    const up = net.connect({ host: "127.0.0.1", port: serverPort });
    const i = sent.push("") - 1;
    client.on("error", () => {});
    up.on("error", () => {});
    client.on("data", (d: Buffer) => {
      sent[i] += d.toString("utf8");
    });
    client.pipe(up, { end: false });
    up.pipe(client);
    client.on("close", () => {
      up.unpipe(client);
      up.resume();
    });
    sockets.push(client, up);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return { port: (relay.address() as net.AddressInfo).port, sent };
}

interface Entry {
  server: string;
  nick: string;
  token: string;
}

async function entries(file: string): Promise<Entry[]> {
  try {
    return (JSON.parse(await readFile(file, "utf8")) as { entries: Entry[] }).entries;
  } catch {
    return [];
  }
}

/** Waits until the file's entries satisfy `check` (the client writes after the welcome). */
async function fileUntil(file: string, check: (e: Entry[]) => boolean, what: string): Promise<Entry[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const now = await entries(file);
    if (check(now)) return now;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(now)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("lab client keeps its nick's reclaim token across a restart", () => {
  it("a client killed with SIGKILL and started again is alice at once; the server says the old session was reclaimed", async () => {
    const { relay, file, dir, client } = await setup();
    const watcher = client("watcher");
    await watcher.waitForOutput("* watcher joined #lobby");
    const first = client("alice");
    await first.waitForOutput("you are alice");
    await watcher.waitForOutput("* alice joined #lobby");
    const [kept] = await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    expect(kept?.server).toBe(`127.0.0.1:${relay.port}`);
    expect(kept?.token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dir, "netlab"))).mode & 0o777).toBe(0o700);

    await first.stop("SIGKILL");
    const second = client("alice");
    // The default wait, not 3 s: it covers lab's start, seconds on a loaded 2-core machine. "At
    // once" is what the next lines check: no guest nick first, no error.
    await second.waitForOutput("you are alice");
    expect(second.stdout()).not.toContain("guest-");
    expect(second.stderr()).toBe("");
    await watcher.waitForOutput("* alice left #lobby (reclaimed by a new connection)");
    expect(relay.sent[2]).toContain(`"reclaim":"${kept?.token}"`);
    // The server rotated the token with the grant: the file holds the new one.
    const [next] = await fileUntil(file, (e) => e.some((x) => x.token !== kept?.token), "the new token");
    expect(next?.nick).toBe("alice");
    expect(JSON.stringify([second.stdout(), watcher.stdout()])).not.toContain(kept?.token);
  }, 20_000);

  it("/quit gives the nick up: the entry is gone, and the next start sends no reclaim", async () => {
    const { relay, file, client } = await setup();
    const first = client("alice");
    await first.waitForOutput("you are alice");
    await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    first.write("/quit\n");
    expect(await first.exited).toBe(0);
    expect(await entries(file)).toEqual([]);

    const second = client("alice");
    await second.waitForOutput("you are alice");
    expect(relay.sent[1]).toContain('"nick":"alice"');
    expect(relay.sent[1]).not.toContain('"reclaim"');
  }, 20_000);

  it("Ctrl-C (SIGINT) says goodbye and forgets the token too; exit 130", async () => {
    const { file, client } = await setup();
    const alice = client("alice");
    await alice.waitForOutput("you are alice");
    await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    expect(await alice.stop("SIGINT")).toBe(130);
    expect(await entries(file)).toEqual([]);
  }, 20_000);

  it("on a terminal: the token is kept while it runs, and Ctrl-D forgets it", async () => {
    const { file, env, relay } = await setup();
    const tty = startLabOnTerminal(["client", "--port", String(relay.port), "--nick", "alice"], { env });
    await tty.waitForOutput("* alice joined #lobby");
    await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    tty.write("\u0004");
    expect(await tty.exited).toBe(0);
    expect(await entries(file)).toEqual([]);
  }, 20_000);

  it("a malformed file is ignored with one note line, then replaced", async () => {
    const { file, dir, client } = await setup();
    await mkdir(path.join(dir, "netlab"), { mode: 0o700 });
    await writeFile(file, "{not json\u001b[31m", { mode: 0o600 });
    const alice = client("alice");
    await alice.waitForOutput("you are alice");
    await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    expect(alice.stderr()).toBe(`lab: note: ignoring ${file}: it is not JSON\n`);
  }, 20_000);

  it("a spent token is dropped: the client is a guest, as without one", async () => {
    const { file, relay, client } = await setup();
    const holder = client("alice", "--no-keep-nick");
    await holder.waitForOutput("you are alice");
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const stale = { server: `127.0.0.1:${relay.port}`, nick: "alice", token: "A".repeat(32), at: 1 };
    await writeFile(file, JSON.stringify({ entries: [stale] }), { mode: 0o600 });
    const other = client("alice");
    await other.waitForOutput("[NICK_TAKEN]");
    expect(other.stdout()).toMatch(/you are guest-\d+/);
    expect(relay.sent[1]).toContain(`"reclaim":"${"A".repeat(32)}"`);
    await fileUntil(file, (e) => e.length === 0, "the stale entry dropped");
  }, 20_000);

  it("a second client started while the first still runs does not take its nick (not a restart): it is a guest", async () => {
    const { file, relay, client } = await setup();
    const first = client("alice");
    await first.waitForOutput("you are alice");
    await fileUntil(file, (e) => e.some((x) => x.nick === "alice"), "alice's token");
    const second = client("alice");
    await second.waitForOutput("[NICK_TAKEN]");
    expect(second.stdout()).toMatch(/you are guest-\d+/);
    expect(relay.sent[1]).not.toContain('"reclaim"');
    first.write("/who\n");
    await first.waitForOutput(/\* in #lobby: .*alice/);
    expect(first.child.exitCode).toBeNull();
  }, 20_000);

  it("--no-keep-nick writes nothing", async () => {
    const { dir, client } = await setup();
    const alice = client("alice", "--no-keep-nick");
    await alice.waitForOutput("you are alice");
    alice.write("/nick alicia\n");
    await alice.waitForOutput("alice is now known as alicia");
    alice.write("/quit\n");
    expect(await alice.exited).toBe(0);
    await expect(stat(path.join(dir, "netlab"))).rejects.toThrow(/ENOENT/);
  }, 20_000);
});
