import { randomBytes } from "node:crypto";
import { debuglog } from "node:util";
import type {
  BackendSink,
  CatchUp,
  ChatBackend,
  DeliveredEvent,
  NickToken,
  NodeInfo,
  PrivateEvent,
  ReclaimedNick,
  RoomEvent,
} from "@netlab/chat";
import { Redis, type RedisOptions } from "ioredis";
import { RedisBackend } from "./backend.js";
import { ClusterError } from "./errors.js";
import type { ClusterAddress, RedisBackendOptions } from "./options.js";

const debug = debuglog("netlab");

/** A node id as options.ts allows it: what reaches the log and the room's "lost" line is never more. */
const NODE_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** A room message on a Pub/Sub channel: the event, its node, and the sender's sequence number in the room. */
type PubSubMessage = RoomEvent & { type: "message"; node: string; sender: string; seq: number };

/**
 * The teaching backend (`--cluster-mode pubsub`): room messages go out with Redis `PUBLISH`, one
 * channel per room, and reach whichever nodes are subscribed at that moment. Pub/Sub keeps nothing:
 * a node whose subscriber connection drops (a reconnect, `CLIENT KILL TYPE pubsub`) misses what was
 * published meanwhile, for good. That is the point of offering it: every message carries its
 * sender's sequence number in the room, and a receiver that sees one skipped tells the room
 * `* N messages were lost` instead of hiding it. There is no message history and no catch-up.
 *
 * Everything else (nicks, presence, joins and leaves, private messages, nodes) is
 * {@link RedisBackend}'s, on Streams, so the two modes differ in exactly one thing.
 * @example const backend = new RedisPubSubBackend({ url: "redis://127.0.0.1:6379", nodeId: "a" });
 */
export class RedisPubSubBackend implements ChatBackend {
  readonly options: RedisBackendOptions;
  readonly nodeId: string;
  readonly address: ClusterAddress;
  /** Nicks, presence, membership events and private messages. */
  readonly #streams: RedisBackend;
  #pub: Redis | undefined;
  #sub: Redis | undefined;
  #sink: BackendSink | undefined;
  /** This process's id as a sender: a restarted node starts its sequence numbers afresh under another. */
  readonly #sender = randomBytes(6).toString("hex");
  /** Room → the sequence number of this node's last message in it. */
  readonly #sent = new Map<string, number>();
  /**
   * `sender|room` → the last sequence number heard, oldest-heard first; at most `dedupWindow`
   * entries (a sender forgotten is a sender whose next message starts afresh, never a false gap).
   */
  readonly #heard = new Map<string, number>();
  /** This node's own messages on their way back through Redis, by `room|seq`. */
  readonly #waiters = new Map<string, () => void>();
  #isClosed = false;

  constructor(opts: Partial<RedisBackendOptions> & { url: string }) {
    this.#streams = new RedisBackend(opts);
    this.options = this.#streams.options;
    this.nodeId = this.#streams.nodeId;
    this.address = this.#streams.address;
  }

