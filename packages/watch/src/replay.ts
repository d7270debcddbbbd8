import net from "node:net";
import { SecretRedactor } from "@netlab/protocol";
import { connect, listenStream } from "@netlab/socketserver";
import { WatchError } from "./errors.js";
import type { SessionRecord } from "./schema.js";
import type { Session } from "./session.js";

/** How a replay times the client's bytes. */
export type ReplayPace = "lockstep" | "original" | "fast";
/** Every pace, for option checks and --help. */
export const REPLAY_PACES: readonly ReplayPace[] = ["lockstep", "original", "fast"];

/** Options for {@link replay}. */
export interface ReplayOptions {
  host?: string;
  port?: number;
  /** A Unix socket path instead of host and port. */
  path?: string;
  /**
   * `lockstep` (default): before each of the client's sends, wait until the server has sent as
   * much as it had at that point of the recording. `original`: the recording's timing (÷ `speed`).
   * `fast`: everything at once.
   */
  pace?: ReplayPace;
  /** `original` pace only: 2 plays twice as fast. Default 1; must be above 0. */
  speed?: number;
  /**
   * `original` pace only: the longest pause between two records, ms (after `speed`); a longer one
   * in the recording (an idle hour, or a timestamp an edited file put a century ahead) is cut to
   * it. Timestamps that go backwards do not pause. Default 10 000.
   */
  maxPauseMs?: number;
  /** Compare what the server sends with the recording; the first difference ends the replay. Default false. */
  compare?: boolean;
  /** Longest wait for the server's bytes at any step, in ms. Default 5 000. */
  waitMs?: number;
  /**
   * Most connections a recording may open (all are held until the replay ends); a recording with
   * more is TOO_LARGE before the first connects, so an edited file cannot flood a server. Default 1 000.
   */
  maxConnections?: number;
  /**
   * With `compare`: fields left out of every line that is a JSON object, at any depth, before
   * comparing (a server's clock, `ts`; ids). Lines are compared once complete. Default none.
   */
  ignoreJsonFields?: readonly string[];
  /**
   * Mask the chat's secrets in what the peer sends as `--record` does (`SecretRedactor`), before
   * keeping it to compare: a redacted recording then matches a peer with a token of the recorded
   * length, and the server's fresh reclaim tokens. Byte counts do not change. Default false.
   */
  redactReceived?: boolean;
  signal?: AbortSignal;
}

/** Defaults for {@link ReplayOptions}. */
export const REPLAY_DEFAULTS = {
  pace: "lockstep" as ReplayPace,
  speed: 1,
  maxPauseMs: 10_000,
  compare: false,
  waitMs: 5_000,
  maxConnections: 1_000,
  ignoreJsonFields: [] as readonly string[],
  redactReceived: false,
};

/**
 * Bytes a peer may send past what the recording says it sent, before the replay stops reading it:
 * enough to show where it went wrong, and a bound on a peer that sends forever.
 */
export const REPLAY_EXTRA_BYTES = 1024 * 1024;

/** Bytes `from` sent on each connection of `records`, as recorded. */
function bytesFrom(records: readonly SessionRecord[], from: "client" | "server"): Map<number, number> {
  const sent = new Map<number, number>();
  for (const r of records) {
    if (r.type === "data" && r.from === from) {
      sent.set(r.conn, (sent.get(r.conn) ?? 0) + Buffer.byteLength(r.b64, "base64"));
    }
  }
  return sent;
}

/** Where the server's answer first differs from the recording. */
export interface ReplayDifference {
  /** The connection's id in the recording. */
  conn: number;
  /** Offset in the bytes the server sent on that connection (with `ignoreJsonFields`, in its lines with those fields left out). */
  offset: number;
  /** The line (from 1) of the server's bytes that offset is in. */
  line: number;
  /** The recording's bytes from `offset` (up to 16), hex; "" when the server sent more than recorded. */
  expectedHex: string;
  /** The server's bytes from `offset` (up to 16), hex; "" when it sent less. */
  actualHex: string;
  /**
   * When the difference falls in a complete line that is a JSON object on both sides: the names of
   * its fields that differ (at any depth, in the recording's order), for `ignoreJsonFields`. Else [].
   */
  jsonFields: string[];
}

