import { EventEmitter } from "node:events";
import { NetlabError, TokenGate, type TokenGrant } from "@netlab/core";
import type { ProtocolError } from "@netlab/protocol";
import {
  type ChatBackend,
  compareStreamIds,
  type DeliveredEvent,
  type NickToken,
  type PrivateEvent,
  type ReclaimedNick,
} from "./backend.js";
import { type ChatWireEvent, chatChannel } from "./channel.js";
import { parseHello, parseJsonCommand } from "./commands.js";
import { ChatError, type ChatErrorCode } from "./errors.js";
import { HelloGrace } from "./grace.js";
import { NickRegistry, quoteShort } from "./nicks.js";
import { type HubOptions, hubOptions } from "./options.js";
import { Encoded, line, Outbox } from "./output.js";
import { newReclaimToken, reclaimProof, sameReclaimHash } from "./reclaim.js";
import { type Room, Rooms, replayHistory, replayItems } from "./rooms.js";
import {
  type Command,
  checkRoom,
  DEFAULT_ROOM,
  HELP_LINES,
  PROTOCOL_TAG,
  PROTOCOL_VERSION,
  parseInput,
} from "./rules.js";
import type { ChatEvent, ChatEventOf, Hello } from "./schema.js";
import { type Link, type PeerSnapshot, Session, snapshot } from "./session.js";
import { textLine } from "./text-mode.js";

// The hub's parts, one job each: session.ts (a connection's state), options.ts (limits),
// output.ts (sending, and the output queues under maxQueuedBytesTotal), rooms.ts (rooms and
// history replay), grace.ts (the hello grace), commands.ts (JSON lines). Only what is re-exported
// here (and from index.ts) is public; the rest is internal to the package.
export { HUB_DEFAULTS, type HubOptions } from "./options.js";
export { type Link, type PeerSnapshot, Session } from "./session.js";

const noop = () => {};
/** What the session whose nick was reclaimed is told, and the reason its room sees it leave with. */
const RECLAIMED_TEXT = "your nick was reclaimed by a new connection";
const RECLAIMED_REASON = "reclaimed by a new connection";

/**
 * The chat itself, independent of sockets: sessions, nicks, rooms, history, flood control and
 * slow-consumer cut-off. `ChatServer` feeds it lines from `@netlab/socketserver` handlers.
 *
 * Events: "connect"(PeerSnapshot), "disconnect"(PeerSnapshot, reason), "message"({room, from, text}),
 * "join"({room, nick}), "leave"({room, nick, reason}), "nick"({from, to}), and in cluster mode
 * "cluster"({isDegraded, reason}), "lost"({room, count, node}) when a Pub/Sub cluster lost events,
 * and "error"(err) for a publish that failed. A payload is only built
 * while someone listens: at thousands of clients, a snapshot per connect adds up.
 */
export class ChatHub extends EventEmitter {
  readonly options: HubOptions;
  readonly #sessions = new Set<Session>();
  readonly #nicks: NickRegistry<Session>;
  readonly #rooms: Rooms;
  readonly #out: Outbox;
  readonly #grace: HelloGrace;
  /** Checks tokens, with the per-address delay after failures; undefined when the hub is open. */
  readonly #gate: TokenGate | undefined;
  #nextId = 1;
  #nextMessageId = 1;
  #messagesTotal = 0;
  #bytesOutClosed = 0;
  #bytesInClosed = 0;
  #idleSweep: NodeJS.Timeout | undefined;
  #isShuttingDown = false;
  /** Cluster mode only: every room event goes out through it and comes back through #deliver. */
  readonly #backend: ChatBackend | undefined;
  /** Cluster mode: rooms being opened (their history fetched), so two joiners share one fetch. */
  readonly #opening = new Map<string, Promise<Room>>();
  #isDegraded = false;
  #starting: Promise<void> | undefined;
  /**
   * JSON sessions holding a nick they were granted: the SHA-256 of their reclaim token, and the
   * token itself until it has been sent to them. Here rather than on Session: text-mode and guest
   * sessions, most of an idle crowd, pay nothing.
   */
  readonly #reclaim = new Map<Session, { hash: string; unsent?: string }>();

  /** `backend`: cluster mode (see `ChatBackend`); without it the hub is one process, as it always was. */
  constructor(opts: Partial<HubOptions> = {}, backend?: ChatBackend) {
    super();
    this.#backend = backend;
    this.options = hubOptions(opts);
    this.#nicks = new NickRegistry([this.options.serverName]);
    this.#rooms = new Rooms(this.options.historySize);
    this.#out = new Outbox(this.options, this.#sessions);
    this.#grace = new HelloGrace(this.options.helloGraceMs, (s) => this.#join(s, DEFAULT_ROOM));
    const o = this.options;
    this.#gate = o.tokens === undefined ? undefined : new TokenGate(o.tokens, o);
    const deadlines = [o.idleTimeoutMs, this.#gate ? o.authTimeoutMs : 0].filter(
      (ms) => Number.isFinite(ms) && ms > 0,
    );
    if (deadlines.length > 0) {
      // One sweep for all sessions: cheaper than a timer per connection at 5 000 idle clients.
      const every = Math.max(50, Math.min(5_000, Math.floor(Math.min(...deadlines) / 4)));
      this.#idleSweep = setInterval(() => this.#sweepIdle(), every);
      this.#idleSweep.unref();
    }
  }

