import diagnostics from "node:diagnostics_channel";
import { safeJson } from "@netlab/core";
import { redactSecrets, SecretRedactor } from "@netlab/protocol";
import {
  type WireConnection,
  type WireDataEvent,
  type WireEvent,
  type WireLifecycleEvent,
  wireChannel,
  wireDataChannel,
} from "@netlab/socketserver";
import { cannotWrite, WatchError } from "./errors.js";
import { clockTime, formatEndpoint, hexLines } from "./hexdump.js";
import {
  EVENTS_VERSION,
  type EventLine,
  SESSION_VERSION,
  type SessionHeader,
  type SessionRecord,
} from "./schema.js";
import { LineSink, type LineSinkOptions, SINK_MAX_QUEUED_ITEMS } from "./sink.js";

/**
 * What to watch, and where each goes: a file (`path`), a stream of its own (`stream`, such as
 * process.stdout for `--events -`), or else {@link WatchOptions.stream} (stderr).
 */
export interface WatchOptions {
  /** `--hexdump[=FILE]`: every chunk in and out, xxd style. */
  hexdump?: WatchOutput;
  /** `--events[=FILE]`: one JSON object per line. */
  events?: WatchOutput & { bodies?: boolean };
  /** `--record FILE`: a session recording (JSONL, base64); a path or a stream is required. */
  record?: WatchOutput & { command?: string };
  /**
   * Mask the chat's secrets (auth and reclaim tokens) in what --hexdump and --record write, one `*`
   * a byte so lengths and offsets stay (see `SecretRedactor`). Default true; false (`--no-redact`)
   * writes the bytes as they were, to debug one's own auth.
   */
  redact?: boolean;
  /** Lines held per output while its writer is behind; past it the oldest are dropped (counted). Default 10 000. */
  maxQueuedLines?: number;
  /** Where outputs without a file go. Default process.stderr. */
  stream?: NodeJS.WritableStream;
  /**
   * Called once per output whose writes fail while watching (a full disk, a FIFO's reader gone),
   * with a FILE_ERROR that says why; that output stops, the others and the sockets go on, and
   * stop() no longer rejects with it. Without it, stop() rejects with the first such error.
   */
  onError?: (output: "hexdump" | "events" | "record", error: WatchError) => void;
  /**
   * Create (truncate) each file when its first line is written rather than in startWatch, whose
   * caller may yet fail its own checks: the paths are still checked here (a missing folder, a
   * folder, no permission throw as before), and a FIFO is opened here. See {@link Watch.stop}.
   * Default false.
   */
  isFileOpenedOnFirstLine?: boolean;
}

/** Where one output goes: a file created (or truncated) at `path`, else `stream`; never both. */
export interface WatchOutput {
  path?: string;
  stream?: NodeJS.WritableStream;
}

/** What {@link startWatch} returns: stop it to flush and close every output. */
export interface Watch {
  /**
   * Unsubscribes, writes what is queued, closes files. Returns how many lines each output dropped.
   * With {@link WatchOptions.isFileOpenedOnFirstLine}, a file no line was written to is created
   * (empty) only if `isCreatedIfUnwritten` (default true); false, for a command that failed before
   * it did anything, leaves the path as it was.
   */
  stop(options?: {
    isCreatedIfUnwritten?: boolean;
  }): Promise<{ hexdump: number; events: number; record: number }>;
}

type Attrs = Record<string, string | number | boolean>;

/** The `seq` of an events line this module wrote (`…,"seq":N,…`). */
function seqOf(line: string): number {
  const at = line.indexOf(',"seq":') + 7;
  return Number(line.slice(at, line.indexOf(",", at)));
}

function endpointAttrs(
  prefix: "network.peer" | "network.local" | "server",
  a: WireConnection["peer"],
  into: Attrs,
) {
  if (!a) return;
  into[`${prefix}.address`] = a.address;
  if (a.family !== "unix") into[`${prefix}.port`] = a.port;
}

/**
 * Subscribes to the tap (`netlab:wire`) and the chat and transfer channels, and writes what
 * `options` ask for. Every output has its own bounded queue: a slow file never slows the sockets.
 * Throws WatchError FILE_ERROR before subscribing if a file cannot be created.
 * @example const watch = await startWatch({ events: { path: "events.jsonl" } }); … await watch.stop();
 */
