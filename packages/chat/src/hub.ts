import { EventEmitter } from "node:events";
import { formatIssues, NetlabError, type ProtocolError } from "@netlab/protocol";
import { ChatError, type ChatErrorCode } from "./errors.js";
import { FloodControl } from "./flood.js";
import { History } from "./history.js";
import { lookalikeKey, NickRegistry, quoteShort } from "./nicks.js";
import {
  type Command,
  checkRoom,
  DEFAULT_ROOM,
  HELP_LINES,
  PROTOCOL_TAG,
  PROTOCOL_VERSION,
  parseInput,
} from "./rules.js";
import { type ChatEvent, type ChatEventOf, type ClientMessage, clientMessageSchema } from "./schema.js";
import { textLine } from "./text-mode.js";

/**
 * The transport under one chat session: a socket's writer (`wfile.send()` in `@netlab/socketserver`),
 * or anything that can take bytes under a cap.
 */
export interface Link {
  /**
   * Queues bytes; never waits. The link holds its queue under `maxQueuedBytes`: false means these
   * bytes would pass it (the peer stopped reading), nothing was queued and the link cut the
   * connection. A link that cuts later (when its batch leaves) calls `ChatHub.slowConsumer`.
   */
  send(data: Uint8Array): boolean;
  /** Every byte queued for the peer that it has not taken (a batch, and what the kernel refused). */
  readonly bufferedBytes: number;
  /** The cap `send` holds the queue under; the hub sets it to `maxQueueBytes` on attach. */
  maxQueuedBytes: number;
  /** Flushes what is queued, then closes. */
  end(): void;
  /** Closes at once, dropping anything queued. */
  destroy(): void;
  readonly address: string;
  readonly port: number;
  /** Bytes received so far; the idle sweep counts any new ones, a part of a line too, as activity. */
  readonly bytesIn: number;
}

/** Limits and tunables of a chat hub; every one has a default. */
export interface HubOptions {
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
}

/** Defaults for {@link HubOptions}. */
export const HUB_DEFAULTS: Readonly<HubOptions> = {
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
};

/** A snapshot of one connected client, for logs and the TUI. */
export interface PeerSnapshot {
  id: number;
  nick: string;
  room: string;
  address: string;
  port: number;
  mode: "text" | "json";
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  /** ms since epoch */
  connectedAt: number;
}

/** One connected client. Created by {@link ChatHub.attach}. */
export class Session {
  readonly id: number;
  readonly link: Link;
  readonly connectedAt = Date.now();
  nick: string;
  room = "";
  mode: "text" | "json" = "text";
  isJoined = false;
  linesIn = 0;
  messagesIn = 0;
  bytesOut = 0;
  /** The output queue as last counted towards the hub's total (see `ChatHub.checkQueuedTotal`). */
  queuedBytes = 0;
  lastActiveAt = Date.now();
  /** `link.bytesIn` at the last idle sweep: a part of a line counts as activity too. */
  bytesInAtSweep = 0;
  /** Why the hub closed this session, when it did. */
  closeReason: string | undefined;
  isClosed = false;
  readonly #options: HubOptions;
  // Made on the first line: an idle client (most of them, at 5 000) never needs them.
  #flood: FloodControl | undefined;
  #badLines: FloodControl | undefined;

  constructor(id: number, link: Link, o: HubOptions) {
    this.id = id;
    this.link = link;
    this.nick = `guest-${id}`;
    this.#options = o;
  }

  /** The message rate limit (`floodMessages` per `floodWindowMs`). */
  get flood(): FloodControl {
    const o = this.#options;
    this.#flood ??= new FloodControl({ floodMessages: o.floodMessages, floodWindowMs: o.floodWindowMs });
    return this.#flood;
  }

