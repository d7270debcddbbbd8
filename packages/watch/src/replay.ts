import type net from "node:net";
import { connect } from "@netlab/socketserver";
import { WatchError } from "./errors.js";
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
  /** Compare what the server sends with the recording; the first difference ends the replay. Default false. */
  compare?: boolean;
  /** Longest wait for the server's bytes at any step, in ms. Default 5 000. */
  waitMs?: number;
  /**
   * With `compare`: fields left out of every line that is a JSON object, at any depth, before
   * comparing (a server's clock, `ts`; ids). Lines are compared once complete. Default none.
   */
  ignoreJsonFields?: readonly string[];
  signal?: AbortSignal;
}

/** Defaults for {@link ReplayOptions}. */
export const REPLAY_DEFAULTS = {
  pace: "lockstep" as ReplayPace,
  speed: 1,
  compare: false,
  waitMs: 5_000,
  ignoreJsonFields: [] as readonly string[],
};

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
}

/** What a replay did. */
export interface ReplayResult {
  connections: number;
  bytesSent: number;
  bytesReceived: number;
  /** Set when `compare` found a difference. */
  difference?: ReplayDifference;
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

class Live {
  received = Buffer.alloc(0);
  expected = Buffer.alloc(0);
  isClosed = false;
  #wake: (() => void) | undefined;
  #views = new Map<string, { length: number; view: Buffer }>();
  constructor(
    readonly conn: number,
    readonly socket: net.Socket,
    readonly fields: ReadonlySet<string>,
  ) {
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
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
  /** Resolves once `ready()` holds, the socket closed, or `ms` passed. */
  async until(ready: () => boolean, ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (!ready() && !this.isClosed) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
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
 * Plays the client side of every connection of `session` against a server, in the recording's
 * order; with `compare`, checks every byte the server sends against the recording.
 * Throws WatchError INVALID_OPTION (bad pace or speed) or a NetworkError (cannot connect).
 * @example const r = await replay(await readSession("s.jsonl"), { port: 5001, compare: true });
 */
export async function replay(session: Session, options: ReplayOptions): Promise<ReplayResult> {
  const o = { ...REPLAY_DEFAULTS, ...options };
  checkReplayOptions(o);
  const live = new Map<number, Live>();
  const result: ReplayResult = { connections: 0, bytesSent: 0, bytesReceived: 0 };
  const fields = new Set(o.ignoreJsonFields);
  const check = (l: Live, isFinal: boolean): ReplayDifference | undefined => {
    if (!o.compare) return undefined;
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
      };
    if (received.length > expected.length && isFinal) {
      const off = expected.length;
      return {
        conn: l.conn,
        offset: off,
        line: line(off, received),
        expectedHex: "",
        actualHex: hexAt(received, off),
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
      };
    }
    return undefined;
  };
  const startedAt = performance.now();
  try {
    for (const r of session.records) {
      if (o.signal?.aborted) break;
      if (o.pace === "original") {
        const wait = startedAt + r.t / o.speed - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      if (r.type === "open") {
        const socket = await connect(
          o.path ? { path: o.path } : { host: o.host, port: o.port, signal: o.signal },
        );
        live.set(r.conn, new Live(r.conn, socket, fields));
        result.connections++;
        continue;
      }
      const l = live.get(r.conn);
      if (!l) continue;
      if (r.type === "data" && r.from === "client") {
        const bytes = Buffer.from(r.b64, "base64");
        result.bytesSent += bytes.length;
        if (!l.socket.destroyed && !l.socket.writableEnded) l.socket.write(bytes);
      } else if (r.type === "data") {
        l.expected = Buffer.concat([l.expected, Buffer.from(r.b64, "base64")]);
        if (o.pace === "lockstep") {
          const want = l.view("expected", false).length;
          const has = () => l.view("received", false).length;
          await l.until(
            () => has() >= want || firstDifference(l.view("expected", false), l.view("received", false)) >= 0,
            o.waitMs,
          );
          const diff = check(l, false) ?? (has() < want && o.compare ? check(l, true) : undefined);
          if (diff) {
            result.difference = diff;
            break;
          }
        }
      } else if (r.type === "half_close" && r.from === "client") {
        l.socket.end();
      }
    }
    if (!result.difference) {
      for (const l of live.values()) {
        const want = l.view("expected", true).length;
        await l.until(() => l.view("received", true).length >= want, o.waitMs);
        const diff = check(l, true);
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

/** Throws WatchError INVALID_OPTION for a pace or speed a replay cannot use. */
export function checkReplayOptions(o: { pace?: string; speed?: number; waitMs?: number }): void {
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
  if (o.waitMs !== undefined && !(o.waitMs > 0)) {
    throw new WatchError("INVALID_OPTION", `waitMs must be above 0, got ${o.waitMs}`);
  }
}
