import { randomBytes } from "node:crypto";
import { debuglog } from "node:util";
import {
  type BackendSink,
  type CatchUp,
  type ChatBackend,
  compareStreamIds,
  type DeliveredEvent,
  lookalikeKey,
  type NickToken,
  type NodeInfo,
  nickKey,
  type PrivateEvent,
  type ReclaimedNick,
  type RoomEvent,
} from "@netlab/chat";
import { Redis, type RedisOptions } from "ioredis";
import { ClusterError } from "./errors.js";
import {
  type ClusterAddress,
  parseClusterUrl,
  type RedisBackendOptions,
  redisBackendOptions,
} from "./options.js";

const debug = debuglog("netlab");
const noop = () => {};

/** A room event on the wire: the publisher's event, its node and a cluster-unique id for de-duplication. */
type WireEvent = RoomEvent & { node: string; mid: string };

/**
 * Takes a nick and its look-alike key for a node, unless another node holds either; frees the old
 * pair. Both keys hold `NODE|nick|HASH`, HASH the SHA-256 of the holder's reclaim token (empty for
 * a guest or text client). KEYS: the nick, look-alike, old nick and old look-alike keys; ARGV: the
 * node, the lease (ms), the nick, the new HASH, the offered token's hash (or empty), the key prefix.
 *
 * A nick another node holds is taken over when the offered hash equals the stored one (Lua compares
 * interned strings by reference, and only hashes are compared, so timing tells nothing of the
 * token): the keys move here, the nick leaves the old node's member hash (its lease-expiry reaping
 * then announces nothing for it, and RELEASE there sees the keys are not its own), and the old node
 * is told in its inbox. Answers: false (taken), the holder's value (refused), or {node, nick, room}.
 */
const CLAIM_NICK = `
local prefix = ARGV[1] .. '|'
local holder = redis.call('GET', KEYS[1])
local took
if holder and string.sub(holder, 1, #prefix) ~= prefix then
  local node, held, hash = string.match(holder, '^([^|]*)|([^|]*)|?(.*)$')
  if ARGV[5] == '' or hash == nil or hash == '' or hash ~= ARGV[5] then return holder end
  took = {node, held}
end
local like = redis.call('GET', KEYS[2])
if like and string.sub(like, 1, #prefix) ~= prefix and not (took and like == holder) then return like end
local value = ARGV[1] .. '|' .. ARGV[3] .. '|' .. ARGV[4]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
redis.call('SET', KEYS[2], value, 'PX', ARGV[2])
for i = 3, 4 do
  if KEYS[i] ~= KEYS[i - 2] then
    local old = redis.call('GET', KEYS[i])
    if old and string.sub(old, 1, #prefix) == prefix then redis.call('DEL', KEYS[i]) end
  end
end
if not took then return false end
local members = ARGV[6] .. 'node:' .. took[1] .. ':members'
local room = redis.call('HGET', members, took[2])
redis.call('HDEL', members, took[2])
redis.call('XADD', ARGV[6] .. 'inbox:' .. took[1], 'MAXLEN', '~', 1000, '*', 'r', took[2])
return {took[1], took[2], room or ''}`;

/**
 * Appends a batch of room events, in order, and keeps this node's member hash in step: one call for
 * everything a node publishes in one turn of its event loop. KEYS[1] is the member hash, KEYS[2…]
 * each event's room stream; ARGV[1] the streams' MAXLEN, then 5 per event: the entry, what it does
 * to the member hash (m: nothing, j: HSET a b, l: HDEL a, n: HDEL a and HSET b c) and a, b, c.
 * Blocked readers are served once the script ends, so each reads the whole batch in one XREAD
 * (one XADD at a time woke every reader after the first of a batch).
 */
const APPEND = `
local members = KEYS[1]
local ids = {}
for i = 2, #KEYS do
  local at = 2 + (i - 2) * 5
  ids[i - 1] = redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[at])
  local op = ARGV[at + 1]
  if op == 'j' then redis.call('HSET', members, ARGV[at + 2], ARGV[at + 3])
  elseif op == 'l' then redis.call('HDEL', members, ARGV[at + 2])
  elseif op == 'n' then
    redis.call('HDEL', members, ARGV[at + 2])
    redis.call('HSET', members, ARGV[at + 3], ARGV[at + 4])
  end
end
return ids`;

/** Deletes keys this node holds (value `NODE|…`). */
const RELEASE = `
local prefix = ARGV[1] .. '|'
for i = 1, #KEYS do
  local holder = redis.call('GET', KEYS[i])
  if holder and string.sub(holder, 1, #prefix) == prefix then redis.call('DEL', KEYS[i]) end
end
return 0`;

/** Renews this node's registration if it is still this process's (a token); 0 when another took it. */
const RENEW_NODE = `
local holder = redis.call('GET', KEYS[1])
if holder == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if holder == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0`;