/**
 * Where the peer said nothing for a whole `waitMs` while the recording has it answering (lockstep).
 * Waiting again at every later step would cost `waitMs` each (hours for a long recording), so a
 * connection is waited on in silence once: one that had sent nothing at all stops the replay
 * (`silence`); one that answered in part is played on without waiting (`quiet`).
 */
export interface ReplaySilence {
  /** The connection's id in the recording. */
  conn: number;
  /** How long it waited, in ms (`waitMs`). */
  waitedMs: number;
  /** Bytes the peer had sent on that connection. */
  receivedBytes: number;
  /** Bytes the recording has it sending by then. */
  expectedBytes: number;
}

/** What a replay did. */
export interface ReplayResult {
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  /** Set when `compare` found a difference. */
  difference?: ReplayDifference;
  /**
   * Set when a peer that had sent nothing at all on a connection stayed silent for a whole `waitMs`
   * where the recording has it answering (lockstep): the replay stopped there.
   */
  silence?: ReplaySilence;
  /**
   * Connections whose peer answered in part, then was silent for a whole `waitMs` where the recording
   * has more: their later steps were played without waiting (and without the final wait).
   */
  quiet: ReplaySilence[];
}

/** `value` without the keys in `fields`, at any depth. */
function without(value: unknown, fields: ReadonlySet<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => without(v, fields));
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!fields.has(k)) out[k] = without(v, fields);
  return out;
}

/**
 * The bytes a comparison sees: with no fields to ignore, `bytes`; otherwise each complete line
 * that is a JSON object re-serialized without them, other lines as they are, and a last line
 * without its newline only once `isFinal` (it may still be arriving).
 */
export function maskJsonFields(bytes: Buffer, fields: ReadonlySet<string>, isFinal: boolean): Buffer {
  if (fields.size === 0) return bytes;
  const parts: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl < 0) break;
    parts.push(maskLine(bytes.subarray(start, nl), fields), NEWLINE);
    start = nl + 1;
  }
  if (isFinal && start < bytes.length) parts.push(maskLine(bytes.subarray(start), fields));
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from("\n");

function maskLine(line: Buffer, fields: ReadonlySet<string>): Buffer {
  if (line[0] !== 0x7b /* { */) return line;
  try {
    return Buffer.from(JSON.stringify(without(JSON.parse(line.toString("utf8")), fields)));
  } catch {
    return line;
  }
}

/** What playing one side of a connection needs to know. */
type PlayOptions = Required<Pick<ReplayOptions, "pace" | "compare" | "waitMs">> & { signal?: AbortSignal };