  /**
   * Cluster mode: connects the backend and opens `#lobby` (its history comes from the cluster).
   * Call before the first `attach`; a hub without a backend needs nothing.
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const backend = this.#backend;
    if (!backend) return;
    await backend.start({
      deliver: (e) => this.#deliver(e),
      deliverPrivate: (e) => this.#deliverPrivate(e),
      status: (state) => this.#clusterStatus(state),
      lost: (gap) => this.#lost(gap),
      reclaimed: (nick) => this.#reclaimedElsewhere(nick),
    });
    await this.#openRoom(DEFAULT_ROOM);
  }

  /** Cluster mode: leaves the cluster (after `shutdown`: the leaves have gone out). Harmless twice. */
  async stop(): Promise<void> {
    if (this.#starting) await this.#starting.catch(noop);
    await this.#backend?.close();
  }

  /** Cluster mode: the link to the cluster is down and rooms are served from this node only. */
  get isDegraded(): boolean {
    return this.#isDegraded;
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
    session.nick = this.#nicks.guest(session, this.#backend?.guestNumber() ?? session.id);
    // Guest numbers are the cluster's own (no other node gives them out): held there without waiting.
    this.#backend?.claimNick(session.nick).catch(noop);
    // A new client is in text mode: its banner is one line of text (formatEvent's), no event.
    if (this.#gate) {
      // It joins once its token is accepted; the tag lets ChatClient see it must send one.
      this.#out.sendRaw(session, line(`* ${this.#authText()}`));
    } else {
      this.#out.sendRaw(session, line(`* ${this.#welcomeText(session)}`));
      this.#grace.start(session);
    }
    if (this.listenerCount("connect") > 0) this.emit("connect", this.snapshot(session));
    return session;
  }

  /**
   * One line from the client, already framed and decoded. Returns a promise when the line's answer
   * comes later: while a token is being checked (it may wait out a delay the address earned), or
   * (cluster mode) from the cluster. The handler awaits it before the next line, so replies keep
   * the order of the lines.
   */
  receive(session: Session, line: string): Promise<void> | undefined {
    if (session.isClosed) return undefined;
    session.lastActiveAt = Date.now();
    const isFirst = session.linesIn === 0;
    session.linesIn++;
    if (this.#gate && session.grant === undefined) return this.#authenticate(session, line, isFirst);
    return this.#receive(session, line, isFirst);
  }

  #receive(session: Session, line: string, isFirst: boolean): Promise<void> | undefined {
    if (isFirst && line.startsWith("{")) {
      const hello = parseHello(line);
      if (hello) return this.#hello(session, hello);
    }
    if (!session.isJoined) this.#join(session, DEFAULT_ROOM);
    const verdict = session.flood.check(Date.now());
    if (verdict === "disconnect") {
      this.kick(session, "FLOOD", "flooding: too many messages, disconnected");
      return;
    }
    if (verdict === "warn") {
      this.#out.notice(
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
    // Cluster mode: a command's answer (a pong, a /who) comes after the echoes of the messages
    // sent before it, as on one node.
    if (session.inFlight > 0 && command.type !== "message" && command.type !== "me") {
      const after = command;
      return session.lastPublish?.then(() => this.#runCatching(session, after));
    }
    return this.#runCatching(session, command);
  }

  #runCatching(session: Session, command: Command): Promise<void> | undefined {
    try {
      const pending = this.#run(session, command);
      if (pending) return pending.catch((err: unknown) => this.#error(session, err));
    } catch (err) {
      this.#error(session, err);
    }
  }

  /** A line the decoder rejected (too long, not UTF-8): an error line, and a disconnect for repeated abuse. */
  protocolError(session: Session, err: ProtocolError): void {
    if (session.isClosed) return;
    session.lastActiveAt = Date.now();
    session.linesIn++;
    if (!session.isJoined && session.grant === undefined && this.#gate) {
      this.#error(session, err);
      this.#badLine(session);
      return;
    }
    if (!session.isJoined) this.#join(session, DEFAULT_ROOM);
    this.#error(session, err);
    this.#badLine(session);
  }

  /** The connection is gone: leave the room, free the nick, tell the room. */
  detach(session: Session, reason = "connection closed"): void {
    this.#remove(session, reason, true);
  }

  /**
   * `isAnnounced` false: another node took the session's nick over (reclaimed) and announced its
   * leave already; the nick is that node's now, so nothing is released or published here.
   */
  #remove(session: Session, reason: string, isAnnounced: boolean): void {
    if (!this.#sessions.has(session)) return;
    session.isClosed = true;
    this.#sessions.delete(session);
    this.#reclaim.delete(session);
    this.#nicks.release(session, session.nick);
    const why = session.closeReason ?? reason;
    if (isAnnounced) {
      this.#backend?.releaseNick(session.nick);
      if (session.isJoined) this.#leave(session, why);
    } else if (session.isJoined) {
      const room = this.#rooms.get(session.room);
      session.isJoined = false;
      room?.members.delete(session);
      if (room && this.#rooms.closeIfEmpty(room)) this.#backend?.closeRoom(room.name);
    }
    this.#out.uncount(session);
    this.#bytesOutClosed += session.bytesOut;
    this.#bytesInClosed += session.link.bytesIn;
    if (this.listenerCount("disconnect") > 0) this.emit("disconnect", this.snapshot(session), why);
  }

  /** Tells the client why, then closes it. */
  kick(session: Session, code: ChatErrorCode, message: string): void {
    if (session.isClosed) return;
    session.closeReason = message;
    this.#out.send(session, { type: "error", code, message });
    session.isClosed = true;
    session.link.end();
  }

  /** The operator console: `<server> text` to everyone. */
  broadcast(text: string): void {
    const e = new Encoded({ type: "notice", kind: "operator", text, ts: Date.now() });
    for (const s of this.#sessions) this.#out.send(s, e);
  }

  /** Sends everyone a shutdown notice and closes every connection after flushing it. */
  shutdown(text = "the server is shutting down"): void {
    this.#isShuttingDown = true;
    clearInterval(this.#idleSweep);
    const e = new Encoded({ type: "notice", kind: "shutdown", text, ts: Date.now() });
    for (const s of [...this.#sessions]) {
      this.#out.send(s, e);
      s.closeReason = "server shutdown";
      s.isClosed = true;
      s.link.end();
    }
  }

  peers(): PeerSnapshot[] {
    return [...this.#sessions].map(snapshot);
  }

  /** The rooms and how many clients each holds (joined ones), by name: what `/rooms` lists. */
  rooms(): { name: string; clients: number }[] {
    return this.#rooms.list();
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
    return snapshot(s);
  }

  #welcome(s: Session): ChatEventOf<"welcome"> {
    const { floodMessages, floodWindowMs } = this.options;
    return {
      ...(Number.isFinite(floodMessages) ? { limits: { floodMessages, floodWindowMs } } : {}),
      type: "welcome",
      proto: PROTOCOL_VERSION,
      server: this.options.serverName,
      nick: s.nick,
      room: s.room || DEFAULT_ROOM,
      text: this.#welcomeText(s),
      ...this.#unsentToken(s),
    };
  }

  #authText(): string {
    return `${PROTOCOL_TAG} — ${this.options.serverName} requires a token: send /auth TOKEN first [AUTH_REQUIRED]`;
  }

  /**
   * The first lines on a server with tokens: `/auth TOKEN` (text mode) or a hello with `token`
   * (JSON mode). One attempt per connection: a refused or missing token closes it, so each guess
   * costs a connection and the per-address delay. Other lines before it get AUTH_REQUIRED.
   */
  async #authenticate(s: Session, text: string, isFirst: boolean): Promise<void> {
    const gate = this.#gate!;
    const hello = isFirst && text.startsWith("{") ? parseHello(text) : undefined;
    let token: string | undefined;
    if (hello) {
      s.mode = "json"; // a refusal reaches a JSON client as an `error` event
      token = hello.token;
    } else {
      const m = /^\/auth(?:\s+(.*))?$/is.exec(text.trim());
      if (!m) {
        this.#error(
          s,
          new ChatError("AUTH_REQUIRED", "this server requires a token: send /auth TOKEN first", {
            hint: "lab client reads it from --token-file or LAB_TOKEN",
          }),
        );
        this.#badLine(s);
        return;
      }
      token = m[1]?.trim();
    }
    let grant: TokenGrant;
    try {
      grant = await gate.check(token, s.link.address, s.link.signal);
    } catch (err) {
      if (s.isClosed || s.link.signal?.aborted || !(err instanceof NetlabError)) return;
      this.#refuse(s, err);
      return;
    }
    if (s.isClosed) return;
    s.grant = grant;
    if (grant.name !== undefined) {
      try {
        await this.#takeNick(s, grant.name, hello?.reclaim);
      } catch (err) {
        const taken = err instanceof ChatError && err.code === "NICK_TAKEN";
        const why = taken
          ? new ChatError("NICK_TAKEN", `${quoteShort(grant.name)} is already connected`, {
              hint: "your token binds that nick: leave the other session first",
            })
          : err;
        if (why instanceof NetlabError) this.#refuse(s, why);
        return;
      }
    }
    if (hello) {
      await this.#hello(s, grant.name === undefined ? hello : { ...hello, nick: grant.name });
      return;
    }
    const as = grant.access === "ro" ? " (listen-only)" : "";
    this.#out.notice(s, "info", `token accepted: you are ${s.nick}${as}. /help for commands`);
    await this.#join(s, DEFAULT_ROOM);
  }

  /** Says why (code, message, hint) and closes: a refused token, or one bound to a nick in use. */
  #refuse(s: Session, err: NetlabError): void {
    s.closeReason = err.message;
    this.#error(s, err);
    s.isClosed = true;
    s.link.end();
  }

  #welcomeText(s: Session): string {
    return `${PROTOCOL_TAG} — welcome to ${this.options.serverName}, you are ${s.nick}. /help for commands`;
  }

  #hello(s: Session, hello: Hello): Promise<void> | undefined {
    if (hello.proto !== PROTOCOL_VERSION) {
      if (!s.isJoined) this.#join(s, DEFAULT_ROOM);
      this.#out.send(s, {
        type: "error",
        code: "UNSUPPORTED_PROTOCOL",
        message: `protocol ${hello.proto} is not supported; this server speaks ${PROTOCOL_VERSION}; staying in text mode`,
      });
      return;
    }
    s.mode = "json";
    if (this.#backend) return this.#helloInCluster(s, hello);
    let nickError: unknown;
    if (hello.nick !== undefined && hello.nick !== s.nick) {
      try {
        // Joined already (the hello came after the grace): the room saw the guest join, so it
        // sees the rename; the client itself only ever knew its own nick, so it gets a join.
        if (s.isJoined) this.#rename(s, hello.nick, { tellSelf: false, reclaim: hello.reclaim });
        else this.#takeNick(s, hello.nick, hello.reclaim);
      } catch (err) {
        nickError = err;
      }
    }
    const { room, roomError } = this.#helloRoom(hello);
    // The welcome names the room the client is about to be in (a reconnect's, not #lobby).
    this.#out.send(s, { ...this.#welcome(s), room: s.isJoined ? s.room : room });
    if (nickError) this.#error(s, nickError);
    if (roomError) this.#error(s, roomError);
    if (!s.isJoined || s.room !== room) {
      this.#join(s, room);
      return;
    }
    replayHistory(this.#out, s, this.#rooms.get(s.room));
    this.#out.send(s, { type: "join", room: s.room, nick: s.nick, ts: Date.now() });
  }

  /** The hello of cluster mode: the nick is claimed cluster-wide, and a reconnect catches up. */
  async #helloInCluster(s: Session, hello: Hello): Promise<void> {
    let nickError: unknown;
    if (hello.nick !== undefined && hello.nick !== s.nick) {
      try {
        if (s.isJoined) await this.#rename(s, hello.nick, { tellSelf: false, reclaim: hello.reclaim });
        else await this.#takeNick(s, hello.nick, hello.reclaim);
      } catch (err) {
        nickError = err;
      }
    }
    if (s.isClosed) return;
    const { room, roomError } = this.#helloRoom(hello);
    // The welcome names the room the client is about to be in (a reconnect's, not #lobby); the
    // nick it names (a reclaimed one too) comes before any replayed history.
    this.#out.send(s, { ...this.#welcome(s), room: s.isJoined ? s.room : room });
    if (nickError) this.#error(s, nickError);
    if (roomError) this.#error(s, roomError);
    if (hello.since !== undefined) {
      await this.#rejoinSince(s, room, hello.since);
      return;
    }
    if (!s.isJoined || s.room !== room) {
      await this.#join(s, room);
      return;
    }
    replayHistory(this.#out, s, this.#rooms.get(s.room));
    this.#out.send(s, { type: "join", room: s.room, nick: s.nick, ts: Date.now() });
  }

  /** The room a hello asks for (a reconnecting client's), else `#lobby`; a bad name is an error and `#lobby`. */
  #helloRoom(hello: Hello): { room: string; roomError?: unknown } {
    if (hello.room === undefined) return { room: DEFAULT_ROOM };
    try {
      return { room: this.#rooms.resolve(checkRoom(hello.room)) };
    } catch (roomError) {
      return { room: DEFAULT_ROOM, roomError };
    }
  }

  /**
   * A reconnecting client: exactly the messages after `since` (from the stream, then from the
   * room's local history for what arrived meanwhile), or a `gap` notice when the stream lost some.
   */
  async #rejoinSince(s: Session, name: string, since: string): Promise<void> {
    const backend = this.#backend as ChatBackend;
    const room = this.#rooms.get(name) ?? (await this.#openRoom(name));
    const max = this.options.maxCatchUpMessages;
    const missed = await backend.catchUp(name, since, max);
    if (s.isClosed) return;
    if (s.isJoined) this.#leave(s, `joined ${name}`);
    if (missed.isGap) {
      this.#out.send(s, {
        type: "notice",
        kind: "gap",
        text: `history gap: ${name} no longer holds every message after ${since} (the stream was trimmed); the ${missed.events.length} oldest still held follow`,
        ts: Date.now(),
      });
    }
    const items: Encoded[] = [];
    let last = since;
    for (const d of missed.events) {
      if (d.type !== "message") continue;
      items.push(new Encoded(this.#messageEvent(d, true)));
      if (d.streamId) last = d.streamId;
    }
    // What this node delivered while the stream was read: the newer part of its history.
    for (const e of room.history.items()) {
      const id = (e.event as { streamId?: string }).streamId;
      if (id !== undefined && compareStreamIds(id, last) > 0) items.push(e);
    }
    if (room !== this.#rooms.get(name)) return; // closed and reopened meanwhile: rare, rejoin plainly
    replayItems(this.#out, s, items);
    // The stream may hold more than this node's reader passed: what it delivers up to `last` is
    // in the replay already.
    s.resumedTo = last;
    this.#enter(s, room);
  }

  #run(s: Session, c: Command): Promise<void> | undefined {
    if (s.grant !== undefined) checkGrant(s.grant, c);
    switch (c.type) {
      case "message":
      case "me":
        return this.#say(s, c.text, c.type === "me");
      case "nick":
        return this.#rename(s, c.nick);
      case "join": {
        const wanted = checkRoom(c.room);
        const room = this.#rooms.resolve(wanted);
        if (room === s.room) return this.#who(s);
        return this.#join(s, room);
      }
      case "who":
        return this.#who(s);
      case "rooms":
        if (this.#backend) {
          return this.#backend.rooms().then((rooms) => this.#out.send(s, { type: "rooms", rooms }));
        }
        this.#out.send(s, { type: "rooms", rooms: this.rooms() });
        return;
      case "nodes":
        if (this.#backend) {
          return this.#backend.nodes().then((nodes) => this.#out.send(s, { type: "nodes", nodes }));
        }
        this.#out.send(s, {
          type: "nodes",
          nodes: [{ id: this.options.serverName, clients: this.#sessions.size, self: true }],
        });
        return;
      case "private": {
        const to = this.#nicks.get(c.to);
        if ((!to || to.isClosed) && this.#backend) return this.#privateInCluster(s, c.to, c.text);
        if (!to || to.isClosed) {
          throw new ChatError("NO_SUCH_NICK", `no one called ${quoteShort(c.to)} is here`, {
            hint: "/who lists your room",
          });
        }
        s.messagesIn++;
        const e = new Encoded({ type: "private", from: s.nick, to: to.nick, text: c.text, ts: Date.now() });
        this.#out.send(to, e);
        if (to !== s) this.#out.sendRaw(s, s.mode === "json" ? e.for("json") : textLine(e.event, s.nick));
        return;
      }
      case "help":
        this.#out.notice(s, "info", HELP_LINES.join("\n"));
        return;
      case "quit":
        s.closeReason = "quit";
        this.#out.notice(s, "info", "bye");
        s.isClosed = true;
        s.link.end();
        return;
      case "ping":
        this.#out.send(s, c.id === undefined ? { type: "pong" } : { type: "pong", id: c.id });
        return;
    }
  }

  #who(s: Session): Promise<void> | undefined {
    const room = s.room;
    if (!this.#backend) {
      this.#out.send(s, this.#rooms.who(room));
      return;
    }
    return this.#backend.who(room).then((nicks) => this.#out.send(s, { type: "who", room, nicks }));
  }

  async #privateInCluster(s: Session, to: string, text: string): Promise<void> {
    const event: PrivateEvent = { from: s.nick, to, text, ts: Date.now() };
    s.messagesIn++;
    if (!(await (this.#backend as ChatBackend).sendPrivate(event))) {
      throw new ChatError("NO_SUCH_NICK", `no one called ${quoteShort(to)} is here`, {
        hint: "/who lists your room",
      });
    }
    const e = new Encoded({ type: "private", ...event });
    this.#out.sendRaw(s, s.mode === "json" ? e.for("json") : textLine(e.event, s.nick));
  }

  /**
   * Cluster mode: the message goes to the cluster and comes back through #deliver. The client's
   * next lines are read meanwhile (XADDs pipeline), up to `maxInFlightMessages` not yet back.
   */
  #sayInCluster(s: Session, room: string, text: string, isAction: boolean): Promise<void> | undefined {
    const published = { type: "message", room, from: s.nick, text, ts: Date.now(), sid: s.id } as const;
    s.inFlight++;
    // One `then` for both outcomes: a promise less per message than catch + finally.
    const done = (this.#backend as ChatBackend)
      .publish(isAction ? { ...published, action: true } : published)
      .then(
        () => {
          s.inFlight--;
        },
        (err: unknown) => {
          s.inFlight--;
          this.#error(s, err);
        },
      );
    s.lastPublish = done;
    const window = s.publishes;
    window.push(done);
    if (window.length > this.options.maxInFlightMessages) window.shift();
    return s.inFlight >= this.options.maxInFlightMessages ? window[0] : undefined;
  }

  #deliverPrivate(p: PrivateEvent): void {
    const to = this.#nicks.get(p.to);
    if (to && !to.isClosed) this.#out.send(to, { type: "private", ...p });
  }

  #say(s: Session, text: string, isAction: boolean): Promise<void> | undefined {
    const room = this.#rooms.get(s.room);
    if (!room) return;
    s.messagesIn++;
    this.#messagesTotal++;
    if (this.#backend) return this.#sayInCluster(s, room.name, text, isAction);
    const event: ChatEventOf<"message"> = {
      type: "message",
      id: this.#nextMessageId++,
      room: room.name,
      from: s.nick,
      text,
      ts: Date.now(),
    };
    if (isAction) event.action = true;
    const e = new Encoded(event);
    if (room.history.capacity > 0) room.history.push(Encoded.replayOf(e));
    const out = this.#out;
    for (const member of room.members) {
      // Text clients know what they typed; JSON clients get their message back with its id.
      if (member !== s || member.mode === "json") out.send(member, e);
    }
    if (this.listenerCount("message") > 0)
      this.emit("message", { room: room.name, from: s.nick, text, action: isAction });
    if (chatChannel.hasSubscribers) {
      const m: ChatWireEvent = { type: "message", room: room.name, from: s.nick, text, action: isAction };
      chatChannel.publish(m);
    }
  }

  /**
   * Unique by NFKC + case folding and by look-alike skeleton; reserved names refused (nicks.ts). In
   * a cluster the local check comes first, then the cluster's (the old nick is held until it says yes).
   * `reclaim`: the token the client holds for `wanted`; when it matches the holder's, the holder
   * (a session the client left behind) is closed and the nick is the client's at once. A JSON
   * session is granted a new token with every nick, sent in its welcome or own `nick` event.
   */
  #takeNick(s: Session, wanted: string, reclaim?: string): Promise<void> | undefined {
    const proof = reclaim === undefined ? undefined : reclaimProof(reclaim);
    // Degraded, the cluster refuses every claim (CLUSTER_DEGRADED): the holder must not be closed first.
    if (proof !== undefined && !(this.#backend && this.#isDegraded)) this.#reclaimHere(s, wanted, proof);
    const grant = s.mode === "json" ? newReclaimToken() : undefined;
    const backend = this.#backend;
    if (!backend) {
      this.#nicks.claim(s, wanted, s.nick);
      s.nick = wanted;
      this.#granted(s, grant);
      return;
    }
    const previous = s.nick;
    this.#nicks.claim(s, wanted);
    const token: NickToken = {};
    if (grant) token.hash = grant.hash;
    if (proof !== undefined) token.proof = proof;
    return backend.claimNick(wanted, previous, token).then(
      (took) => {
        if (s.isClosed) {
          this.#nicks.release(s, wanted);
          backend.releaseNick(wanted);
          return;
        }
        this.#nicks.release(s, previous);
        s.nick = wanted;
        this.#granted(s, grant);
        if (took) this.#tookOver(took);
      },
      (err: unknown) => {
        this.#nicks.release(s, wanted);
        throw err;
      },
    );
  }

  /** A session of this node holds `wanted` with the token hashed `proof`: it is closed, the nick freed. */
  #reclaimHere(s: Session, wanted: string, proof: string): void {
    const holder = this.#nicks.get(wanted);
    if (holder === undefined || holder === s) return;
    const held = this.#reclaim.get(holder);
    // A wrong token falls through to the claim's NICK_TAKEN, word for word as without one.
    if (held === undefined || !sameReclaimHash(held.hash, proof)) return;
    this.kick(holder, "NICK_RECLAIMED", RECLAIMED_TEXT);
    holder.closeReason = RECLAIMED_REASON;
    // At once: the old connection may be a black hole whose close would take minutes.
    this.detach(holder);
  }

  /** Another node's session lost its nick to us: its room hears it leave, before our join. */
  #tookOver(took: ReclaimedNick): void {
    if (took.room === undefined) return;
    const ts = Date.now();
    this.#publish({ type: "leave", room: took.room, nick: took.nick, ts, sid: -1, reason: RECLAIMED_REASON });
  }

  /** The cluster says another node took `nick` from this one: its session here goes, quietly. */
  #reclaimedElsewhere(nick: string): void {
    const s = this.#nicks.get(nick);
    if (s === undefined) return;
    this.kick(s, "NICK_RECLAIMED", RECLAIMED_TEXT);
    s.closeReason = RECLAIMED_REASON;
    this.#remove(s, RECLAIMED_REASON, false);
  }

  /** `s` holds a new nick: its new token's hash replaces the old (text sessions get none). */
  #granted(s: Session, grant: { token: string; hash: string } | undefined): void {
    if (grant) this.#reclaim.set(s, { hash: grant.hash, unsent: grant.token });
    else this.#reclaim.delete(s);
  }

  /**
   * `{ reclaim }` with the token granted with `s`'s nick, for its welcome or its own `nick` event
   * (each goes to `s` alone); once, as only the hash is kept after.
   */
  #unsentToken(s: Session): { reclaim?: string } {
    const held = this.#reclaim.get(s);
    if (held?.unsent === undefined) return {};
    const reclaim = held.unsent;
    held.unsent = undefined;
    return { reclaim };
  }

  #rename(
    s: Session,
    wanted: string,
    { tellSelf = true, reclaim }: { tellSelf?: boolean; reclaim?: string | undefined } = {},
  ): Promise<void> | undefined {
    const from = s.nick;
    if (wanted === from) return;
    const taken = this.#takeNick(s, wanted, reclaim);
    if (taken) return taken.then(() => this.#renamed(s, from, wanted, tellSelf));
    this.#renamed(s, from, wanted, tellSelf);
  }

  #renamed(s: Session, from: string, wanted: string, tellSelf: boolean): void {
    const ts = Date.now();
    const e = new Encoded({ type: "nick", from, to: wanted, ts });
    if (this.#backend) {
      if (s.isClosed) return;
      if (tellSelf) this.#out.send(s, { ...(e.event as ChatEventOf<"nick">), ...this.#unsentToken(s) });
      // The room hears it from the cluster (#deliver), in the order every node sees.
      if (s.isJoined) this.#publish({ type: "nick", room: s.room, from, to: wanted, ts, sid: s.id });
      return;
    }
    const room = this.#rooms.get(s.room);
    for (const member of room?.members ?? [s]) {
      if (member !== s) this.#out.send(member, e);
      else if (tellSelf) this.#out.send(s, { ...(e.event as ChatEventOf<"nick">), ...this.#unsentToken(s) });
    }
    if (this.listenerCount("nick") > 0) this.emit("nick", { from, to: wanted });
    if (chatChannel.hasSubscribers)
      chatChannel.publish({ type: "nick", from, to: wanted } satisfies ChatWireEvent);
  }

  #join(s: Session, name: string): Promise<void> | undefined {
    if (s.isClosed) return;
    // Cluster mode: a room new to this node first gets its history from the cluster.
    if (this.#backend && !this.#rooms.has(name)) {
      return this.#openRoom(name).then((room) => {
        if (s.isClosed) return;
        if (s.isJoined) this.#leave(s, `joined ${name}`);
        replayHistory(this.#out, s, room);
        this.#enter(s, room);
      });
    }
    if (s.isJoined) this.#leave(s, `joined ${name}`);
    const room = this.#rooms.open(name);
    replayHistory(this.#out, s, room);
    this.#enter(s, room);
  }

  /** `s` joins `room` (its history replayed already) and the room is told. */
  #enter(s: Session, room: Room): void {
    s.room = room.name;
    s.isJoined = true;
    room.members.add(s);
    const ts = Date.now();
    const e = new Encoded({ type: "join", room: room.name, nick: s.nick, ts });
    if (this.#backend) {
      this.#out.send(s, e);
      this.#publish({ type: "join", room: room.name, nick: s.nick, ts, sid: s.id });
      return;
    }
    if (room.members.size > this.options.maxAnnounceMembers) this.#out.send(s, e);
    else this.#out.sendAll(room.members, e);
    if (this.listenerCount("join") > 0) this.emit("join", { room: room.name, nick: s.nick });
    if (chatChannel.hasSubscribers)
      chatChannel.publish({ type: "join", room: room.name, nick: s.nick } satisfies ChatWireEvent);
  }

  #leave(s: Session, reason: string): void {
    const room = this.#rooms.get(s.room);
    s.isJoined = false;
    if (!room) return;
    room.members.delete(s);
    const ts = Date.now();
    const e = new Encoded({ type: "leave", room: room.name, nick: s.nick, ts, reason });
    if (this.#backend) {
      if (!s.isClosed) this.#out.send(s, e);
      this.#publish({ type: "leave", room: room.name, nick: s.nick, ts, sid: s.id, reason });
      if (this.#rooms.closeIfEmpty(room)) this.#backend.closeRoom(room.name);
      return;
    }
    if (room.members.size < this.options.maxAnnounceMembers) this.#out.sendAll(room.members, e);
    if (!s.isClosed) this.#out.send(s, e);
    this.#rooms.closeIfEmpty(room);
    if (this.listenerCount("leave") > 0) this.emit("leave", { room: room.name, nick: s.nick, reason });
    if (chatChannel.hasSubscribers) {
      chatChannel.publish({ type: "leave", room: room.name, nick: s.nick, reason } satisfies ChatWireEvent);
    }
  }

  /** Cluster mode: a join, leave or nick change goes out without waiting (nothing answers it). */
  #publish(event: Parameters<ChatBackend["publish"]>[0]): void {
    (this.#backend as ChatBackend).publish(event).catch((err: unknown) => {
      if (this.listenerCount("error") > 0) this.emit("error", err);
    });
  }

  /** Cluster mode: the room opened on this node, seeded with its history from the cluster. */
  #openRoom(name: string): Promise<Room> {
    let opening = this.#opening.get(name);
    if (!opening) {
      opening = (this.#backend as ChatBackend)
        .openRoom(name, this.options.historySize)
        .then((history) => {
          const room = this.#rooms.open(name);
          for (const d of history) {
            if (d.type === "message") room.history.push(new Encoded(this.#messageEvent(d, true)));
          }
          return room;
        })
        .finally(() => this.#opening.delete(name));
      this.#opening.set(name, opening);
    }
    return opening;
  }

  #messageEvent(d: DeliveredEvent & { type: "message" }, isHistory: boolean): ChatEventOf<"message"> {
    const event: ChatEventOf<"message"> = {
      type: "message",
      id: this.#nextMessageId++,
      room: d.room,
      from: d.from,
      text: d.text,
      ts: d.ts,
    };
    if (d.action) event.action = true;
    if (isHistory) event.history = true;
    if (d.streamId !== undefined) event.streamId = d.streamId;
    event.node = d.node;
    return event;
  }

  /**
   * Cluster mode: one room event, in the order every node sees, to this node's members of its
   * room. The session that caused it on this node was told already (except a JSON client's own
   * message, which comes back with its id, as on one node).
   */
  #deliver(d: DeliveredEvent): void {
    const room = this.#rooms.get(d.room);
    if (!room) return;
    const origin = d.node === (this.#backend as ChatBackend).nodeId ? d.sid : -1;
    const out = this.#out;
    switch (d.type) {
      case "message": {
        const e = new Encoded(this.#messageEvent(d, false));
        if (room.history.capacity > 0) room.history.push(Encoded.replayOf(e));
        for (const member of room.members) {
          if (member.resumedTo !== undefined && this.#wasReplayed(member, d.streamId)) continue;
          if (member.id !== origin || member.mode === "json") out.send(member, e);
        }
        if (this.listenerCount("message") > 0)
          this.emit("message", { room: room.name, from: d.from, text: d.text, action: d.action === true });
        return;
      }
      case "join":
      case "leave": {
        if (room.members.size > this.options.maxAnnounceMembers) return;
        const e = new Encoded(
          d.type === "join"
            ? { type: "join", room: d.room, nick: d.nick, ts: d.ts }
            : {
                type: "leave",
                room: d.room,
                nick: d.nick,
                ts: d.ts,
                ...(d.reason ? { reason: d.reason } : {}),
              },
        );
        for (const member of room.members) if (member.id !== origin) out.send(member, e);
        if (this.listenerCount(d.type) > 0) {
          this.emit(d.type, {
            room: d.room,
            nick: d.nick,
            ...(d.type === "leave" ? { reason: d.reason } : {}),
          });
        }
        return;
      }
      case "nick": {
        const e = new Encoded({ type: "nick", from: d.from, to: d.to, ts: d.ts });
        for (const member of room.members) if (member.id !== origin) out.send(member, e);
        if (this.listenerCount("nick") > 0) this.emit("nick", { from: d.from, to: d.to });
        return;
      }
    }
  }

  /** A resumed session was replayed `id` already; past its replay, it is an ordinary member again. */
  #wasReplayed(s: Session, id: string | undefined): boolean {
    if (id !== undefined && compareStreamIds(id, s.resumedTo as string) <= 0) return true;
    s.resumedTo = undefined;
    return false;
  }

  /** The cluster link broke or came back: every client is told, and the `cluster` event says so. */
  #clusterStatus(state: { isDegraded: boolean; reason: string }): void {
    this.#isDegraded = state.isDegraded;
    const e = new Encoded({ type: "notice", kind: "cluster", text: state.reason, ts: Date.now() });
    for (const s of this.#sessions) if (s.isJoined) this.#out.send(s, e);
    if (this.listenerCount("cluster") > 0) this.emit("cluster", state);
  }

  /** Cluster mode over a lossy backend: the room's members here learn that events are missing. */
  #lost(gap: { room: string; count: number; node: string }): void {
    const room = this.#rooms.get(gap.room);
    if (!room) return;
    const text = `${gap.count} message${gap.count === 1 ? " was" : "s were"} lost (from node ${gap.node}: Pub/Sub keeps nothing for a subscriber that was away)`;
    const e = new Encoded({ type: "notice", kind: "gap", text, ts: Date.now() });
    for (const member of room.members) this.#out.send(member, e);
    if (this.listenerCount("lost") > 0) this.emit("lost", gap);
  }

  #error(s: Session, err: unknown): void {
    if (!(err instanceof NetlabError)) throw err;
    const e: ChatEvent = { type: "error", code: err.code, message: err.message };
    if (err.hint) e.hint = err.hint;
    this.#out.send(s, e);
  }

  #badLine(s: Session): void {
    if (s.badLines.check(Date.now()) === "disconnect") {
      this.kick(s, "TOO_MANY_ERRORS", "too many bad lines, disconnected");
    }
  }

  /** The link cut `s`: its queue would have passed `maxQueueBytes` (the client stopped reading). */
  slowConsumer(s: Session): void {
    this.#out.slowConsumer(s);
  }

  /** Holds every client's queue together under `maxQueuedBytesTotal` (see Outbox.checkTotal). */
  checkQueuedTotal(): void {
    this.#out.checkTotal();
  }

  #sweepIdle(): void {
    const now = Date.now();
    const idleMs = this.options.idleTimeoutMs;
    const authMs = this.options.authTimeoutMs;
    // forEach: this runs cold every few seconds, where for…of makes an object per session.
    this.#sessions.forEach((s) => {
      if (s.isClosed) return;
      // Any byte in is activity, a part of a line too (receive() sees only whole lines).
      const bytesIn = s.link.bytesIn;
      if (bytesIn !== s.bytesInAtSweep) {
        s.bytesInAtSweep = bytesIn;
        if (s.lastActiveAt < now) s.lastActiveAt = now;
      } else if (s.grant === undefined && this.#gate && now - s.connectedAt >= authMs) {
        const after = authMs < 10_000 ? `${authMs} ms` : `${Math.round(authMs / 1000)} s`;
        this.kick(s, "AUTH_REQUIRED", `no token within ${after}, disconnected`);
      } else if (idleMs > 0 && now - s.lastActiveAt >= idleMs) {
        const idle = idleMs < 10_000 ? `${idleMs} ms` : `${Math.round(idleMs / 1000)} s`;
        this.kick(s, "IDLE_TIMEOUT", `idle for ${idle}, disconnected`);
      }
    });
  }

  /** Stops the idle sweep and the hello grace timer (the hub is done). */
  dispose(): void {
    clearInterval(this.#idleSweep);
    this.#out.dispose();
    this.#grace.dispose();
  }
}

/** Throws READ_ONLY or NICK_BOUND when `grant` does not allow `c`. */
function checkGrant(grant: TokenGrant, c: Command): void {
  const speaks = c.type === "message" || c.type === "me" || c.type === "private" || c.type === "nick";
  if (grant.access === "ro" && speaks) {
    throw new ChatError(
      "READ_ONLY",
      "your token is listen-only: you can read, /join, /who and /rooms, but not send or change your nick",
      { hint: "ask the server's operator for a token without :ro" },
    );
  }
  if (c.type === "nick" && grant.name !== undefined) {
    throw new ChatError("NICK_BOUND", `your nick is bound to your token: you are ${quoteShort(grant.name)}`, {
      hint: "the server's token file names you",
    });
  }
}