/**
 * The cluster backend on Redis Streams: one stream per room (`PREFIX room:#name`), read by each node
 * with a blocking XREAD on a connection of its own; every room event, a node's own clients' too,
 * goes through the stream, so every node delivers a room in one order. Nicks are keys taken with a
 * Lua check-and-set (the nick and its look-alike key) under a lease the heartbeat renews; a node
 * whose lease runs out is reaped by the others (its users leave every room).
 *
 * While Redis is unreachable the node is degraded: room events are delivered to this node's
 * clients at once and buffered (up to `maxBufferedEvents`), and sent when Redis is back; readers
 * drop what they delivered already by the event's id.
 * @example
 * const backend = new RedisBackend({ url: "redis://127.0.0.1:6379", nodeId: "a" });
 * const server = new ChatServer({ port: 5001, backend });
 * await server.listen(); // joins the cluster first
 */
export class RedisBackend implements ChatBackend {
  readonly options: RedisBackendOptions;
  readonly nodeId: string;
  readonly address: ClusterAddress;
  #cmd: Redis | undefined;
  #reader: Redis | undefined;
  #sink: BackendSink | undefined;
  /** This process: two runs of one node id never share message ids or a registration. */
  readonly #token = randomBytes(6).toString("hex");
  #seq = 0;
  /** Stream key → last id read. The inbox is one of them. */
  readonly #watched = new Map<string, string>();
  /** Message ids seen, oldest first, for de-duplication (a Set for lookup, a ring for age). */
  readonly #seen = new Set<string>();
  readonly #seenRing: string[];
  #seenAt = 0;
  /**
   * Publishers waiting for their event to come back from the stream, by message id: the publish's
   * own resolve, so a message costs one promise (a promise per step added up at thousands a second).
   */
  readonly #waiters = new Map<string, { at: number; resolve: () => void }>();
  /**
   * Stream key → the published messages' entry ids (as their XADD answered, so ascending) and ids.
   * Once the reader is past an entry its waiter is done, whether it was delivered or trimmed
   * before this node read it: a trimmed entry's sender does not wait out publishTimeoutMs.
   */
  readonly #written = new Map<string, { id: string; mid: string }[]>();
  #waiterSweep: NodeJS.Timeout | undefined;
  /** Room events published in this turn of the event loop, sent together at its end (#flush). */
  #outgoing: Outgoing[] = [];
  /** Room events that could not be sent (degraded), oldest first. */
  #buffer: WireEvent[] = [];
  /** This node's members: nick → room, mirrored in the `node:ID:members` hash. */
  readonly #members = new Map<string, string>();
  /** Nicks this node holds in the cluster, and the hash of each one's reclaim token ("" for none). */
  readonly #held = new Map<string, string>();
  #guestNext = 0;
  #guestEnd = 0;
  #isRefilling = false;
  #isStarted = false;
  #isClosed = false;
  #isDegraded = false;
  #isFlushing = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;

  constructor(opts: Partial<RedisBackendOptions> & { url: string }) {
    this.options = redisBackendOptions(opts);
    this.nodeId = this.options.nodeId;
    this.address = parseClusterUrl(this.options.url);
    this.#seenRing = new Array(this.options.dedupWindow);
  }

  /** Redis is unreachable and room events wait in the buffer. */
  get isDegraded(): boolean {
    return this.#isDegraded;
  }

  /** Room events waiting for Redis to come back. */
  get bufferedEvents(): number {
    return this.#buffer.length;
  }