class Live {
  received = Buffer.alloc(0);
  expected = Buffer.alloc(0);
  isClosed = false;
  /** Set when a lockstep wait ran its whole `waitMs` with not one byte from the peer. */
  silence: ReplaySilence | undefined;
  #wake: (() => void) | undefined;
  #views = new Map<string, { length: number; view: Buffer }>();
  constructor(
    readonly conn: number,
    readonly socket: net.Socket,
    readonly fields: ReadonlySet<string>,
    /** What the recording says the peer sent, in bytes: past it by REPLAY_EXTRA_BYTES, reading stops. */
    recordedBytes: number,
    redact: boolean,
  ) {
    const max = recordedBytes + REPLAY_EXTRA_BYTES;
    const redactor = redact ? new SecretRedactor() : undefined;
    socket.on("data", (read: Buffer) => {
      const masked = redactor ? redactor.push(read) : read;
      const chunk = Buffer.isBuffer(masked)
        ? masked
        : Buffer.from(masked.buffer, masked.byteOffset, masked.length);
      const room = max - this.received.length;
      this.received = Buffer.concat([this.received, room < chunk.length ? chunk.subarray(0, room) : chunk]);
      // A peer far past its recording differs already; what it sends beyond is not kept.
      if (room <= chunk.length) socket.destroy();
      this.#wake?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.isClosed = true;
      this.#wake?.();
    });
  }
  /** What a comparison sees of `expected` or `received` (see {@link maskJsonFields}), cached by length. */
  view(which: "expected" | "received", isFinal: boolean): Buffer {
    const bytes = this[which];
    if (this.fields.size === 0) return bytes;
    const key = `${which}:${isFinal}`;
    const cached = this.#views.get(key);
    if (cached?.length === bytes.length) return cached.view;
    const view = maskJsonFields(bytes, this.fields, isFinal);
    this.#views.set(key, { length: bytes.length, view });
    return view;
  }
  /** Sends recorded bytes to the peer, unless it has gone; returns how many. */
  send(b64: string): number {
    const bytes = Buffer.from(b64, "base64");
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(bytes);
    return bytes.length;
  }
  /**
   * The peer's next recorded bytes: queued as what it should send; in lockstep, waited for (up to
   * `waitMs`, or until they differ). With `compare`, the first difference so far.
   */
  async expect(b64: string, o: PlayOptions): Promise<ReplayDifference | undefined> {
    this.expected = Buffer.concat([this.expected, Buffer.from(b64, "base64")]);
    // Silent for a whole wait once already: waiting again at each step would only add up.
    if (o.pace !== "lockstep" || (this.silence && !o.compare)) return undefined;
    const want = this.view("expected", false).length;
    const has = () => this.view("received", false).length;
    const before = this.received.length;
    await this.until(
      () => has() >= want || firstDifference(this.view("expected", false), this.view("received", false)) >= 0,
      o.waitMs,
      o.signal,
    );
    if (has() < want && this.received.length === before && !this.isClosed && !o.signal?.aborted) {
      this.silence = {
        conn: this.conn,
        waitedMs: o.waitMs,
        receivedBytes: this.received.length,
        expectedBytes: this.expected.length,
      };
    }
    if (!o.compare) return undefined;
    return differenceOf(this, false) ?? (has() < want ? differenceOf(this, true) : undefined);
  }
  /** Waits for the rest of what the peer should send; with `compare`, the first difference. */
  async finish(o: PlayOptions): Promise<ReplayDifference | undefined> {
    if (this.silence && !o.compare) return undefined;
    const want = this.view("expected", true).length;
    await this.until(() => this.view("received", true).length >= want, o.waitMs, o.signal);
    return o.compare ? differenceOf(this, true) : undefined;
  }
  /** Resolves once `ready()` holds, the socket closed, `ms` passed or `signal` aborted (Ctrl-C). */
  async until(ready: () => boolean, ms: number, signal?: AbortSignal): Promise<void> {
    const deadline = performance.now() + ms;
    while (!ready() && !this.isClosed && !signal?.aborted) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        signal?.addEventListener("abort", wake, { once: true });
        this.#wake = wake;
      });
      this.#wake = undefined;
    }
  }
}

/**
 * The recording's timing, played from now: each record is due one pause after the one before, the
 * pause being the recorded gap ÷ speed, at least 0 (time that runs backwards) and at most
 * `maxPauseMs` (time far ahead). Waits end early on abort (Ctrl-C).
 */