  /** Bad lines: disconnects at 2 × maxBadLines/2 = maxBadLines in 10 s. */
  get badLines(): FloodControl {
    this.#badLines ??= new FloodControl({
      floodMessages: Math.max(1, this.#options.maxBadLines / 2),
      floodWindowMs: 10_000,
    });
    return this.#badLines;
  }
}

interface Room {
  name: string;
  members: Set<Session>;
  /** Messages as replayed (`history: true`), encoded once for every joiner to share. */
  history: History<Encoded>;
}

/** An event encoded once for each mode, so a broadcast to many costs one serialisation. */
class Encoded {
  #text: Buffer | undefined;
  #json: Buffer | undefined;
  constructor(readonly event: ChatEvent) {}
  for(mode: "text" | "json"): Buffer {
    if (mode === "json") {
      this.#json ??= Buffer.from(`${JSON.stringify(this.event)}\n`, "utf8");
      return this.#json;
    }
    this.#text ??= textLine(this.event);
    return this.#text;
  }
}

/**
 * The chat itself, independent of sockets: sessions, nicks, rooms, history, flood control and
 * slow-consumer cut-off. `ChatServer` feeds it lines from `@netlab/socketserver` handlers.
 *
 * Events: "connect"(PeerSnapshot), "disconnect"(PeerSnapshot, reason), "message"({room, from, text}),
 * "join"({room, nick}), "leave"({room, nick, reason}), "nick"({from, to}). A payload is only built
 * while someone listens: at thousands of clients, a snapshot per connect adds up.
 */
export class ChatHub extends EventEmitter {
  readonly options: HubOptions;
  readonly #sessions = new Set<Session>();
  readonly #nicks: NickRegistry<Session>;
  readonly #rooms = new Map<string, Room>();
  /** Each room's name by its look-alike key: `/join #LOBBY` or `#lоbby` (Cyrillic о) is #lobby. */
  readonly #roomsByLook = new Map<string, string>();
  #nextId = 1;
  #nextMessageId = 1;
  #messagesTotal = 0;
  #bytesOutClosed = 0;
  #bytesInClosed = 0;
  /** Σ session.queuedBytes: every client's output queue as last counted (exact after #recount). */
  #queuedTotal = 0;
  /** A checkQueuedTotal is scheduled for when this turn's batches have left. */
  #totalCheck: NodeJS.Immediate | undefined;
  #idleSweep: NodeJS.Timeout | undefined;
  #isShuttingDown = false;
  /**
   * Sessions in their hello grace, oldest first, with when it ends (performance.now() ms) and how
   * many late-timer extensions are left. Every grace is equally long, so the ends ascend and one
   * timer serves them all: a connection costs three array slots here, not a Timeout and a closure.
   */
  #graceSessions: Session[] = [];
  #graceEndsAt: number[] = [];
  #graceExtensions: number[] = [];
  #graceHead = 0;
  #graceTimer: NodeJS.Timeout | undefined;

  constructor(opts: Partial<HubOptions> = {}) {
    super();
    this.options = { ...HUB_DEFAULTS, ...opts };
    for (const name of ["maxQueueBytes", "maxQueuedBytesTotal"] as const) {
      const value = this.options[name];
      if (!(value >= 1)) throw new RangeError(`${name} must be a number of bytes ≥ 1, got ${value}`);
    }
    this.#nicks = new NickRegistry([this.options.serverName]);
    const idle = this.options.idleTimeoutMs;
    if (Number.isFinite(idle) && idle > 0) {
      // One sweep for all sessions: cheaper than a timer per connection at 5 000 idle clients.
      const every = Math.max(50, Math.min(5_000, Math.floor(idle / 4)));
      this.#idleSweep = setInterval(() => this.#sweepIdle(), every);
      this.#idleSweep.unref();
    }
  }

