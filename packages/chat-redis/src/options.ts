import { hostname } from "node:os";
import { optionChecks, withDefaults } from "@netlab/core";
import { ClusterError } from "./errors.js";

/** Options for {@link RedisBackend}; every one but `url` has a default. */
export interface RedisBackendOptions {
  /** `redis://[[USER]:PASSWORD@]HOST:PORT[/DB]` (or `rediss://` for TLS). Required. */
  url: string;
  /** This node's id, unique in the cluster: 1–32 letters, digits, `_` or `-`. Default HOSTNAME-PID. */
  nodeId: string;
  /** Prefix of every Redis key this cluster uses, so clusters can share one Redis. Default "netlab:". */
  keyPrefix: string;
  /** Entries a room's stream keeps (approximate `XADD MAXLEN ~`): the history a reconnect can catch up on. Default 10 000. */
  maxStreamEntries: number;
  /** Message ids remembered to drop duplicates (a re-sent XADD after a lost reply). Default 10 000. */
  dedupWindow: number;
  /**
   * Outgoing room events held while Redis is unreachable (degraded); past it a message is refused
   * with CLUSTER_BUFFER_FULL. Everything admitted is sent when Redis is back. Default 10 000.
   */
  maxBufferedEvents: number;
  /** How long a node's registration and its nicks live without a heartbeat. Default 15 000 ms. */
  leaseMs: number;
  /** How often a node renews its lease and looks for dead nodes. Default 5 000 ms (a third of the lease). */
  heartbeatMs: number;
  /** Longest one blocking XREAD waits before it is issued again. Default 1 000 ms. */
  blockMs: number;
  /** Entries taken per XREAD. Default 1 000. */
  readCount: number;
  /**
   * Room events sent in one APPEND script call: what a node publishes in one turn of its event loop
   * goes in calls of at most this many, so a burst does not hold Redis up for everyone. Default 256.
   */
  appendBatch: number;
  /** How long the first connection to Redis may take. Default 5 000 ms. */
  connectTimeoutMs: number;
  /** Longest a sender waits for its own message to come back from the stream. Default 5 000 ms. */
  publishTimeoutMs: number;
}

/** Defaults for {@link RedisBackendOptions} (`url` has none). */
export const REDIS_BACKEND_DEFAULTS: Readonly<Omit<RedisBackendOptions, "url" | "nodeId">> = {
  keyPrefix: "netlab:",
  maxStreamEntries: 10_000,
  dedupWindow: 10_000,
  maxBufferedEvents: 10_000,
  leaseMs: 15_000,
  heartbeatMs: 5_000,
  blockMs: 1_000,
  readCount: 1_000,
  appendBatch: 256,
  connectTimeoutMs: 5_000,
  publishTimeoutMs: 5_000,
};

const NODE_ID = /^[A-Za-z0-9_-]{1,32}$/;
const { requirePositiveInt } = optionChecks(ClusterError as never);

/** The default node id: the host name and pid, cut to what a node id may hold. */
export function defaultNodeId(): string {
  return `${hostname().replace(/[^A-Za-z0-9_-]/g, "-")}`.slice(0, 24).concat(`-${process.pid}`).slice(-32);
}

/** The options in force, checked (INVALID_OPTION, CLUSTER_URL_INVALID). */
export function redisBackendOptions(
  opts: Partial<RedisBackendOptions> & { url: string },
): RedisBackendOptions {
  const o = withDefaults({ ...REDIS_BACKEND_DEFAULTS, nodeId: defaultNodeId() }, opts) as RedisBackendOptions;
  parseClusterUrl(o.url);
  if (!NODE_ID.test(o.nodeId)) {
    throw new ClusterError(
      "INVALID_OPTION",
      `node id ${JSON.stringify(o.nodeId.slice(0, 40))} is not allowed: use 1–32 letters, digits, _ or -`,
      { hint: "for example --node-id a" },
    );
  }
  for (const name of [
    "maxStreamEntries",
    "dedupWindow",
    "maxBufferedEvents",
    "leaseMs",
    "heartbeatMs",
    "blockMs",
    "readCount",
    "appendBatch",
    "connectTimeoutMs",
    "publishTimeoutMs",
  ] as const) {
    requirePositiveInt(name, o[name]);
  }
  if (o.heartbeatMs * 2 > o.leaseMs) {
    throw new ClusterError(
      "INVALID_OPTION",
      `heartbeatMs (${o.heartbeatMs}) must be at most half of leaseMs (${o.leaseMs})`,
      { hint: "a lease must survive one missed heartbeat" },
    );
  }
  return o;
}

/** Where a cluster URL points, for messages (never with its password). */
export interface ClusterAddress {
  host: string;
  port: number;
  hasPassword: boolean;
  /** `host:port`, to show. */
  where: string;
}

/**
 * Checks a `--cluster` URL: `redis://` or `rediss://`, a host, a port. Throws CLUSTER_URL_INVALID.
 * @example parseClusterUrl("redis://127.0.0.1:6379").where // → "127.0.0.1:6379"
 */
export function parseClusterUrl(url: string): ClusterAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badUrl(url, "it is not a URL");
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw badUrl(url, `the scheme is ${JSON.stringify(u.protocol.replace(/:$/, ""))}, not redis`);
  }
  if (!u.hostname) throw badUrl(url, "it names no host");
  const port = u.port === "" ? 6379 : Number(u.port);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const where = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, hasPassword: u.password !== "", where };
}

function badUrl(url: string, why: string): ClusterError {
  const shown = url.replace(/\/\/[^@/]*@/, "//***@");
  return new ClusterError("CLUSTER_URL_INVALID", `--cluster ${JSON.stringify(shown.slice(0, 100))}: ${why}`, {
    hint: "use redis://HOST:PORT, for example redis://127.0.0.1:6379 (a password: redis://:PASSWORD@HOST:PORT)",
  });
}
