import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { accessSync, constants } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ChatClient, ChatServer, type PeerSnapshot } from "@netlab/chat";
import { chatFactory, DETECT_MS } from "./chat-factory.js";
import type { ChatFactory, ClusterNodeView, LabChatClient, LabChatServer } from "./controller.js";
import { DemoError } from "./errors.js";

/** The cluster scene's nodes, in the order clients are spread over them (client 1 on a, 2 on b, 3 on a…). */
export const CLUSTER_NODES = ["a", "b"] as const;

/** How long a `redis-server` the demo starts may take to accept connections, in ms. */
const REDIS_START_TIMEOUT_MS = 5_000;
/** How long a stopped `redis-server` has to exit before it is killed, in ms. */
const REDIS_STOP_TIMEOUT_MS = 2_000;

/** Events about a node's own connections, forwarded from both nodes to the server pane. */
const NODE_EVENTS = ["connect", "disconnect", "error", "cluster"] as const;
/** Room events: every node sees each one (it came through the stream), so node a's are enough. */
const ROOM_EVENTS = ["join", "leave", "nick", "message"] as const;

/**
 * The cluster scene (`lab demo --cluster`): two `lab server --cluster` nodes in this process, each
 * a `ChatServer` on its own port with its own `RedisBackend`, joined through the Redis at `url`.
 * Clients are spread over the nodes; every message line is prefixed with the node it entered on
 * and the node that delivered it (`a→b <alice> hi`), from the `node` field cluster messages carry.
 * @example const factory = await createClusterChatFactory("redis://127.0.0.1:6379");
 */
export async function createClusterChatFactory(url: string): Promise<ChatFactory> {
  const { RedisBackend, parseClusterUrl } = await import("@netlab/chat-redis");
  const redis = parseClusterUrl(url).where;
  // Node b's port, once it listened: a restart listens there again, as node a does on the lab's port.
  const ports = CLUSTER_NODES.map(() => 0);
  const nodeOf = new WeakMap<LabChatClient, ClusterNodeView>();
  return {
    createServer: ({ host, port }) =>
      new ClusterPair(
        redis,
        (i) => {
          const backend = new RedisBackend({ url, nodeId: CLUSTER_NODES[i] });
          return new ChatServer({ host, port: i === 0 ? port : (ports[i] ?? 0), backend });
        },
        ports,
      ) as LabChatServer,
    createClient: (opts) => {
      const i = ((opts.id ?? 1) - 1) % CLUSTER_NODES.length;
      const node = { id: CLUSTER_NODES[i] ?? "a", host: opts.host, port: ports[i] ?? opts.port };
      const client = new ChatClient({ ...opts, port: node.port, detectMs: DETECT_MS }) as LabChatClient;
      nodeOf.set(client, node);
      return client;
    },
    formatEvent: chatFactory.formatEvent,
    nodeOf: (client) => nodeOf.get(client),
  };
}

/**
 * Two chat nodes that the lab drives as its one server: they listen, close and restart together,
 * their events reach the server pane, and their peers and counters are added up.
 */
class ClusterPair extends EventEmitter {
  readonly #redis: string;
  readonly #create: (index: number) => ChatServer;
  readonly #ports: number[];
  #servers: ChatServer[] = [];

  constructor(redis: string, create: (index: number) => ChatServer, ports: number[]) {
    super();
    this.#redis = redis;
    this.#create = create;
    this.#ports = ports;
  }

  /** Both nodes join the cluster and listen, a first; resolves with node a's address. */
  async listen(): Promise<{ host: string; port: number }> {
    const addresses: { host: string; port: number }[] = [];
    try {
      for (const i of CLUSTER_NODES.keys()) {
        const server = this.#create(i);
        for (const name of i === 0 ? [...NODE_EVENTS, ...ROOM_EVENTS] : NODE_EVENTS) {
          server.on(name, (...args: unknown[]) => this.emit(name, ...args));
        }
        this.#servers.push(server);
        const address = await server.listen();
        this.#ports[i] = address.port;
        addresses.push(address);
      }
    } catch (err) {
      await this.close().catch(() => {});
      const e = err as { code?: unknown; message?: unknown };
      if (e.code === "NODE_ID_TAKEN" && typeof e.message === "string") {
        // `lab server`'s hint says to pick another --node-id, which the demo has none of.
        throw new DemoError("NODE_ID_TAKEN", e.message, {
          hint: `the demo's nodes are ${CLUSTER_NODES.join(" and ")}: start yours with --node-id c (or any other id), or give the demo a Redis of its own`,
          cause: err,
        });
      }
      throw err;
    }
    return addresses[0] as { host: string; port: number };
  }

  /** The nodes as the server pane lists them, and the Redis they meet at. */
  cluster(): { redis: string; nodes: ClusterNodeView[] } {
    return {
      redis: this.#redis,
      nodes: this.#servers.map((s, i) => ({ id: CLUSTER_NODES[i] ?? "?", ...s.address })),
    };
  }