  async start(sink: BackendSink): Promise<void> {
    this.#sink = sink;
    const o = this.options;
    const base: RedisOptions = {
      lazyConnect: true,
      connectTimeout: o.connectTimeoutMs,
      // Until the node has started, a failed connection is an answer, not something to retry.
      retryStrategy: (times) => (this.#isStarted && !this.#isClosed ? Math.min(100 * times, 2_000) : null),
      autoResendUnfulfilledCommands: false,
      // ioredis's own wait for a socket that never opened (2 s) would hold `lab` up after an error.
      disconnectTimeout: 100,
    };
    const cmd = new Redis(o.url, {
      ...base,
      connectionName: `netlab-cmd-${this.nodeId}`,
      // Commands fail at once while the link is down: the node goes degraded rather than waiting.
      enableOfflineQueue: false,
      // No auto-pipelining: #flush sends a turn's events as one call already, and the pipeline
      // would only add a setImmediate hop (and a Pipeline object) before each write.
      enableAutoPipelining: false,
      // A Redis that accepts and never answers is an outage too (degraded), not a wait forever.
      commandTimeout: o.publishTimeoutMs,
      maxRetriesPerRequest: 0,
    });
    cmd.defineCommand("netlabAppend", { lua: APPEND });
    this.#cmd = cmd;
    let lastError: unknown;
    cmd.on("error", (err) => {
      lastError = err;
      debug("cluster: redis: %s", (err as Error).message);
    });
    try {
      await cmd.connect();
      await cmd.ping();
    } catch (err) {
      cmd.disconnect();
      throw this.#startError(lastError ?? err);
    }
    const version = /redis_version:(\d+)\.(\d+)/.exec(await cmd.info("server"));
    if (version && (Number(version[1]) < 6 || (Number(version[1]) === 6 && Number(version[2]) < 2))) {
      cmd.disconnect();
      throw new ClusterError(
        "CLUSTER_UNREACHABLE",
        `Redis at ${this.address.where} is version ${version[1]}.${version[2]}; the cluster needs 6.2 or later (Streams with exclusive ranges)`,
        { hint: "install a newer redis-server" },
      );
    }
    const registered = await cmd.set(this.#key(`node:${this.nodeId}`), this.#token, "PX", o.leaseMs, "NX");
    if (registered === null) {
      const ttl = await cmd.pttl(this.#key(`node:${this.nodeId}`));
      cmd.disconnect();
      throw new ClusterError(
        "NODE_ID_TAKEN",
        `another node with --node-id ${this.nodeId} is in the cluster at ${this.address.where}`,
        {
          hint: `give each node its own --node-id; if that node was killed, its lease ends within ${Math.ceil(Math.max(ttl, 0) / 1000)} s`,
        },
      );
    }
    await cmd.zadd(this.#key("nodes"), Date.now() + o.leaseMs, this.nodeId);
    await cmd.del(this.#membersKey(this.nodeId));
    await this.#refillGuests();
    const inbox = this.#inboxKey(this.nodeId);
    this.#watched.set(inbox, await this.#lastId(inbox));
    const reader = new Redis(o.url, {
      ...base,
      connectionName: `netlab-reader-${this.nodeId}`,
      enableOfflineQueue: true,
      // The reader waits out an outage: the XREAD it was in is sent again, from the same ids, once
      // the connection is back (without the resend ioredis would leave that promise unsettled).
      maxRetriesPerRequest: null,
      autoResendUnfulfilledCommands: true,
    });
    reader.on("error", (err) => debug("cluster: reader: %s", (err as Error).message));
    this.#reader = reader;
    await reader.connect();
    this.#isStarted = true;
    cmd.on("close", () => this.#linkDown());
    cmd.on("ready", () => void this.#linkUp());
    this.#heartbeat = setInterval(() => void this.#beat(), o.heartbeatMs);
    this.#heartbeat.unref();
    this.#reading = this.#readLoop();
  }

  async openRoom(room: string, count: number): Promise<DeliveredEvent[]> {
    const key = this.#roomKey(room);
    let history: DeliveredEvent[] = [];
    let last = "0-0";
    if (!this.#isDegraded) {
      try {
        const entries = (await this.#command().xrevrange(
          key,
          "+",
          "-",
          "COUNT",
          Math.max(count, 1),
        )) as Entry[];
        if (entries.length > 0) last = entries[0]![0];
        history = entries
          .slice(0, count)
          .reverse()
          .flatMap((e) => this.#decode(e, true) ?? []);
      } catch (err) {
        debug("cluster: history of %s: %s", room, (err as Error).message);
      }
    }
    this.#watched.set(key, last);
    this.#wakeReader();
    return history;
  }

  closeRoom(room: string): void {
    this.#watched.delete(this.#roomKey(room));
    this.#written.delete(this.#roomKey(room));
  }

  publish(event: RoomEvent): Promise<void> {
    const wire: WireEvent = { ...event, node: this.nodeId, mid: `${this.#token}:${++this.#seq}` };
    this.#trackMember(event);
    if (this.#isDegraded || this.#isFlushing) return this.#hold(wire);
    // The events of one turn (a client's chunk of lines, several clients' lines) leave in one call
    // once the turn's microtasks are done: the hub reads a chunk's lines one microtask apart.
    if (this.#outgoing.length === 0) process.nextTick(() => this.#flush());
    return new Promise((resolve, reject) => this.#outgoing.push({ wire, resolve, reject }));
  }

  /** Sends the turn's events, `appendBatch` to a call; each publish resolves once its event came back. */
  #flush(): void {
    const outgoing = this.#outgoing;
    this.#outgoing = [];
    const size = this.options.appendBatch;
    const at = Date.now();
    for (const o of outgoing) this.#waiters.set(o.wire.mid, { at, resolve: o.resolve });
    this.#waiterSweep ??= setInterval(
      () => this.#sweepWaiters(),
      Math.min(1_000, this.options.publishTimeoutMs),
    );
    this.#waiterSweep.unref();
    for (let first = 0; first < outgoing.length; first += size) {
      const batch = outgoing.length <= size ? outgoing : outgoing.slice(first, first + size);
      this.#append(batch.map((b) => b.wire)).then(
        (ids) => {
          for (let i = 0; i < batch.length; i++) {
            const { wire } = batch[i] as Outgoing;
            const id = ids[i];
            if (typeof id === "string") this.#wrote(this.#roomKey(wire.room), id, wire.mid);
            else this.#done(wire.mid);
          }
        },
        (err: unknown) => {
          debug("cluster: publish: %s", (err as Error).message);
          this.#linkDown();
          for (const o of batch) this.#holdOutgoing(o);
        },
      );
    }
  }

  /**
   * Not sent: held for when Redis is back (or refused, buffer full). A publish the reader saw come
   * back meanwhile was answered already; the event is held all the same, readers drop it by id.
   */
  #holdOutgoing(o: Outgoing): void {
    const held = this.#hold(o.wire);
    if (this.#waiters.delete(o.wire.mid)) held.then(o.resolve, o.reject);
    else held.catch(noop);
  }

  /** `mid` came back from the stream (or its entry was passed or trimmed): its publish resolves. */
  #done(mid: string): void {
    const w = this.#waiters.get(mid);
    if (w === undefined) return;
    this.#waiters.delete(mid);
    w.resolve();
  }

  async claimNick(
    nick: string,
    previous?: string,
    token: NickToken = {},
  ): Promise<ReclaimedNick | undefined> {
    if (this.#isDegraded) {
      throw new ClusterError(
        "CLUSTER_DEGRADED",
        `cannot check ${JSON.stringify(nick)} with the other nodes: the cluster's Redis is unreachable`,
        { hint: "try again when the server says the cluster is back" },
      );
    }
    const keys = [this.#nickKey(nick), this.#lookKey(nick)];
    const old = previous === undefined ? keys : [this.#nickKey(previous), this.#lookKey(previous)];
    const hash = token.hash ?? "";
    const answer = (await this.#command().eval(
      CLAIM_NICK,
      4,
      ...keys,
      ...old,
      this.nodeId,
      this.options.leaseMs,
      nick,
      hash,
      token.proof ?? "",
      this.options.keyPrefix,
    )) as string | [string, string, string] | null;
    if (typeof answer === "string") {
      const holder = answer;
      const [node = "?", held = nick] = holder.split("|");
      const like =
        nickKey(held) === nickKey(nick) ? "is already taken" : `looks too much like "${held}", who is here`;
      throw new ClusterError("NICK_TAKEN", `nick ${JSON.stringify(nick)} ${like} (on node ${node})`, {
        hint: "choose another with /nick NAME",
      });
    }
    if (previous !== undefined) this.#held.delete(previous);
    this.#held.set(nick, hash);
    if (!Array.isArray(answer)) return undefined;
    const [node, held, room] = answer;
    return room === "" ? { node, nick: held } : { node, nick: held, room };
  }

  releaseNick(nick: string): void {
    if (!this.#held.delete(nick) || this.#isDegraded) return;
    this.#command().eval(RELEASE, 2, this.#nickKey(nick), this.#lookKey(nick), this.nodeId).catch(noop);
  }

  guestNumber(): number {
    if (this.#guestEnd - this.#guestNext < 100) void this.#refillGuests();
    if (this.#guestNext < this.#guestEnd) return this.#guestNext++;
    // Out of numbers with Redis unreachable: a random one; the hub adds -2, -3… to one in use here.
    return 1_000_000 + Math.floor(Math.random() * 9_000_000);
  }

  async who(room: string): Promise<string[]> {
    const all = await this.#allMembers();
    return all
      .filter((m) => m.room === room)
      .map((m) => m.nick)
      .sort();
  }

  async rooms(): Promise<{ name: string; clients: number }[]> {
    const counts = new Map<string, number>();
    for (const m of await this.#allMembers()) counts.set(m.room, (counts.get(m.room) ?? 0) + 1);
    return [...counts]
      .map(([name, clients]) => ({ name, clients }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async nodes(): Promise<NodeInfo[]> {
    if (this.#isDegraded) return [{ id: this.nodeId, clients: this.#members.size, self: true }];
    const cmd = this.#command();
    const ids = await cmd.zrangebyscore(this.#key("nodes"), Date.now(), "+inf");
    const sizes = await Promise.all(ids.map((id) => cmd.hlen(this.#membersKey(id))));
    return ids
      .map((id, i) => ({ id, clients: sizes[i] ?? 0, self: id === this.nodeId }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  async sendPrivate(event: PrivateEvent): Promise<boolean> {
    if (this.#isDegraded) return false;
    const holder = await this.#command().get(this.#nickKey(event.to));
    if (holder === null) return false;
    const [node = "", nick = event.to] = holder.split("|");
    const wire = JSON.stringify({ ...event, to: nick });
    await this.#command().xadd(this.#inboxKey(node), "MAXLEN", "~", 1_000, "*", "e", wire);
    return true;
  }

  async catchUp(room: string, sinceId: string, max: number): Promise<CatchUp> {
    if (this.#isDegraded) return { events: [], isGap: true };
    const cmd = this.#command();
    const key = this.#roomKey(room);
    // Newest first, one more than allowed, to tell "exactly max missed" from "more than max".
    const entries = (await cmd.xrevrange(key, "+", `(${sinceId}`, "COUNT", max + 1)) as Entry[];
    let isGap = entries.length > max;
    if (!isGap) isGap = await this.#lostAfter(key, sinceId);
    // Not remembered for de-duplication: entries past this node's reader still reach the room's
    // other members live (the hub skips them for the resumed client only).
    const events = entries
      .slice(0, max)
      .reverse()
      .flatMap((e) => this.#decode(e, false) ?? []);
    return { events, isGap };
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    clearInterval(this.#heartbeat);
    clearInterval(this.#waiterSweep);
    for (const mid of [...this.#waiters.keys()]) this.#done(mid);
    const cmd = this.#cmd;
    if (cmd && this.#isStarted && !this.#isDegraded && cmd.status === "ready") {
      try {
        const nickKeys = [...this.#held.keys()].flatMap((n) => [this.#nickKey(n), this.#lookKey(n)]);
        await cmd
          .multi()
          .eval(RELEASE, nickKeys.length, ...nickKeys, this.nodeId)
          .zrem(this.#key("nodes"), this.nodeId)
          .del(this.#membersKey(this.nodeId))
          .exec();
        const node = this.#key(`node:${this.nodeId}`);
        if ((await cmd.get(node)) === this.#token) await cmd.del(node);
      } catch (err) {
        debug("cluster: leaving: %s", (err as Error).message);
      }
    }
    this.#reader?.disconnect();
    cmd?.disconnect();
    await this.#reading;
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────────

  async #readLoop(): Promise<void> {
    const reader = this.#reader as Redis;
    const o = this.options;
    while (!this.#isClosed) {
      const keys = [...this.#watched.keys()];
      const ids = keys.map((k) => this.#watched.get(k) as string);
      let reply: [string, Entry[]][] | null;
      try {
        reply = (await reader.xread("COUNT", o.readCount, "BLOCK", o.blockMs, "STREAMS", ...keys, ...ids)) as
          | [string, Entry[]][]
          | null;
      } catch (err) {
        if (this.#isClosed) return;
        // Killed or lost: ioredis reconnects; the next XREAD waits for it, from the same ids.
        debug("cluster: read: %s", (err as Error).message);
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      if (!reply) continue;
      const inbox = this.#inboxKey(this.nodeId);
      for (const [key, entries] of reply) {
        // Entries come in id order: once one is past the last id read, so are the rest.
        let isPast = false;
        for (const entry of entries) {
          const last = this.#watched.get(key);
          // A room closed meanwhile, or reopened from a later id: what its reader passed is history.
          if (last === undefined) break;
          if (!isPast && compareStreamIds(entry[0], last) <= 0) continue;
          isPast = true;
          this.#watched.set(key, entry[0]);
          if (key === inbox) this.#deliverPrivate(entry);
          else {
            const e = this.#decode(entry, false);
            if (e) this.#deliver(e);
          }
        }
        this.#passed(key);
      }
    }
  }

  #deliver(e: DeliveredEvent & { mid?: string }): void {
    const mid = e.mid;
    if (mid !== undefined) {
      if (this.#seen.has(mid)) return;
      this.#remember(mid);
      this.#done(mid);
    }
    this.#sink?.deliver(e);
  }

  #deliverPrivate(entry: Entry): void {
    // Not a private message: CLAIM_NICK telling this node that another took a nick over from it.
    if (entry[1][0] === "r") {
      this.#reclaimed(entry[1][1] ?? "");
      return;
    }
    try {
      const p = JSON.parse(fieldOf(entry)) as PrivateEvent;
      if (typeof p.from === "string" && typeof p.to === "string" && typeof p.text === "string") {
        this.#sink?.deliverPrivate({ from: p.from, to: p.to, text: p.text, ts: Number(p.ts) || Date.now() });
      }
    } catch {
      debug("cluster: a private message that is not JSON, dropped");
    }
  }

  /** `nick` is another node's now (it had the token): forgotten here, and its session closed. */
  #reclaimed(nick: string): void {
    if (!this.#held.delete(nick)) return;
    this.#members.delete(nick);
    // CLAIM_NICK took it out of our member hash; a #register since (back from degraded) put it in again.
    this.#command().hdel(this.#membersKey(this.nodeId), nick).catch(noop);
    this.#sink?.reclaimed(nick);
  }

  /** One stream entry as an event; none when it is not one (another program wrote to the stream). */
  #decode(entry: Entry, isBeforeReader: boolean): (DeliveredEvent & { mid?: string }) | undefined {
    try {
      const w = JSON.parse(fieldOf(entry)) as WireEvent;
      if (typeof w !== "object" || w === null || typeof w.room !== "string" || typeof w.node !== "string")
        return undefined;
      // History the reader starts after: remembered, so a re-sent copy read later is dropped.
      if (isBeforeReader && w.mid !== undefined) this.#remember(w.mid);
      // The parsed object is ours alone: tagged in place rather than copied, once per message per node.
      const e = w as DeliveredEvent & { mid?: string };
      e.streamId = entry[0];
      return e;
    } catch {
      return undefined;
    }
  }

  /** A message's XADD answered `id`: its waiter is done once the reader is at or past it. */
  #wrote(key: string, id: string, mid: string): void {
    const last = this.#watched.get(key);
    if (last === undefined || compareStreamIds(id, last) <= 0) {
      this.#done(mid);
      return;
    }
    const written = this.#written.get(key);
    if (written) written.push({ id, mid });
    else this.#written.set(key, [{ id, mid }]);
  }

  /** The reader read `key` up to its last id: every message written at or before it is done. */
  #passed(key: string): void {
    const written = this.#written.get(key);
    const last = this.#watched.get(key);
    if (!written || last === undefined) return;
    let n = 0;
    while (n < written.length && compareStreamIds((written[n] as { id: string }).id, last) <= 0) {
      this.#done((written[n] as { mid: string }).mid);
      n++;
    }
    if (n > 0) written.splice(0, n);
  }

  #remember(mid: string): void {
    const ring = this.#seenRing;
    const old = ring[this.#seenAt];
    if (old !== undefined) this.#seen.delete(old);
    ring[this.#seenAt] = mid;
    this.#seen.add(mid);
    this.#seenAt = (this.#seenAt + 1) % ring.length;
  }

  /**
   * A publish resolves when its event came back from the stream, or once it is publishTimeoutMs
   * old (it may yet come). One sweep for every waiter, not a timer per message: at thousands a
   * second they add up.
   */
  #sweepWaiters(): void {
    const oldest = Date.now() - this.options.publishTimeoutMs;
    // A Map iterates in insertion order: the first one still young ends the sweep.
    for (const [mid, w] of this.#waiters) {
      if (w.at > oldest) break;
      this.#done(mid);
    }
  }

  /** The blocking XREAD is cut short so that it reads the streams just opened too. */
  #wakeReader(): void {
    if (!this.#reader || this.#isDegraded) return;
    const cmd = this.#command();
    const name = `name=netlab-reader-${this.nodeId} `;
    cmd
      .client("LIST")
      .then((list) => {
        const line = String(list)
          .split("\n")
          .find((l) => `${l} `.includes(name));
        const id = line && /(?:^|\s)id=(\d+)/.exec(line)?.[1];
        if (id) return cmd.client("UNBLOCK", id);
        return undefined;
      })
      .catch(noop);
  }

  // ── writing, and the degraded mode ─────────────────────────────────────────────────────────

  /** Appends `events` in order (one APPEND); resolves with their entry ids. */
  #append(events: readonly WireEvent[]): Promise<unknown[]> {
    const keys = [this.#membersKey(this.nodeId)];
    const args: (string | number)[] = [this.options.maxStreamEntries];
    for (const w of events) {
      keys.push(this.#roomKey(w.room));
      const entry = JSON.stringify(w);
      if (w.type === "join") args.push(entry, "j", w.nick, w.room, "");
      else if (w.type === "leave") args.push(entry, "l", w.nick, "", "");
      else if (w.type === "nick") args.push(entry, "n", w.from, w.to, w.room);
      else args.push(entry, "m", "", "", "");
    }
    return (this.#command() as AppendingRedis).netlabAppend(keys.length, ...keys, ...args);
  }

  /** Degraded: the event reaches this node's clients now and the cluster when Redis is back. */
  #hold(w: WireEvent): Promise<void> {
    if (this.#buffer.length >= this.options.maxBufferedEvents) {
      const error = new ClusterError(
        "CLUSTER_BUFFER_FULL",
        `not sent: the cluster's Redis is unreachable and ${this.#buffer.length} events wait already`,
        { hint: "wait until the server says the cluster is back" },
      );
      return Promise.reject(error);
    }
    this.#buffer.push(w);
    this.#remember(w.mid);
    this.#sink?.deliver(w);
    return Promise.resolve();
  }

  #linkDown(): void {
    if (!this.#isStarted || this.#isClosed || this.#isDegraded) return;
    this.#isDegraded = true;
    this.#sink?.status({
      isDegraded: true,
      reason: `cluster degraded: lost the link to Redis at ${this.address.where}; serving this node's clients only, and holding up to ${this.options.maxBufferedEvents} events to send when it is back`,
    });
    // Published this turn, not sent yet: held now, ahead of anything published after.
    const queued = this.#outgoing;
    this.#outgoing = [];
    for (const { wire, resolve, reject } of queued) this.#hold(wire).then(resolve, reject);
  }

  /** Redis is back: the buffer goes out in order, the node's state is written again, then it is whole. */
  async #linkUp(): Promise<void> {
    if (!this.#isDegraded || this.#isFlushing || this.#isClosed) return;
    this.#isFlushing = true;
    try {
      await this.#register();
      let sent = 0;
      while (this.#buffer.length > 0) {
        const slice = this.#buffer.slice(0, this.options.appendBatch);
        await this.#append(slice);
        this.#buffer.splice(0, slice.length);
        sent += slice.length;
      }
      this.#isDegraded = false;
      this.#sink?.status({
        isDegraded: false,
        reason: `cluster back: Redis at ${this.address.where} answers again; ${sent} held event${sent === 1 ? "" : "s"} sent`,
      });
      this.#wakeReader();
    } catch (err) {
      debug("cluster: catching up: %s", (err as Error).message);
    } finally {
      this.#isFlushing = false;
    }
  }

  /** This node's registration, members and nicks, written again (Redis may have lost them). */
  async #register(): Promise<void> {
    const o = this.options;
    const m = this.#command().multi();
    m.eval(RENEW_NODE, 1, this.#key(`node:${this.nodeId}`), this.#token, o.leaseMs);
    m.zadd(this.#key("nodes"), Date.now() + o.leaseMs, this.nodeId);
    const members = this.#membersKey(this.nodeId);
    m.del(members);
    for (const [nick, room] of this.#members) m.hset(members, nick, room);
    for (const [nick, hash] of this.#held) {
      m.set(this.#nickKey(nick), `${this.nodeId}|${nick}|${hash}`, "PX", o.leaseMs, "NX");
      m.set(this.#lookKey(nick), `${this.nodeId}|${nick}|${hash}`, "PX", o.leaseMs, "NX");
    }
    await m.exec();
  }

  #trackMember(e: RoomEvent): void {
    if (e.type === "join") this.#members.set(e.nick, e.room);
    else if (e.type === "leave") this.#members.delete(e.nick);
    else if (e.type === "nick") {
      this.#members.delete(e.from);
      this.#members.set(e.to, e.room);
    }
  }

  // ── presence ───────────────────────────────────────────────────────────────────────────────

  /** Renews this node's lease and its nicks', then reaps nodes whose lease ran out. */
  async #beat(): Promise<void> {
    if (this.#isClosed) return;
    if (this.#isDegraded) {
      // Degraded by a failed command on a link that never dropped (no "ready" to wait for): retry.
      if (this.#command().status === "ready") await this.#linkUp();
      return;
    }
    const o = this.options;
    try {
      const m = this.#command().multi();
      m.eval(RENEW_NODE, 1, this.#key(`node:${this.nodeId}`), this.#token, o.leaseMs);
      m.zadd(this.#key("nodes"), Date.now() + o.leaseMs, this.nodeId);
      m.pexpire(this.#membersKey(this.nodeId), o.leaseMs * 4);
      for (const nick of this.#held.keys()) {
        m.pexpire(this.#nickKey(nick), o.leaseMs);
        m.pexpire(this.#lookKey(nick), o.leaseMs);
      }
      await m.exec();
      const dead = await this.#command().zrangebyscore(this.#key("nodes"), "-inf", Date.now());
      for (const id of dead) if (id !== this.nodeId) await this.#reap(id);
    } catch (err) {
      debug("cluster: heartbeat: %s", (err as Error).message);
    }
  }

  /** A node stopped renewing its lease: its users leave their rooms (one node does this), its nicks go. */
  async #reap(id: string): Promise<void> {
    const cmd = this.#command();
    const o = this.options;
    if ((await cmd.set(this.#key(`reap:${id}`), this.nodeId, "PX", o.leaseMs * 4, "NX")) === null) return;
    const members = await cmd.hgetall(this.#membersKey(id));
    const ts = Date.now();
    const m = cmd.multi();
    for (const [nick, room] of Object.entries(members)) {
      const leave: WireEvent = {
        type: "leave",
        room,
        nick,
        ts,
        sid: -1,
        reason: `node ${id} stopped answering`,
        node: id,
        mid: `${this.#token}:${++this.#seq}`,
      };
      m.xadd(this.#roomKey(room), "MAXLEN", "~", o.maxStreamEntries, "*", "e", JSON.stringify(leave));
      m.eval(RELEASE, 2, this.#nickKey(nick), this.#lookKey(nick), id);
    }
    m.del(this.#membersKey(id));
    m.zrem(this.#key("nodes"), id);
    await m.exec();
  }

  async #allMembers(): Promise<{ nick: string; room: string }[]> {
    if (this.#isDegraded) return [...this.#members].map(([nick, room]) => ({ nick, room }));
    const cmd = this.#command();
    const ids = await cmd.zrangebyscore(this.#key("nodes"), Date.now(), "+inf");
    const hashes = await Promise.all(ids.map((id) => cmd.hgetall(this.#membersKey(id))));
    return hashes.flatMap((h) => Object.entries(h).map(([nick, room]) => ({ nick, room })));
  }

  async #refillGuests(): Promise<void> {
    if (this.#isRefilling || this.#isDegraded) return;
    this.#isRefilling = true;
    try {
      const end = await this.#command().incrby(this.#key("guests"), 1_000);
      this.#guestNext = end - 999;
      this.#guestEnd = end + 1;
    } catch (err) {
      debug("cluster: guest numbers: %s", (err as Error).message);
    } finally {
      this.#isRefilling = false;
    }
  }

  // ── helpers ────────────────────────────────────────────────────────────────────────────────

  async #lastId(key: string): Promise<string> {
    const last = (await this.#command().xrevrange(key, "+", "-", "COUNT", 1)) as Entry[];
    return last[0]?.[0] ?? "0-0";
  }

  /**
   * Whether the stream lost an entry newer than `sinceId`. Trimming removes the oldest entries, so
   * it did when its first entry is newer than `sinceId` (or XDEL removed a newer one). When the only
   * entries trimmed are `sinceId` and older, that still says gap: the client is told of a hole that
   * holds nothing it missed, never the other way round.
   */
  async #lostAfter(key: string, sinceId: string): Promise<boolean> {
    try {
      const info = (await this.#command().call("XINFO", "STREAM", key)) as unknown[];
      const deleted = info[info.indexOf("max-deleted-entry-id") + 1];
      if (typeof deleted === "string" && compareStreamIds(deleted, sinceId) > 0) return true;
      const first = info[info.indexOf("first-entry") + 1] as Entry | null;
      return first !== null && first !== undefined && compareStreamIds(first[0], sinceId) > 0;
    } catch {
      return false; // no stream: nothing was ever said, nothing is missing
    }
  }

  #command(): Redis {
    return this.#cmd as Redis;
  }

  #key(name: string): string {
    return `${this.options.keyPrefix}${name}`;
  }
  #roomKey(room: string): string {
    return this.#key(`room:${room}`);
  }
  #inboxKey(node: string): string {
    return this.#key(`inbox:${node}`);
  }
  #membersKey(node: string): string {
    return this.#key(`node:${node}:members`);
  }
  #nickKey(nick: string): string {
    return this.#key(`nick:${nickKey(nick)}`);
  }
  #lookKey(nick: string): string {
    return this.#key(`look:${lookalikeKey(nick)}`);
  }

  /** The first connection failed: one clear error for each way it can. */
  #startError(err: unknown): ClusterError {
    const message = err instanceof Error ? err.message : String(err);
    const where = this.address.where;
    if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
      return new ClusterError("CLUSTER_AUTH", `Redis at ${where} refused the password (WRONGPASS)`, {
        hint: "check the password in the URL: redis://:PASSWORD@HOST:PORT (LAB_CLUSTER keeps it out of ps)",
      });
    }
    if (/NOAUTH|Authentication required/i.test(message)) {
      return new ClusterError("CLUSTER_AUTH", `Redis at ${where} wants a password (NOAUTH)`, {
        hint: "put it in the URL: redis://:PASSWORD@HOST:PORT (LAB_CLUSTER keeps it out of ps)",
      });
    }
    const why = /ECONNREFUSED/.test(message)
      ? "connection refused"
      : /ETIMEDOUT|timed? ?out/i.test(message)
        ? `no answer in ${this.options.connectTimeoutMs / 1000} s`
        : /ENOTFOUND|EAI_AGAIN/.test(message)
          ? "no such host"
          : message.slice(0, 200);
    return new ClusterError("CLUSTER_UNREACHABLE", `cannot reach Redis at ${where}: ${why}`, {
      hint: `start it (redis-server --port ${this.address.port}; install: sudo apt-get install redis-server) or check the --cluster URL`,
      cause: err,
    });
  }
}

/** A room event published in this turn, and its publish's promise, settled by #flush. */
interface Outgoing {
  wire: WireEvent;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** The command connection with APPEND defined on it (EVALSHA, EVAL when Redis lost the script). */
type AppendingRedis = Redis & { netlabAppend(...args: (string | number)[]): Promise<unknown[]> };

/** An XRANGE entry as ioredis returns it: id, then the flat field/value list. */
type Entry = [string, string[]];

function fieldOf(entry: Entry): string {
  const fields = entry[1];
  const at = fields.indexOf("e");
  return at >= 0 ? (fields[at + 1] ?? "") : "";
}