export async function startWatch(options: WatchOptions): Promise<Watch> {
  const stream = options.stream ?? process.stderr;
  const max = options.maxQueuedLines ?? SINK_MAX_QUEUED_ITEMS;
  const subscriptions: Array<() => void> = [];
  const sinks: Array<LineSink<unknown> | undefined> = [];
  try {
    // Unmasked bytes hold live tokens: such files are for their owner only, as a token file is.
    const fileMode = options.redact === false ? 0o600 : undefined;
    const isOpenedOnFirstLine = options.isFileOpenedOnFirstLine === true;
    for (const [name, output] of Object.entries({ hexdump: options.hexdump, events: options.events })) {
      if (output?.path !== undefined && output.stream !== undefined) throw bothTargets(name);
    }
    if (options.record && (options.record.path === undefined) === (options.record.stream === undefined)) {
      throw bothTargets("record");
    }
    const failed = (output: "hexdump" | "events" | "record", path: string | undefined) => {
      const onError = options.onError;
      if (onError === undefined) return undefined;
      return (err: Error) => onError(output, cannotWrite(path ?? "its stream", err));
    };
    const hex = options.hexdump
      ? await openHexdump(options.hexdump.path, max, options.hexdump.stream ?? stream, {
          fileMode,
          isOpenedOnFirstLine,
          failed: failed("hexdump", options.hexdump.path),
        })
      : undefined;
    const events = options.events
      ? await openEvents(options.events, max, options.events.stream ?? stream, {
          isOpenedOnFirstLine,
          failed: failed("events", options.events.path),
        })
      : undefined;
    const record = options.record
      ? await openRecord(options.record, max, {
          fileMode,
          isOpenedOnFirstLine,
          failed: failed("record", options.record.path),
        })
      : undefined;
    sinks.push(hex?.sink, events?.sink, record?.sink);
    const watch = (channel: diagnostics.Channel, handler: (message: unknown) => void) => {
      channel.subscribe(handler);
      subscriptions.push(() => channel.unsubscribe(handler));
    };
    // Each output subscribes to what it writes: --events alone leaves the data channel without
    // subscribers, so chunks cost nothing.
    for (const output of [hex, events, record]) {
      if (output) watch(wireChannel, output.onWire as (message: unknown) => void);
    }
    const chunkOutputs = [hex, record].filter((o) => o !== undefined);
    if (chunkOutputs.length > 0) {
      // One redaction for every output, before any of them sees the bytes.
      const redact = options.redact === false ? (e: WireDataEvent) => e : redactor();
      watch(wireDataChannel, (message) => {
        const e = redact(message as WireDataEvent);
        for (const output of chunkOutputs) output.onWire(e);
      });
    }
    if (events) {
      watch(diagnostics.channel("netlab:chat"), events.onChat);
      watch(diagnostics.channel("netlab:transfer"), events.onTransfer);
    }
    return {
      async stop(stopOptions) {
        for (const unsubscribe of subscriptions.splice(0)) unsubscribe();
        await Promise.all(sinks.map((s) => s?.close(stopOptions)));
        return {
          hexdump: hex?.sink.droppedTotal ?? 0,
          events: events?.sink.droppedTotal ?? 0,
          record: record?.sink.droppedTotal ?? 0,
        };
      },
    };
  } catch (err) {
    for (const unsubscribe of subscriptions) unsubscribe();
    // Nothing was watched yet: files not created yet stay so.
    await Promise.all(sinks.map((s) => s?.close({ isCreatedIfUnwritten: false }).catch(() => {})));
    throw err;
  }
}

/**
 * Data events with the chat's secrets masked: one redactor per connection and direction, so a
 * secret split across reads is masked all the same; a datagram is a stream of its own.
 */
function redactor(): (e: WireDataEvent) => WireDataEvent {
  const streams = new WeakMap<WireConnection, { in: SecretRedactor; out: SecretRedactor }>();
  return (e) => {
    let bytes: Uint8Array;
    if (e.conn.transport === "udp") bytes = redactSecrets(e.bytes);
    else {
      let pair = streams.get(e.conn);
      if (!pair) {
        pair = { in: new SecretRedactor(), out: new SecretRedactor() };
        streams.set(e.conn, pair);
      }
      bytes = pair[e.direction].push(e.bytes);
    }
    return bytes === e.bytes ? e : { ...e, bytes };
  };
}

