// The hub's limits. HubOptions and HUB_DEFAULTS are public (index.ts, via hub.ts); hubOptions is internal.
import { AUTH_BACKOFF_DEFAULTS, type AuthBackoffOptions, type TokenSet } from "@netlab/core";

/**
 * Limits and tunables of a chat hub; every one has a default. The `auth*` ones (see
 * `AuthBackoffOptions` in @netlab/core) apply only with `tokens`.
 */
export interface HubOptions extends AuthBackoffOptions {
  /**
   * The tokens a client must present (`/auth TOKEN` in text mode, `hello.token` in JSON mode)
   * before it joins; `name:` binds the nick, `:ro` makes it listen-only. Default undefined: open.
   */
  tokens: TokenSet | undefined;
  /** How long a new connection has to present its token before it is told and cut, in ms. Default 30 000. */
  authTimeoutMs: number;
  /** Clients at once; the next gets one `SERVER_FULL` line and is closed. Default 1 000. */
  maxClients: number;
  /**
   * A client that sends nothing for this long is told and disconnected. One sweep checks every
   * client each quarter of it (at most every 5 s), so the cut comes up to two sweeps late.
   * Default 600 000 (10 min); `Infinity` (or 0) is off.
   */
  idleTimeoutMs: number;
  /** Messages per room replayed to a joiner. Default 50. */
  historySize: number;
  /**
   * A client's output queue, in bytes: every byte queued for it and not yet taken (this turn's
   * batch, and what the kernel refused) counts, history replay included. A line that would take
   * the queue past it disconnects the client (it has stopped reading). History replay to a joiner
   * is cut to the newest messages that fit in half of it. Default 1 MiB.
   */
  maxQueueBytes: number;
  /**
   * Every client's output queue together, in bytes. When a flush leaves more than this queued, the
   * clients with the largest queues are disconnected until it fits; history replay is cut to what
   * fits under it. Default 64 MiB; `Infinity` is off.
   */
  maxQueuedBytesTotal: number;
  /** Messages (lines) per `floodWindowMs` before a warning; twice that disconnects. Default 30; `Infinity` is off. */
  floodMessages: number;
  /** Default 5 000 ms. */
  floodWindowMs: number;
  /** Bad lines (too long, not UTF-8, bad JSON, unknown command) per 10 s before a disconnect. Default 10. */
  maxBadLines: number;
  /** How long a new connection has to open with a JSON `hello` before it is joined in text mode. Default 300 ms. */
  helloGraceMs: number;
  /** The server's name in the welcome line. Default "netlab". */
  serverName: string;
  /**
   * Joins and leaves are announced to the room only while it has at most this many members, so
   * thousands of clients joining one room cost O(n) lines rather than O(n²). Default 500.
   */
  maxAnnounceMembers: number;
  /**
   * Cluster mode: most messages a JSON client reconnecting with `hello.since` is replayed (the
   * newest of what it missed; older ones are reported as a history gap). Default 1 000.
   */
  maxCatchUpMessages: number;
  /**
   * Cluster mode: one client's messages sent to the cluster and not yet back; past it the server
   * reads the client's next line only once one is back (the client is slowed, never cut). Default 64.
   */
  maxInFlightMessages: number;
}

/** Defaults for {@link HubOptions}. */
export const HUB_DEFAULTS: Readonly<HubOptions> = {
  ...AUTH_BACKOFF_DEFAULTS,
  tokens: undefined,
  authTimeoutMs: 30_000,
  maxClients: 1_000,
  idleTimeoutMs: 600_000,
  historySize: 50,
  maxQueueBytes: 1024 * 1024,
  maxQueuedBytesTotal: 64 * 1024 * 1024,
  floodMessages: 30,
  floodWindowMs: 5_000,
  maxBadLines: 10,
  helloGraceMs: 300,
  serverName: "netlab",
  maxAnnounceMembers: 500,
  maxCatchUpMessages: 1_000,
  maxInFlightMessages: 64,
};

/** The defaults under `opts`, checked: the queue caps must be byte counts ≥ 1. */
export function hubOptions(opts: Partial<HubOptions>): HubOptions {
  const options = { ...HUB_DEFAULTS, ...opts };
  for (const name of ["maxQueueBytes", "maxQueuedBytesTotal"] as const) {
    const value = options[name];
    if (!(value >= 1)) throw new RangeError(`${name} must be a number of bytes ≥ 1, got ${value}`);
  }
  return options;
}