class ReplayClock {
  #due = performance.now();
  #lastT: number;
  constructor(
    readonly o: { speed: number; maxPauseMs: number; signal?: AbortSignal },
    startT: number,
  ) {
    this.#lastT = startT;
  }
  async until(t: number): Promise<void> {
    const pause = Math.min(Math.max((t - this.#lastT) / this.o.speed, 0), this.o.maxPauseMs);
    this.#lastT = Math.max(this.#lastT, t);
    this.#due += pause;
    const wait = this.#due - performance.now();
    if (wait <= 0 || this.o.signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.o.signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.o.signal?.addEventListener("abort", done, { once: true });
    });
  }
}

/** The first offset where `a` and `b` differ within their common length, or -1. */
function firstDifference(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function hexAt(buf: Buffer, offset: number): string {
  return buf
    .subarray(offset, offset + 16)
    .toString("hex")
    .replace(/(..)(?!$)/g, "$1 ");
}

/**
 * The fields that differ in the line holding `offset` (the same line start in both: the bytes before
 * `offset` are equal), when that line is whole and a JSON object in both; else [].
 */
function differingJsonFields(expected: Buffer, received: Buffer, offset: number): string[] {
  const start = offset === 0 ? 0 : expected.lastIndexOf(0x0a, offset - 1) + 1;
  const object = (bytes: Buffer): Record<string, unknown> | undefined => {
    const end = bytes.indexOf(0x0a, start);
    if (end < 0 || bytes[start] !== 0x7b /* { */) return undefined;
    try {
      const value: unknown = JSON.parse(bytes.subarray(start, end).toString("utf8"));
      return isObject(value) ? value : undefined;
    } catch {
      return undefined;
    }
  };
  const a = object(expected);
  const b = object(received);
  if (!a || !b) return [];
  const names = new Set<string>();
  const walk = (x: Record<string, unknown>, y: Record<string, unknown>) => {
    for (const key of new Set([...Object.keys(x), ...Object.keys(y)])) {
      const [u, v] = [x[key], y[key]];
      if (isObject(u) && isObject(v)) walk(u, v);
      else if (JSON.stringify(u) !== JSON.stringify(v)) names.add(key);
    }
  };
  walk(a, b);
  return [...names];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Where what `l` received first differs from what it expected; at the end, a shorter or longer stream too. */
function differenceOf(l: Live, isFinal: boolean): ReplayDifference | undefined {
  const expected = l.view("expected", isFinal);
  const received = l.view("received", isFinal);
  const at = firstDifference(expected, received);
  const line = (offset: number, bytes: Buffer) => {
    let n = 1;
    for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) n++;
    return n;
  };
  if (at >= 0)
    return {
      conn: l.conn,
      offset: at,
      line: line(at, received),
      expectedHex: hexAt(expected, at),
      actualHex: hexAt(received, at),
      jsonFields: differingJsonFields(expected, received, at),
    };
  if (received.length > expected.length && isFinal) {
    const off = expected.length;
    return {
      conn: l.conn,
      offset: off,
      line: line(off, received),
      expectedHex: "",
      actualHex: hexAt(received, off),
      jsonFields: [],
    };
  }
  if (received.length < expected.length && isFinal) {
    const off = received.length;
    return {
      conn: l.conn,
      offset: off,
      line: line(off, expected),
      expectedHex: hexAt(expected, off),
      actualHex: "",
      jsonFields: [],
    };
  }
  return undefined;
}

/**
 * Plays the client side of every connection of `session` against a server, in the recording's
 * order; with `compare`, checks every byte the server sends against the recording.
 * Throws WatchError INVALID_OPTION (bad pace or speed), TOO_LARGE (more than `maxConnections`
 * connections) or a NetworkError (cannot connect).
 * @example const r = await replay(await readSession("s.jsonl"), { port: 5001, compare: true });
 */
export async function replay(session: Session, options: ReplayOptions): Promise<ReplayResult> {
  const o = { ...REPLAY_DEFAULTS, ...options };
  checkReplayOptions(o);
  checkConnectionCount(session, o.maxConnections);
  const live = new Map<number, Live>();
  const result: ReplayResult = { connections: 0, bytesSent: 0, bytesReceived: 0, quiet: [] };
  const fields = new Set(o.ignoreJsonFields);
  const fromServer = bytesFrom(session.records, "server");
  const clock = new ReplayClock(o, 0);
  try {
    for (const r of session.records) {
      if (o.signal?.aborted) break;
      if (o.pace === "original") await clock.until(r.t);
      if (r.type === "open") {
        const socket = await connect(
          o.path ? { path: o.path } : { host: o.host, port: o.port, signal: o.signal },
        );
        live.set(r.conn, new Live(r.conn, socket, fields, fromServer.get(r.conn) ?? 0, o.redactReceived));
        result.connections++;
        continue;
      }
      const l = live.get(r.conn);
      if (!l) continue;
      if (r.type === "data" && r.from === "client") {
        result.bytesSent += l.send(r.b64);
      } else if (r.type === "data") {
        const diff = await l.expect(r.b64, o);
        if (diff) {
          result.difference = diff;
          break;
        }
        if (l.silence && !o.compare && !result.quiet.includes(l.silence)) {
          if (l.silence.receivedBytes === 0) {
            result.silence = l.silence;
            break;
          }
          result.quiet.push(l.silence);
        }
      } else if (r.type === "half_close" && r.from === "client") {
        l.socket.end();
      }
    }
    if (!result.difference && !result.silence) {
      for (const l of live.values()) {
        const diff = await l.finish(o);
        if (diff) {
          result.difference = diff;
          break;
        }
      }
    }
  } finally {
    for (const l of live.values()) {
      result.bytesReceived += l.received.length;
      l.socket.destroy();
    }
  }
  return result;
}

/** Throws TOO_LARGE when `session` opens more than `max` connections. */
function checkConnectionCount(session: Session, max: number): void {
  const opened = session.records.filter((r) => r.type === "open").length;
  if (opened > max) {
    throw new WatchError(
      "TOO_LARGE",
      `the recording opens ${opened} connections, over the ${max} a replay may`,
      {
        hint: "raise --max-connections if you mean it, or replay part of the recording",
      },
    );
  }
}

/** Throws WatchError INVALID_OPTION for a pace or speed a replay cannot use. */
export function checkReplayOptions(o: {
  pace?: string;
  speed?: number;
  maxPauseMs?: number;
  maxConnections?: number;
  waitMs?: number;
  acceptWaitMs?: number;
}): void {
  if (o.pace !== undefined && !REPLAY_PACES.includes(o.pace as ReplayPace)) {
    throw new WatchError("INVALID_OPTION", `unknown pace ${JSON.stringify(o.pace)}`, {
      hint: `choose one of: ${REPLAY_PACES.join(", ")}`,
    });
  }
  if (o.speed !== undefined && !(Number.isFinite(o.speed) && o.speed > 0)) {
    throw new WatchError("INVALID_OPTION", `speed must be a number above 0, got ${o.speed}`, {
      hint: "1 is the recording's own timing, 2 twice as fast",
    });
  }
  if (o.maxConnections !== undefined && !(Number.isSafeInteger(o.maxConnections) && o.maxConnections > 0)) {
    throw new WatchError(
      "INVALID_OPTION",
      `maxConnections must be a whole number above 0, got ${o.maxConnections}`,
    );
  }
  if (o.maxPauseMs !== undefined && !(o.maxPauseMs >= 0)) {
    throw new WatchError("INVALID_OPTION", `maxPauseMs must be 0 or more, got ${o.maxPauseMs}`);
  }
  if (o.waitMs !== undefined && !(o.waitMs > 0)) {
    throw new WatchError("INVALID_OPTION", `waitMs must be above 0, got ${o.waitMs}`);
  }
  if (o.acceptWaitMs !== undefined && !(o.acceptWaitMs > 0)) {
    throw new WatchError("INVALID_OPTION", `acceptWaitMs must be above 0, got ${o.acceptWaitMs}`);
  }
}

/** Options for {@link replayAsServer}: where to listen, and how long to wait for each client. */
export interface ReplayServerOptions extends Omit<ReplayOptions, "host" | "port" | "path"> {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port (see `onListening`). */
  port?: number;
  /** A Unix socket path instead of host and port. */
  path?: string;
  /** Longest wait for the next client to connect, in ms. Default 60 000. */
  acceptWaitMs?: number;
  /** Called once listening, with the address clients should connect to. */
  onListening?(address: string): void;
}

/** Default {@link ReplayServerOptions.acceptWaitMs}. */
export const REPLAY_ACCEPT_WAIT_MS = 60_000;

/**
 * Plays the server side of a recording to test a client: listens, and plays the recording's n-th
 * connection to the n-th client that connects (its bytes, its half-close), in lockstep by default
 * (before each send, waits until the client has sent as much as it had). With `compare`, the
 * client's bytes are checked against the recording's; the first difference ends the replay.
 * Resolves once every recorded connection was played. Throws WatchError TIMEOUT when no client
 * comes within `acceptWaitMs`.
 * @example await replayAsServer(await readSession("c.jsonl"), { port: 5001, compare: true, onListening: console.log });
 */
export async function replayAsServer(session: Session, options: ReplayServerOptions): Promise<ReplayResult> {
  const o = { ...REPLAY_DEFAULTS, acceptWaitMs: REPLAY_ACCEPT_WAIT_MS, ...options };
  checkReplayOptions(o);
  checkConnectionCount(session, o.maxConnections);
  const fields = new Set(o.ignoreJsonFields);
  const fromClient = bytesFrom(session.records, "client");
  const byConn = new Map<number, SessionRecord[]>();
  for (const r of session.records) {
    if (r.type === "open") byConn.set(r.conn, []);
    else byConn.get(r.conn)?.push(r);
  }
  const recorded = [...byConn.keys()];
  const result: ReplayResult = { connections: 0, bytesSent: 0, bytesReceived: 0, quiet: [] };
  const arrivals: net.Socket[] = [];
  let wake: (() => void) | undefined;
  const server = net.createServer((socket) => {
    if (arrivals.length >= recorded.length) {
      socket.destroy(); // more clients than recorded connections
      return;
    }
    arrivals.push(socket);
    wake?.();
  });
  // The one listen of every netlab server: a Unix path is checked and born 0600, errors have hints.
  await listenStream(server, o.path ? { path: o.path } : { host: o.host ?? "127.0.0.1", port: o.port ?? 0 });
  const address = server.address();
  o.onListening?.(
    typeof address === "string"
      ? `unix:${address}`
      : address?.family === "IPv6"
        ? `[${address.address}]:${address.port}`
        : `${address?.address}:${address?.port}`,
  );
  const live: Live[] = [];
  const onAbort = () => wake?.();
  o.signal?.addEventListener("abort", onAbort);
  try {
    const plays: Promise<ReplayDifference | undefined>[] = [];
    for (const [i, conn] of recorded.entries()) {
      const deadline = performance.now() + o.acceptWaitMs;
      while (arrivals.length <= i && !o.signal?.aborted) {
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new WatchError(
            "TIMEOUT",
            `no client connected for recorded connection ${conn} within ${o.acceptWaitMs / 1000} s`,
            { hint: "start the client against the address printed, or raise the wait" },
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
      if (o.signal?.aborted) break;
      const l = new Live(conn, arrivals[i]!, fields, fromClient.get(conn) ?? 0, o.redactReceived);
      live.push(l);
      result.connections++;
      plays.push(playServerSide(l, byConn.get(conn)!, o, result));
    }
    for (const diff of await Promise.all(plays)) {
      if (diff && !result.difference) result.difference = diff;
    }
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    for (const l of live) {
      result.bytesReceived += l.received.length;
      l.socket.destroy();
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return result;
}

/** One recorded connection's server side, played to a client; the first difference, with `compare`. */
async function playServerSide(
  l: Live,
  records: SessionRecord[],
  o: Required<Pick<ReplayOptions, "pace" | "speed" | "maxPauseMs" | "compare" | "waitMs">> & {
    signal?: AbortSignal;
  },
  result: ReplayResult,
): Promise<ReplayDifference | undefined> {
  const clock = new ReplayClock(o, records[0]?.t ?? 0);
  for (const r of records) {
    if (o.signal?.aborted || l.isClosed) break;
    if (o.pace === "original") await clock.until(r.t);
    if (r.type === "data" && r.from === "server") {
      result.bytesSent += l.send(r.b64);
    } else if (r.type === "data") {
      const diff = await l.expect(r.b64, o);
      if (diff) return diff;
      if (l.silence && !o.compare && !result.quiet.includes(l.silence)) {
        if (l.silence.receivedBytes === 0) {
          result.silence ??= l.silence;
          return undefined;
        }
        result.quiet.push(l.silence);
      }
    } else if ((r.type === "half_close" && r.from === "server") || r.type === "close") {
      if (!l.socket.destroyed) l.socket.end();
    }
  }
  return l.finish(o);
}