/** The file options every output's sink takes. */
type FileOptions = Pick<LineSinkOptions<unknown>, "fileMode" | "isOpenedOnFirstLine" | "failed">;

async function openHexdump(
  path: string | undefined,
  max: number,
  stream: NodeJS.WritableStream,
  file: FileOptions,
) {
  const sink = await LineSink.open<WireEvent>(
    path,
    {
      ...file,
      maxQueuedItems: max,
      format: formatHexEvent,
      dropped: (n) => `-- ${n} chunk${n === 1 ? "" : "s"} dropped (the output could not keep up)`,
    },
    stream,
  );
  return { sink, onWire: (e: WireEvent) => sink.push(e) };
}

/** One tap event as hexdump text: a header line, then the bytes (data events). */
export function formatHexEvent(e: WireEvent): string {
  const at = clockTime(e.time);
  switch (e.type) {
    case "listen":
      return `${at} listening ${e.transport} ${formatEndpoint(e.local)}`;
    case "open":
      return `${at} #${e.conn.id} open ${e.conn.transport} ${e.conn.side} ${formatEndpoint(e.conn.local)} <-> ${formatEndpoint(e.conn.peer)}`;
    case "half-close":
      return `${at} #${e.conn.id} ${e.direction === "in" ? "peer sent FIN" : "sent FIN"}`;
    case "close":
      return `${at} #${e.conn.id} close ${e.reason}${e.error ? ` (${e.error})` : ""}: ${e.conn.bytesIn} B in, ${e.conn.bytesOut} B out`;
    case "data": {
      const arrow = e.direction === "in" ? "<" : ">";
      const peer = formatEndpoint(e.peer ?? e.conn.peer);
      const head = `${at} #${e.conn.id} ${arrow} ${e.direction === "in" ? "from" : "to"} ${peer} ${e.bytes.length} B`;
      return [head, ...hexLines(e.bytes, e.offset)].join("\n");
    }
  }
}

async function openEvents(
  o: { path?: string; bodies?: boolean },
  max: number,
  stream: NodeJS.WritableStream,
  file: Omit<FileOptions, "fileMode">,
) {
  let seq = 0;
  // Lines are formatted when the event happens: the ring holds one string each, not the objects
  // they came from, which would live until written (and cost the collector more than the line).
  const sink = await LineSink.open<string>(
    o.path,
    {
      ...file,
      maxQueuedItems: max,
      format: (line) => line,
      // The dropped events held seqs just below the next one written: this line takes the last of them.
      dropped: (count, next) => {
        const s = next === undefined ? seq : seqOf(next) - 1;
        return `{"v":${EVENTS_VERSION},"ts":${Date.now()},"seq":${s},"event":"events.dropped","attrs":{"netlab.events.dropped":${count}}}`;
      },
    },
    stream,
  );
  // Event names are plain ASCII and numbers print the same in JSON: only attrs need escaping, and
  // safeJson also escapes the C1 and bidi controls a chat body may carry (stderr is a terminal).
  const emit = (event: EventLine["event"], attrs: Attrs, ts = Date.now()) => {
    sink.push(
      `{"v":${EVENTS_VERSION},"ts":${Math.round(ts * 1000) / 1000},"seq":${++seq},"event":"${event}","attrs":${safeJson(JSON.stringify(attrs))}}`,
    );
  };
  const conn = (c: WireConnection): Attrs => ({
    "netlab.connection.id": c.id,
    "netlab.side": c.side,
    "network.transport": c.transport,
  });
  const onWire = (e: WireLifecycleEvent) => {
    switch (e.type) {
      case "listen": {
        const attrs: Attrs = { "network.transport": e.transport };
        endpointAttrs("server", e.local, attrs);
        emit("server.listen", attrs, e.time);
        return;
      }
      case "open": {
        const attrs = conn(e.conn);
        endpointAttrs("network.peer", e.conn.peer, attrs);
        endpointAttrs("network.local", e.conn.local, attrs);
        emit("connection.open", attrs, e.time);
        return;
      }
      case "half-close":
        emit(
          "connection.half_close",
          { ...conn(e.conn), "network.io.direction": e.direction === "in" ? "receive" : "transmit" },
          e.time,
        );
        return;
      case "close": {
        const attrs: Attrs = {
          ...conn(e.conn),
          "netlab.close.reason": e.reason,
          "netlab.bytes_in": e.conn.bytesIn,
          "netlab.bytes_out": e.conn.bytesOut,
          "netlab.duration_ms": Math.round((e.time - e.conn.openedAt) * 1000) / 1000,
        };
        if (e.error) attrs["error.message"] = e.error;
        emit("connection.close", attrs, e.time);
        return;
      }
    }
  };
  const onChat = (message: unknown) => {
    const m = message as { type: string; [k: string]: unknown };
    switch (m.type) {
      case "join":
        emit("chat.join", { "netlab.chat.room": String(m.room), "netlab.chat.nick": String(m.nick) });
        return;
      case "leave":
        emit("chat.leave", {
          "netlab.chat.room": String(m.room),
          "netlab.chat.nick": String(m.nick),
          "netlab.chat.reason": String(m.reason),
        });
        return;
      case "nick":
        emit("chat.nick", { "netlab.chat.nick.from": String(m.from), "netlab.chat.nick.to": String(m.to) });
        return;
      case "message": {
        const text = String(m.text);
        const attrs: Attrs = {
          "netlab.chat.room": String(m.room),
          "netlab.chat.nick": String(m.from),
          "netlab.chat.action": Boolean(m.action),
          "netlab.chat.message.bytes": Buffer.byteLength(text),
        };
        if (o.bodies) attrs["netlab.chat.message.body"] = text;
        emit("chat.message", attrs);
        return;
      }
    }
  };
  const onTransfer = (message: unknown) => {
    const m = message as { type: string; [k: string]: unknown };
    const attrs: Attrs = {};
    for (const [k, v] of Object.entries(m)) {
      if (k === "type" || v === undefined) continue;
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        attrs[`netlab.transfer.${snake(k)}`] = v;
    }
    if (m.type === "start" || m.type === "progress" || m.type === "done" || m.type === "error") {
      emit(`transfer.${m.type}`, attrs);
    }
  };
  return { sink, onWire, onChat, onTransfer };
}

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