  async close(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    await Promise.all(servers.map((s) => s.close()));
    for (const s of servers) s.removeAllListeners();
  }

  /** Both nodes' peers; ids are per node, so node b's are offset to keep them apart in the table. */
  peers(): PeerSnapshot[] {
    return this.#servers.flatMap((s, i) => s.peers().map((p) => ({ ...p, id: p.id + i * 1e9 })));
  }

  stats(): { clients: number; messagesTotal: number; bytesIn: number; bytesOut: number } {
    const total = { clients: 0, messagesTotal: 0, bytesIn: 0, bytesOut: 0 };
    for (const s of this.#servers) {
      const x = s.stats();
      total.clients += x.clients;
      total.messagesTotal += x.messagesTotal;
      total.bytesIn += x.bytesIn;
      total.bytesOut += x.bytesOut;
    }
    return total;
  }
}

/** A `redis-server` the demo started for `--cluster` without a URL; {@link RedisProcess.stop} ends it. */
export interface RedisProcess {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Stops it (SIGTERM, then SIGKILL after 2 s) and waits for the exit. Harmless twice. */
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1 (nothing saved to disk) for the cluster scene,
 * and resolves once it accepts connections. Throws REDIS_NOT_INSTALLED (with the apt and brew
 * commands) when it is not on PATH, REDIS_DID_NOT_START when it exits or is not ready in 5 s.
 * The process is killed when this process exits, however it exits.
 * @example const redis = await startRedisServer(); … await redis.stop();
 */
export async function startRedisServer(): Promise<RedisProcess> {
  const bin = findOnPath("redis-server");
  if (bin === undefined) {
    throw new DemoError(
      "REDIS_NOT_INSTALLED",
      "lab demo --cluster needs redis-server, and it is not installed",
      {
        hint: "install it (sudo apt-get install redis-server, or brew install redis), or pass a URL: lab demo --cluster redis://HOST:PORT",
      },
    );
  }
  // A port taken between the probe and redis-server's bind gets one more try on another.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      return await launchRedis(bin, port);
    } catch (err) {
      if (attempt > 0 || !/in use/i.test((err as Error).message)) throw err;
    }
  }
}

/**
 * redis-server has no "exit with my parent" switch, so it runs under a small sh watchdog that
 * holds the read end of a pipe from this process (fd 3): when this process ends in any way, even
 * SIGKILL, the pipe closes, `read` returns and the watchdog stops redis-server. SIGTERM to the
 * watchdog stops redis-server and waits for it; Ctrl-C is left to the demo, which stops it.
 */
const REDIS_WATCHDOG = [
  'trap "" INT',
  "exec 3<&0",
  '"$0" "$@" </dev/null 3<&- &',
  "r=$!",
  'trap "kill $r 2>/dev/null" TERM',
  "(read _ <&3; kill $r 2>/dev/null) &",
  "wait $r",
  "s=$?",
  "wait $r 2>/dev/null",
  "exit $s",
].join("\n");

async function launchRedis(bin: string, port: number): Promise<RedisProcess> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  const child = spawn("sh", ["-c", REDIS_WATCHDOG, bin, ...args, "--dir", tmpdir()], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin.on("error", () => {}); // the watchdog gone first: nothing left to tell
  // Closing the pipe is what stops redis-server once this process is gone; SIGTERM asks now.
  const killNow = () => child.kill("SIGTERM");
  process.once("exit", killNow);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(notStarted(`not ready within ${REDIS_START_TIMEOUT_MS} ms`)),
        REDIS_START_TIMEOUT_MS,
      );
      const onData = (chunk: Buffer) => {
        // Only the start-up lines are kept; after that the output is read and dropped.
        if (output.length < 64 * 1024) output += chunk.toString("utf8");
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (err) => {
        clearTimeout(timer);
        reject(notStarted(err.message));
      });
      child.once("exit", () => {
        clearTimeout(timer);
        const last = output.trim().split("\n").at(-1) ?? "";
        reject(notStarted(`it exited: ${last.replace(/^\d+:\w \S+ \S+ \S+ [.*#-] /, "")}`));
      });
    });
  } catch (err) {
    await stopChild(child, exited);
    process.off("exit", killNow);
    throw err;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://127.0.0.1:${port}`,
    stop() {
      stopping ??= stopChild(child, exited).finally(() => process.off("exit", killNow));
      return stopping;
    },
  };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  // The watchdog's other half reads this pipe: closing it stops redis-server even if sh is gone.
  child.stdin?.end();
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), REDIS_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function notStarted(why: string): DemoError {
  return new DemoError("REDIS_DID_NOT_START", `redis-server did not start: ${why}`, {
    hint: "run redis-server yourself and pass its URL: lab demo --cluster redis://127.0.0.1:6379",
  });
}

/** The first executable `name` on PATH, if any. */
function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A port of 127.0.0.1 that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}