  async start(sink: BackendSink): Promise<void> {
    this.#sink = sink;
    await this.#streams.start(sink);
    const o = this.options;
    const base: RedisOptions = {
      lazyConnect: true,
      connectTimeout: o.connectTimeoutMs,
      retryStrategy: (times) => (this.#isClosed ? null : Math.min(100 * times, 2_000)),
      disconnectTimeout: 100,
    };
    const pub = new Redis(o.url, {
      ...base,
      connectionName: `netlab-pub-${this.nodeId}`,
      enableOfflineQueue: false,
      commandTimeout: o.publishTimeoutMs,
      maxRetriesPerRequest: 0,
    });
    // ioredis subscribes again after a reconnect; what was published in between is gone.
    const sub = new Redis(o.url, {
      ...base,
      connectionName: `netlab-pubsub-${this.nodeId}`,
      autoResubscribe: true,
    });
    this.#pub = pub;
    this.#sub = sub;
    pub.on("error", (err) => debug("cluster: pub: %s", (err as Error).message));
    sub.on("error", (err) => debug("cluster: sub: %s", (err as Error).message));
    // Our own messages will not come back over a dropped subscription: do not wait for them.
    sub.on("close", () => this.#releaseWaiters());
    sub.on("message", (channel: string, text: string) => this.#onMessage(channel, text));
    try {
      await pub.connect();
      await sub.connect();
    } catch (err) {
      await this.close();
      throw new ClusterError(
        "CLUSTER_UNREACHABLE",
        `cannot open the Pub/Sub connections to Redis at ${this.address.where}`,
        {
          hint: "check that redis-server is running and the --cluster URL",
          cause: err,
        },
      );
    }
  }

  async openRoom(room: string, count: number): Promise<DeliveredEvent[]> {
    // Messages are never stored in Pub/Sub mode: the stream's history holds joins and leaves only.
    const history = await this.#streams.openRoom(room, count);
    await this.#subscriber().subscribe(this.#channel(room));
    return history;
  }

  closeRoom(room: string): void {
    this.#streams.closeRoom(room);
    this.#subscriber()
      .unsubscribe(this.#channel(room))
      .catch((err: Error) => debug("cluster: unsubscribe: %s", err.message));
    for (const key of this.#heard.keys()) if (key.endsWith(`|${room}`)) this.#heard.delete(key);
  }

  async publish(event: RoomEvent): Promise<void> {
    if (event.type !== "message") return this.#streams.publish(event);
    const seq = (this.#sent.get(event.room) ?? 0) + 1;
    this.#sent.set(event.room, seq);
    const message: PubSubMessage = { ...event, node: this.nodeId, sender: this.#sender, seq };
    // Resolved when it comes back here (so the sender's next line is answered after it), or at once
    // when our subscription is down and it never will.
    const back = this.#subscriber().status === "ready" ? this.#waitFor(`${event.room}|${seq}`) : undefined;
    try {
      await (this.#pub as Redis).publish(this.#channel(event.room), JSON.stringify(message));
    } catch (err) {
      this.#waiters.get(`${event.room}|${seq}`)?.();
      throw new ClusterError("CLUSTER_DEGRADED", `not sent: Redis at ${this.address.where} does not answer`, {
        hint: "Pub/Sub holds nothing back while Redis is away; --cluster-mode streams does",
        cause: err,
      });
    }
    await back;
  }

  claimNick(nick: string, previous?: string, token?: NickToken): Promise<ReclaimedNick | undefined> {
    return this.#streams.claimNick(nick, previous, token);
  }

  releaseNick(nick: string): void {
    this.#streams.releaseNick(nick);
  }

  guestNumber(): number {
    return this.#streams.guestNumber();
  }

  who(room: string): Promise<string[]> {
    return this.#streams.who(room);
  }

  rooms(): Promise<{ name: string; clients: number }[]> {
    return this.#streams.rooms();
  }

  nodes(): Promise<NodeInfo[]> {
    return this.#streams.nodes();
  }

  sendPrivate(event: PrivateEvent): Promise<boolean> {
    return this.#streams.sendPrivate(event);
  }

  /** Pub/Sub keeps no messages: a reconnecting client is always told its history has a gap. */
  async catchUp(): Promise<CatchUp> {
    return { events: [], isGap: true };
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#releaseWaiters();
    this.#sub?.disconnect();
    this.#pub?.disconnect();
    await this.#streams.close();
  }

  /** One message from a room channel: a gap in its sender's sequence is reported before it. */
  #onMessage(channel: string, text: string): void {
    let m: PubSubMessage;
    try {
      m = JSON.parse(text) as PubSubMessage;
    } catch {
      return; // another program published here
    }
    if (
      typeof m !== "object" ||
      m === null ||
      m.type !== "message" ||
      channel !== this.#channel(m.room) ||
      typeof m.sender !== "string" ||
      typeof m.node !== "string" ||
      !NODE_ID.test(m.node) ||
      !Number.isSafeInteger(m.seq)
    ) {
      return;
    }
    const key = `${m.sender}|${m.room}`;
    const last = this.#heard.get(key);
    if (last !== undefined && m.seq <= last) return; // a duplicate, or out of date
    if (last !== undefined && m.seq > last + 1) {
      this.#sink?.lost({ room: m.room, count: m.seq - last - 1, node: m.node });
    }
    this.#heard.delete(key);
    this.#heard.set(key, m.seq);
    if (this.#heard.size > this.options.dedupWindow) {
      this.#heard.delete(this.#heard.keys().next().value as string);
    }
    if (m.sender === this.#sender) this.#waiters.get(`${m.room}|${m.seq}`)?.();
    const { sender: _sender, seq: _seq, ...event } = m;
    this.#sink?.deliver(event);
  }

  /** Resolves when `key` comes back through the subscription, or after publishTimeoutMs. */
  #waitFor(key: string): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(), this.options.publishTimeoutMs);
      timer.unref();
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(key);
        resolve();
      };
      this.#waiters.set(key, done);
    });
  }

  #releaseWaiters(): void {
    for (const done of [...this.#waiters.values()]) done();
  }

  #subscriber(): Redis {
    return this.#sub as Redis;
  }

  #channel(room: string): string {
    return `${this.options.keyPrefix}pubsub:${room}`;
  }
}