type RecordItem = SessionHeader | SessionRecord;

async function openRecord(o: WatchOutput & { command?: string }, max: number, file: FileOptions) {
  const started = Date.now();
  const sink = await LineSink.open<RecordItem>(
    o.path,
    {
      ...file,
      // A recording is worth more than a live view: a larger ring (still bounded).
      maxQueuedItems: Math.max(max, 100_000),
      format: (r) => JSON.stringify(r),
    },
    o.stream,
  );
  let side: "client" | "server" | undefined;
  const header = (s: "client" | "server") => {
    if (side) return;
    side = s;
    const h: SessionHeader = { netlab: "session", v: SESSION_VERSION, ts: started, side: s };
    if (o.command) h.command = o.command;
    sink.push(h);
  };
  const t = (time: number) => Math.round((time - started) * 1000) / 1000;
  const who = (c: WireConnection, direction: "in" | "out"): "client" | "server" =>
    (c.side === "server") === (direction === "in") ? "client" : "server";
  const onWire = (e: WireEvent) => {
    if (e.type === "listen") {
      header("server");
      return;
    }
    if (e.conn.transport === "udp") return;
    header(e.conn.side);
    switch (e.type) {
      case "open": {
        const c = e.conn;
        const isServer = c.side === "server";
        const client = formatEndpoint(isServer ? c.peer : c.local);
        const server = formatEndpoint(isServer ? c.local : c.peer);
        sink.push({ type: "open", t: t(e.time), conn: c.id, transport: c.transport, client, server });
        return;
      }
      case "data":
        sink.push({
          type: "data",
          t: t(e.time),
          conn: e.conn.id,
          from: who(e.conn, e.direction),
          b64: Buffer.from(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength).toString("base64"),
        });
        return;
      case "half-close":
        sink.push({ type: "half_close", t: t(e.time), conn: e.conn.id, from: who(e.conn, e.direction) });
        return;
      case "close":
        sink.push({ type: "close", t: t(e.time), conn: e.conn.id, reason: e.reason });
        return;
    }
  };
  return { sink, onWire };
}

function bothTargets(output: string): WatchError {
  return new WatchError(
    "INVALID_OPTION",
    output === "record"
      ? "record needs one of path and stream"
      : `${output} takes a path or a stream, not both`,
  );
}