  /** Clients connected now. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * A new connection: refused with one SERVER_FULL line when full (returns undefined), else sent
   * the welcome banner and given `helloGraceMs` to upgrade to JSON before joining `#lobby`.
   */
  attach(link: Link): Session | undefined {
    if (this.#isShuttingDown || this.#sessions.size >= this.options.maxClients) {
      const why = this.#isShuttingDown
        ? "the server is shutting down"
        : `server full: ${this.options.maxClients} clients connected; try again later`;
      link.send(Buffer.from(`! ${why} [SERVER_FULL]\n`));
      link.end();
      return undefined;
    }
    link.maxQueuedBytes = this.options.maxQueueBytes;
    const session = new Session(this.#nextId++, link, this.options);
    this.#sessions.add(session);
    session.nick = this.#nicks.guest(session, session.id);
    // A new client is in text mode: its banner is one line of text (formatEvent's), no event.
    this.#sendRaw(session, line(`* ${this.#welcomeText(session)}`));
    this.#armGrace(session, MAX_GRACE_EXTENSIONS);
    if (this.listenerCount("connect") > 0) this.emit("connect", this.snapshot(session));
    return session;
  }

  /**
   * Joins `s` as a text client when `helloGraceMs` pass without a first line (any line joins it
   * sooner, and `#endGraces` then skips it). A timer that fires late means this process was busy
   * (a UI loading, a loaded machine): a hello that arrived in time may still be unread, since
   * timers run before socket reads in a turn. Such a client gets the grace again, up to
   * `extensions` times, rather than joining as a guest and being renamed.
   */
  #armGrace(s: Session, extensions: number): void {
    const graceMs = this.options.helloGraceMs;
    this.#graceSessions.push(s);
    this.#graceEndsAt.push(performance.now() + graceMs);
    this.#graceExtensions.push(extensions);
    this.#graceTimer ??= setTimeout(this.#endGraces, graceMs);
  }

