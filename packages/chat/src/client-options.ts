import type { ClientTlsOptions } from "@netlab/tls";

/** Where a client is in its life. */
export type ClientState = "connecting" | "connected" | "reconnecting" | "closed";
/** How the client talks to this server: undecided until the server's first line (or `detectMs`). */
export type ClientMode = "unknown" | "json" | "plain";

/**
 * What a reconnect resumed: the address that dropped and the one now in use (the same one, or the
 * next of `failover`), and in JSON mode the room asked for and the last `streamId` seen in it.
 */
export interface Reconnected {
  from: string;
  to: string;
  room?: string;
  /** Cluster mode: the new node replays the room's messages after this id. */
  since?: string;
}

/** Raw bytes as they crossed the socket: one entry per TCP read ("in") or per write ("out"). */
export interface WireChunk {
  direction: "in" | "out";
  bytes: Uint8Array;
  /** ms since epoch */
  at: number;
  /** The bytes are TLS records (ciphertext); the plaintext arrives as events and lines. */
  tls?: boolean;
}

/** Options for {@link ChatClient}. */
export interface ChatClientOptions {
  /** Default "127.0.0.1". */
  host?: string;
  port: number;
  /** A Unix socket path instead of host and port (a leading NUL: a Linux abstract socket). */
  path?: string;
  /** Resolve the host to IPv4 only (4) or IPv6 only (6). Default 0: either. */
  family?: 0 | 4 | 6;
  /** The nick to ask for in JSON mode; the server picks `guest-N` when absent or taken. */
  nick?: string;
  /** Reconnect with backoff when the connection drops. Default false. */
  reconnect?: boolean;
  /** Give up a connection attempt after this long. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /**
   * Give up when the server owes an answer and sends nothing for this long, in ms: after we wrote
   * something (in JSON mode a netlab server answers every line: hello, commands, pings) no byte
   * came back; against a plain line server, only while it has not sent a single byte on this
   * connection (a line server may rightly say nothing to a line). A quiet chat is not a stall:
   * nothing is owed while we send nothing. The client then closes with STALLED and does not
   * reconnect, unless it has `failover` nodes and `reconnect`: then a stall moves it to the next
   * node, and it pings a server quiet for this long, so a node gone silent is noticed while we send
   * nothing. A server that reads nothing of what we send for this long (the socket stays above its
   * high-water mark) is stalled too, whatever it owes. Default 10 000 ms; `Infinity` waits forever.
   */
  stallTimeoutMs?: number;
  /**
   * Give up when a line from the server has begun and is still not whole after this long, in ms:
   * a server that sends part of a line (a byte a second, or an endless line with no newline) and
   * never ends it. It counts from the line's first byte, so a trickle does not reset it; an idle
   * server (no partial line) is never cut, nor is a plain line server (it may leave a prompt such
   * as `Name: ` unended while a person types; memory stays bounded by `maxLineBytes`). The client then closes as on a stall (`STALLED`; with
   * `failover` and `reconnect`, it goes to the next node). Default 30 000 ms (the server's own
   * line timeout); `Infinity` waits forever.
   */
  frameTimeoutMs?: number;
  /**
   * Longest flood window the client paces itself to, in ms: a welcome announcing a longer one
   * (say "1 message a day") is paced as if it said this, so a server cannot park what we send for
   * as long as it likes by what it announces. Default 60 000 ms.
   */
  maxPaceWindowMs?: number;
  /** First reconnect delay, doubled after each failure up to `maxReconnectDelayMs`. Default 250 ms. */
  reconnectDelayMs?: number;
  /** Default 8 000 ms. */
  maxReconnectDelayMs?: number;
  /**
   * Stop reconnecting when no connection has been made for this long since the drop, in ms: the
   * client closes with RECONNECT_FAILED. Default 60 000 ms; `Infinity` retries forever.
   */
  reconnectTimeoutMs?: number;
  /** How long to wait for a server's first line before treating it as a plain line server. Default 300 ms. */
  detectMs?: number;
  /** Longest line accepted from the server. Default 1 MiB. */
  maxLineBytes?: number;
  /** Upgrade to JSON mode when the server announces `netlab chat/1`. Default true. */
  upgrade?: boolean;
  /**
   * Speak TLS (ALPN `netlab-chat/1`): every (re)connect is handshaken and the server trusted before
   * a byte is sent; a refused server ends the client with the TlsError (no reconnect). Default: plaintext.
   */
  tls?: ClientTlsOptions;
  /**
   * The shared secret for a server that asks for one (its banner says `[AUTH_REQUIRED]`); sent in
   * the hello, and only to a server that asked. Never take it from argv: read it from a file, an
   * environment variable or a prompt.
   */
  token?: string;
  /**
   * Called when a server asks for a token and `token` is not set (e.g. a no-echo prompt on a
   * terminal); its answer is sent in the hello. Without it, such a server closes with AUTH_REQUIRED.
   */
  requestToken?: () => Promise<string | undefined>;
  /**
   * Other nodes of the same chat cluster (`lab server --cluster`): with `reconnect`, a dropped
   * connection is retried on the next address in turn (`host`/`port` first, then these), and the
   * client asks the new node for the messages after the last one it saw (`hello.since`). Default none.
   */
  failover?: ReadonlyArray<{ host?: string; port: number }>;
  /**
   * Mask the auth and reclaim tokens in `wire` chunks (one `*` a byte, so lengths and offsets
   * stay): a wire view may be on a shared screen. Default true; false shows them, to debug one's own auth.
   */
  redact?: boolean;
  /**
   * A reclaim token the server granted `nick` earlier (kept by the caller, e.g. on disk across a
   * restart): offered in the first hello, so a session the server still holds for that nick is
   * taken over at once. A wrong or spent one is answered as none (`NICK_TAKEN`). Default none.
   */
  reclaimToken?: string;
  /**
   * Told of each reclaim token the server grants (a welcome, our own `/nick`): the nick and the
   * secret, for a caller that keeps it beyond this process. The token is never in emitted events.
   */
  onReclaim?: (grant: { nick: string; token: string }) => void;
}

/** Defaults of {@link ChatClientOptions}. */
export const CLIENT_DEFAULTS = {
  host: "127.0.0.1",
  reconnect: false,
  connectTimeoutMs: 10_000,
  stallTimeoutMs: 10_000,
  frameTimeoutMs: 30_000,
  maxPaceWindowMs: 60_000,
  reconnectDelayMs: 250,
  maxReconnectDelayMs: 8_000,
  reconnectTimeoutMs: 60_000,
  detectMs: 300,
  maxLineBytes: 1024 * 1024,
  upgrade: true,
  redact: true,
};

/** `o` without its undefined fields, so that they do not hide a default when spread. */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