  /** The grace timer: ends every grace that is due, then waits for the next one. */
  readonly #endGraces = (): void => {
    const graceMs = this.options.helloGraceMs;
    const sessions = this.#graceSessions;
    while (this.#graceHead < sessions.length) {
      const i = this.#graceHead;
      // Read per session, as its own timer would: joining the ones before it takes time too.
      // The timer may fire up to a ms early by this clock (libuv's is whole ms).
      const lateMs = performance.now() - this.#graceEndsAt[i]!;
      if (lateMs < -1) break;
      this.#graceHead++;
      const s = sessions[i]!;
      if (s.isClosed || s.isJoined) continue;
      const extensions = this.#graceExtensions[i]!;
      if (extensions > 0 && lateMs > Math.max(LATE_TIMER_MS, graceMs / 2)) this.#armGrace(s, extensions - 1);
      else this.#join(s, DEFAULT_ROOM);
    }
    // #armGrace may have set a timer for a grace re-armed above; the head's end comes first.
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#compactGraces();
    if (this.#graceHead < this.#graceSessions.length) {
      const waitMs = this.#graceEndsAt[this.#graceHead]! - performance.now();
      this.#graceTimer = setTimeout(this.#endGraces, Math.max(1, Math.ceil(waitMs)));
    }
  };

  /** Drops the ended graces: all of them when none is left, else once they are half the queue. */
  #compactGraces(): void {
    const head = this.#graceHead;
    if (head === 0) return;
    if (head === this.#graceSessions.length) {
      this.#graceSessions = [];
      this.#graceEndsAt = [];
      this.#graceExtensions = [];
    } else if (head >= 1024 && head * 2 >= this.#graceSessions.length) {
      this.#graceSessions = this.#graceSessions.slice(head);
      this.#graceEndsAt = this.#graceEndsAt.slice(head);
      this.#graceExtensions = this.#graceExtensions.slice(head);
    } else {
      return;
    }
    this.#graceHead = 0;
  }

  /** One line from the client, already framed and decoded. */
  receive(session: Session, line: string): void {
    if (session.isClosed) return;
    session.lastActiveAt = Date.now();
    const isFirst = session.linesIn === 0;
    session.linesIn++;
    if (isFirst && line.startsWith("{")) {
      const hello = parseHello(line);
      if (hello) {
        this.#hello(session, hello);
        return;
      }
    }
    if (!session.isJoined) this.#join(session, DEFAULT_ROOM);
    const verdict = session.flood.check(Date.now());
    if (verdict === "disconnect") {
      this.kick(session, "FLOOD", "flooding: too many messages, disconnected");
      return;
    }
    if (verdict === "warn") {
      this.#notice(
        session,
        "warning",
        `slow down: more than ${this.options.floodMessages} messages in ${this.options.floodWindowMs / 1000} s; messages are dropped, and keeping on disconnects you`,
      );
    }
    if (verdict !== "ok") return;
    let command: Command | undefined;
    try {
      command = session.mode === "json" ? parseJsonCommand(line) : parseInput(line);
    } catch (err) {
      this.#error(session, err);
      this.#badLine(session);
      return;
    }
    if (command === undefined) return;
    try {
      this.#run(session, command);
    } catch (err) {
      this.#error(session, err);
    }
  }

  /** A line the decoder rejected (too long, not UTF-8): an error line, and a disconnect for repeated abuse. */
  protocolError(session: Session, err: ProtocolError): void {
    if (session.isClosed) return;
    session.lastActiveAt = Date.now();
    session.linesIn++;
    if (!session.isJoined) this.#join(session, DEFAULT_ROOM);
    this.#error(session, err);
    this.#badLine(session);
  }

  /** The connection is gone: leave the room, free the nick, tell the room. */
  detach(session: Session, reason = "connection closed"): void {
    if (!this.#sessions.has(session)) return;
    session.isClosed = true;
    this.#sessions.delete(session);
    this.#nicks.release(session, session.nick);
    const why = session.closeReason ?? reason;
    if (session.isJoined) this.#leave(session, why);
    this.#uncount(session);
    this.#bytesOutClosed += session.bytesOut;
    this.#bytesInClosed += session.link.bytesIn;
    if (this.listenerCount("disconnect") > 0) this.emit("disconnect", this.snapshot(session), why);
  }

  /** Tells the client why, then closes it. */
  kick(session: Session, code: ChatErrorCode, message: string): void {
    if (session.isClosed) return;
    session.closeReason = message;
    this.#send(session, { type: "error", code, message });
    session.isClosed = true;
    session.link.end();
  }

  /** The operator console: `<server> text` to everyone. */
  broadcast(text: string): void {
    const e = new Encoded({ type: "notice", kind: "operator", text, ts: Date.now() });
    for (const s of this.#sessions) this.#send(s, e);
  }

  /** Sends everyone a shutdown notice and closes every connection after flushing it. */
  shutdown(text = "the server is shutting down"): void {
    this.#isShuttingDown = true;
    clearInterval(this.#idleSweep);
    const e = new Encoded({ type: "notice", kind: "shutdown", text, ts: Date.now() });
    for (const s of [...this.#sessions]) {
      this.#send(s, e);
      s.closeReason = "server shutdown";
      s.isClosed = true;
      s.link.end();
    }
  }

  peers(): PeerSnapshot[] {
    return [...this.#sessions].map((s) => this.snapshot(s));
  }

  /** The rooms and how many clients each holds (joined ones), by name: what `/rooms` lists. */
  rooms(): { name: string; clients: number }[] {
    return [...this.#rooms.values()]
      .map((r) => ({ name: r.name, clients: r.members.size }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  stats(): { clients: number; messagesTotal: number; bytesIn: number; bytesOut: number } {
    let bytesIn = this.#bytesInClosed;
    let bytesOut = this.#bytesOutClosed;
    for (const s of this.#sessions) {
      bytesIn += s.link.bytesIn;
      bytesOut += s.bytesOut;
    }
    return { clients: this.#sessions.size, messagesTotal: this.#messagesTotal, bytesIn, bytesOut };
  }

  snapshot(s: Session): PeerSnapshot {
    return {
      id: s.id,
      nick: s.nick,
      room: s.room,
      address: s.link.address,
      port: s.link.port,
      mode: s.mode,
      bytesIn: s.link.bytesIn,
      bytesOut: s.bytesOut,
      messagesIn: s.messagesIn,
      connectedAt: s.connectedAt,
    };
  }

  #welcome(s: Session): ChatEvent {
    const { floodMessages, floodWindowMs } = this.options;
    return {
      ...(Number.isFinite(floodMessages) ? { limits: { floodMessages, floodWindowMs } } : {}),
      type: "welcome",
      proto: PROTOCOL_VERSION,
      server: this.options.serverName,
      nick: s.nick,
      room: s.room || DEFAULT_ROOM,
      text: this.#welcomeText(s),
    };
  }

  #welcomeText(s: Session): string {
    return `${PROTOCOL_TAG} — welcome to ${this.options.serverName}, you are ${s.nick}. /help for commands`;
  }

  #hello(s: Session, hello: Extract<ClientMessage, { type: "hello" }>): void {
    if (hello.proto !== PROTOCOL_VERSION) {
      if (!s.isJoined) this.#join(s, DEFAULT_ROOM);
      this.#send(s, {
        type: "error",
        code: "UNSUPPORTED_PROTOCOL",
        message: `protocol ${hello.proto} is not supported; this server speaks ${PROTOCOL_VERSION}; staying in text mode`,
      });
      return;
    }
    s.mode = "json";
    let nickError: unknown;
    if (hello.nick !== undefined && hello.nick !== s.nick) {
      try {
        // Joined already (the hello came after the grace): the room saw the guest join, so it
        // sees the rename; the client itself only ever knew its own nick, so it gets a join.
        if (s.isJoined) this.#rename(s, hello.nick, { tellSelf: false });
        else this.#takeNick(s, hello.nick);
      } catch (err) {
        nickError = err;
      }
    }
    this.#send(s, this.#welcome(s));
    if (nickError) this.#error(s, nickError);
    if (!s.isJoined) {
      this.#join(s, DEFAULT_ROOM);
      return;
    }
    this.#replayHistory(s, this.#rooms.get(s.room));
    this.#send(s, { type: "join", room: s.room, nick: s.nick, ts: Date.now() });
  }

  #run(s: Session, c: Command): void {
    switch (c.type) {
      case "message":
      case "me":
        this.#say(s, c.text, c.type === "me");
        return;
      case "nick":
        this.#rename(s, c.nick);
        return;
      case "join": {
        const wanted = checkRoom(c.room);
        const room = this.#rooms.has(wanted)
          ? wanted
          : (this.#roomsByLook.get(lookalikeKey(wanted)) ?? wanted);
        if (room === s.room) this.#send(s, this.#who(room));
        else this.#join(s, room);
        return;
      }
      case "who":
        this.#send(s, this.#who(s.room));
        return;
      case "rooms":
        this.#send(s, { type: "rooms", rooms: this.rooms() });
        return;
      case "private": {
        const to = this.#nicks.get(c.to);
        if (!to || to.isClosed) {
          throw new ChatError("NO_SUCH_NICK", `no one called ${quoteShort(c.to)} is here`, {
            hint: "/who lists your room",
          });
        }
        s.messagesIn++;
        const e = new Encoded({ type: "private", from: s.nick, to: to.nick, text: c.text, ts: Date.now() });
        this.#send(to, e);
        if (to !== s) this.#sendRaw(s, s.mode === "json" ? e.for("json") : textLine(e.event, s.nick));
        return;
      }
      case "help":
        this.#notice(s, "info", HELP_LINES.join("\n"));
        return;
      case "quit":
        s.closeReason = "quit";
        this.#notice(s, "info", "bye");
        s.isClosed = true;
        s.link.end();
        return;
      case "ping":
        this.#send(s, c.id === undefined ? { type: "pong" } : { type: "pong", id: c.id });
        return;
    }
  }

  #say(s: Session, text: string, isAction: boolean): void {
    const room = this.#rooms.get(s.room);
    if (!room) return;
    s.messagesIn++;
    this.#messagesTotal++;
    const event: ChatEventOf<"message"> = {
      type: "message",
      id: this.#nextMessageId++,
      room: room.name,
      from: s.nick,
      text,
      ts: Date.now(),
    };
    if (isAction) event.action = true;
    room.history.push(new Encoded({ ...event, history: true }));
    const e = new Encoded(event);
    for (const member of room.members) {
      // Text clients know what they typed; JSON clients get their message back with its id.
      if (member !== s || member.mode === "json") this.#send(member, e);
    }
    if (this.listenerCount("message") > 0)
      this.emit("message", { room: room.name, from: s.nick, text, action: isAction });
  }

  /** Unique by NFKC + case folding and by look-alike skeleton; reserved names refused (nicks.ts). */
  #takeNick(s: Session, wanted: string): void {
    this.#nicks.claim(s, wanted, s.nick);
    s.nick = wanted;
  }

  #rename(s: Session, wanted: string, { tellSelf = true } = {}): void {
    const from = s.nick;
    if (wanted === from) return;
    this.#takeNick(s, wanted);
    const e = new Encoded({ type: "nick", from, to: wanted, ts: Date.now() });
    const room = this.#rooms.get(s.room);
    for (const member of room?.members ?? [s]) if (tellSelf || member !== s) this.#send(member, e);
    if (this.listenerCount("nick") > 0) this.emit("nick", { from, to: wanted });
  }

  #join(s: Session, name: string): void {
    if (s.isClosed) return;
    if (s.isJoined) this.#leave(s, `joined ${name}`);
    let room = this.#rooms.get(name);
    if (!room) {
      room = { name, members: new Set(), history: new History(this.options.historySize) };
      this.#rooms.set(name, room);
      this.#roomsByLook.set(lookalikeKey(name), name);
    }
    s.room = name;
    s.isJoined = true;
    this.#replayHistory(s, room);
    room.members.add(s);
    const e = new Encoded({ type: "join", room: name, nick: s.nick, ts: Date.now() });
    if (room.members.size > this.options.maxAnnounceMembers) this.#send(s, e);
    else this.#sendAll(room.members, e);
    if (this.listenerCount("join") > 0) this.emit("join", { room: name, nick: s.nick });
  }

  /**
   * The room's last messages, newest ones first in line for the budget: as many as fit in half of
   * the client's queue and under the server's total; the client is told how many were left out.
   */
  #replayHistory(s: Session, room: Room | undefined): void {
    if (!room || room.history.size === 0) return;
    const { maxQueueBytes, maxQueuedBytesTotal } = this.options;
    const queued = s.link.bufferedBytes;
    // The total may count queues that drained since: made exact when it is the tighter budget.
    if (maxQueuedBytesTotal - this.#queuedTotal < maxQueueBytes / 2 - queued) this.#recount();
    const budget = Math.min(maxQueueBytes / 2 - queued, maxQueuedBytesTotal - this.#queuedTotal);
    const items = room.history.items();
    let first = items.length;
    for (let bytes = 0; first > 0; first--) {
      bytes += items[first - 1]!.for(s.mode).length;
      if (bytes > budget) break;
    }
    if (first > 0) {
      const shown = items.length - first;
      this.#notice(
        s,
        "info",
        `history: ${first} older message${first === 1 ? "" : "s"} not shown, only the last ${shown} fit in this connection's output queue`,
      );
    }
    for (let i = first; i < items.length; i++) this.#sendRaw(s, items[i]!.for(s.mode));
  }

  #leave(s: Session, reason: string): void {
    const room = this.#rooms.get(s.room);
    s.isJoined = false;
    if (!room) return;
    room.members.delete(s);
    const e = new Encoded({ type: "leave", room: room.name, nick: s.nick, ts: Date.now(), reason });
    if (room.members.size < this.options.maxAnnounceMembers) this.#sendAll(room.members, e);
    if (!s.isClosed) this.#send(s, e);
    if (room.members.size === 0 && room.name !== DEFAULT_ROOM) {
      this.#rooms.delete(room.name);
      this.#roomsByLook.delete(lookalikeKey(room.name));
    }
    if (this.listenerCount("leave") > 0) this.emit("leave", { room: room.name, nick: s.nick, reason });
  }

  #who(room: string): ChatEvent {
    const members = this.#rooms.get(room)?.members ?? new Set<Session>();
    return { type: "who", room, nicks: [...members].map((m) => m.nick).sort() };
  }

  #notice(s: Session, kind: "info" | "warning", text: string): void {
    this.#send(s, { type: "notice", kind, text, ts: Date.now() });
  }

  #error(s: Session, err: unknown): void {
    if (!(err instanceof NetlabError)) throw err;
    const e: ChatEvent = { type: "error", code: err.code, message: err.message };
    if (err.hint) e.hint = err.hint;
    this.#send(s, e);
  }

  #badLine(s: Session): void {
    if (s.badLines.check(Date.now()) === "disconnect") {
      this.kick(s, "TOO_MANY_ERRORS", "too many bad lines, disconnected");
    }
  }

  /**
   * `e` to every member. forEach, not for…of: joins and leaves come in bursts from code not yet
   * optimised, where for…of makes an iterator result per member (~1 MB as 5 000 clients join).
   */
  #sendAll(members: ReadonlySet<Session>, e: Encoded): void {
    members.forEach((member) => {
      this.#send(member, e);
    });
  }

  #send(s: Session, event: ChatEvent | Encoded): void {
    const e = event instanceof Encoded ? event : new Encoded(event);
    this.#sendRaw(s, e.for(s.mode));
  }

  /**
   * Queues without waiting. The link holds the client's queue under `maxQueueBytes` (it sends its
   * batch on early for a burst, and cuts a client that stopped reading); the hub counts the queue
   * towards `maxQueuedBytesTotal`.
   */
  #sendRaw(s: Session, bytes: Buffer): void {
    if (s.isClosed) return;
    if (!s.link.send(bytes)) {
      this.slowConsumer(s);
      return;
    }
    s.bytesOut += bytes.length;
    this.#count(s, s.link.bufferedBytes);
  }

  /** The link cut `s`: its queue would have passed `maxQueueBytes` (the client stopped reading). */
  slowConsumer(s: Session): void {
    if (s.isClosed) return;
    this.#cut(s, `slow consumer: more than ${this.options.maxQueueBytes} bytes queued`);
  }

  /**
   * Holds every client's queue together under `maxQueuedBytesTotal`: when the count says it is
   * over, it is made exact, and the clients with the largest queues are cut off until it fits.
   * Runs once the turn's batches have left (see #count), so it costs nothing per line.
   */
  checkQueuedTotal(): void {
    this.#totalCheck = undefined;
    const max = this.options.maxQueuedBytesTotal;
    if (this.#queuedTotal <= max) return;
    this.#recount();
    if (this.#queuedTotal <= max) return;
    const largestFirst = [...this.#sessions]
      .filter((s) => !s.isClosed && s.queuedBytes > 0)
      .sort((a, b) => b.queuedBytes - a.queuedBytes);
    for (const s of largestFirst) {
      if (this.#queuedTotal <= max) break;
      this.#cut(
        s,
        `slow consumer: the server's output queues passed ${max} bytes, and this client's (${s.queuedBytes} bytes) was among the largest`,
      );
    }
  }

  /** Every queue counted afresh: queues that drained since they were last counted shrink. */
  #recount(): void {
    let total = 0;
    this.#sessions.forEach((s) => {
      s.queuedBytes = s.isClosed ? 0 : s.link.bufferedBytes;
      total += s.queuedBytes;
    });
    this.#queuedTotal = total;
  }

  #count(s: Session, queued: number): void {
    this.#queuedTotal += queued - s.queuedBytes;
    s.queuedBytes = queued;
    // Checked after the links' end-of-turn flush (their setImmediate was queued before this one),
    // when what the kernel took no longer counts.
    if (this.#queuedTotal > this.options.maxQueuedBytesTotal && this.#totalCheck === undefined) {
      this.#totalCheck = setImmediate(checkTotal, this);
    }
  }

  #uncount(s: Session): void {
    this.#queuedTotal -= s.queuedBytes;
    s.queuedBytes = 0;
  }

  /** Closes at once, dropping what is queued: the client stopped reading, so nothing more reaches it. */
  #cut(s: Session, reason: string): void {
    s.closeReason = reason;
    s.isClosed = true;
    this.#uncount(s);
    s.link.destroy();
  }

  #sweepIdle(): void {
    const now = Date.now();
    const idleMs = this.options.idleTimeoutMs;
    // forEach: this runs cold every few seconds, where for…of makes an object per session.
    this.#sessions.forEach((s) => {
      if (s.isClosed) return;
      // Any byte in is activity, a part of a line too (receive() sees only whole lines).
      const bytesIn = s.link.bytesIn;
      if (bytesIn !== s.bytesInAtSweep) {
        s.bytesInAtSweep = bytesIn;
        if (s.lastActiveAt < now) s.lastActiveAt = now;
      } else if (now - s.lastActiveAt >= idleMs) {
        const idle = idleMs < 10_000 ? `${idleMs} ms` : `${Math.round(idleMs / 1000)} s`;
        this.kick(s, "IDLE_TIMEOUT", `idle for ${idle}, disconnected`);
      }
    });
  }

  /** Stops the idle sweep and the hello grace timer (the hub is done). */
  dispose(): void {
    clearInterval(this.#idleSweep);
    clearImmediate(this.#totalCheck);
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    this.#graceHead = this.#graceSessions.length;
    this.#compactGraces();
  }
}

function checkTotal(hub: ChatHub): void {
  hub.checkQueuedTotal();
}

/** How many times a late hello timer gives a client its grace again (see `#armGrace`). */
const MAX_GRACE_EXTENSIONS = 3;
/** A timer this much past due (or half the grace, if more) means the event loop was blocked. */
const LATE_TIMER_MS = 20;

function line(text: string): Buffer {
  return Buffer.from(`${text}\n`, "utf8");
}

function parseHello(text: string): Extract<ClientMessage, { type: "hello" }> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || (value as { type?: unknown }).type !== "hello") {
    return undefined;
  }
  const parsed = clientMessageSchema.safeParse(value);
  return parsed.success && parsed.data.type === "hello" ? parsed.data : undefined;
}

function parseJsonCommand(text: string): Command | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ChatError("BAD_MESSAGE", `bad message: not JSON: ${(cause as Error).message}`, {
      hint: 'send one JSON object per line, e.g. {"type":"message","text":"hi"}',
    });
  }
  const parsed = clientMessageSchema.safeParse(value);
  if (!parsed.success) {
    throw new ChatError("BAD_MESSAGE", `bad message: ${formatIssues(parsed.error.issues)}`, {
      hint: "see docs/PROTOCOL.md for the commands",
    });
  }
  const m = parsed.data;
  if (m.type === "hello") {
    throw new ChatError("HELLO_TOO_LATE", "hello must be the first line of the connection", {
      hint: "reconnect and send hello first",
    });
  }
  return m;
}
