// Everything the hub sends, and every client's output queue counted against the server's total.
// Internal to the chat package (not exported from index.ts): ChatHub is its only user.
import type { HubOptions } from "./options.js";
import type { ChatEvent } from "./schema.js";
import type { Session } from "./session.js";
import { textLine } from "./text-mode.js";

/** An event encoded once for each mode, so a broadcast to many costs one serialisation. */
export class Encoded {
  #event: ChatEvent | undefined;
  /** A history entry's live message (see `replayOf`): its event is copied when first needed. */
  readonly #live: Encoded | undefined;
  #text: Buffer | undefined;
  #json: Buffer | undefined;

  constructor(event: ChatEvent);
  /** @internal `replayOf` */
  constructor(event: undefined, live: Encoded);
  constructor(event: ChatEvent | undefined, live?: Encoded) {
    this.#event = event;
    this.#live = live;
  }

  /**
   * `live` as the room's history replays it (`history: true`). Made for every message, so it
   * copies nothing until a joiner is replayed it; a text client's line is the live one (text mode
   * does not mark history).
   */
  static replayOf(live: Encoded): Encoded {
    return new Encoded(undefined, live);
  }

  get event(): ChatEvent {
    this.#event ??= { ...(this.#live as Encoded).event, history: true } as ChatEvent;
    return this.#event;
  }

  for(mode: "text" | "json"): Buffer {
    if (mode === "json") {
      this.#json ??= Buffer.from(`${JSON.stringify(this.event)}\n`, "utf8");
      return this.#json;
    }
    this.#text ??= this.#live === undefined ? textLine(this.event) : this.#live.for("text");
    return this.#text;
  }
}

/** One line of text mode, as bytes. */
export function line(text: string): Buffer {
  return Buffer.from(`${text}\n`, "utf8");
}

/**
 * The hub's output: queues lines on the clients' links without waiting, and holds every client's
 * queue together under `maxQueuedBytesTotal`. Each session's share is its own field
 * (`session.queuedBytes`); this keeps their sum, exact after a recount.
 */
export class Outbox {
  readonly #options: HubOptions;
  /** The hub's sessions (the same Set): the recount and the largest-first cut walk them. */
  readonly #sessions: ReadonlySet<Session>;
  /** Σ session.queuedBytes: every client's output queue as last counted (exact after #recount). */
  #queuedTotal = 0;
  /** A checkTotal is scheduled for when this turn's batches have left. */
  #totalCheck: NodeJS.Immediate | undefined;

  constructor(options: HubOptions, sessions: ReadonlySet<Session>) {
    this.#options = options;
    this.#sessions = sessions;
  }

  /**
   * `e` to every member. forEach, not for…of: joins and leaves come in bursts from code not yet
   * optimised, where for…of makes an iterator result per member (~1 MB as 5 000 clients join).
   */
  sendAll(members: ReadonlySet<Session>, e: Encoded): void {
    members.forEach((member) => {
      this.send(member, e);
    });
  }

  send(s: Session, event: ChatEvent | Encoded): void {
    const e = event instanceof Encoded ? event : new Encoded(event);
    this.sendRaw(s, e.for(s.mode));
  }

  notice(s: Session, kind: "info" | "warning", text: string): void {
    this.send(s, { type: "notice", kind, text, ts: Date.now() });
  }

  /**
   * Queues without waiting. The link holds the client's queue under `maxQueueBytes` (it sends its
   * batch on early for a burst, and cuts a client that stopped reading); the outbox counts the
   * queue towards `maxQueuedBytesTotal`.
   */
  sendRaw(s: Session, bytes: Buffer): void {
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
    this.#cut(s, `slow consumer: more than ${this.#options.maxQueueBytes} bytes queued`);
  }

  /**
   * What `s` may be sent now without a cut: half of its own cap, less what it has queued, and no
   * more than is left under the server's total (made exact first when that is the tighter budget).
   */
  budget(s: Session): number {
    const { maxQueueBytes, maxQueuedBytesTotal } = this.#options;
    const queued = s.link.bufferedBytes;
    // The total may count queues that drained since: made exact when it is the tighter budget.
    if (maxQueuedBytesTotal - this.#queuedTotal < maxQueueBytes / 2 - queued) this.#recount();
    return Math.min(maxQueueBytes / 2 - queued, maxQueuedBytesTotal - this.#queuedTotal);
  }

  /**
   * Holds every client's queue together under `maxQueuedBytesTotal`: when the count says it is
   * over, it is made exact, and the clients with the largest queues are cut off until it fits.
   * Runs once the turn's batches have left (see #count), so it costs nothing per line.
   */
  checkTotal(): void {
    this.#totalCheck = undefined;
    const max = this.#options.maxQueuedBytesTotal;
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

  /** `s` is gone: its queue no longer counts. */
  uncount(s: Session): void {
    this.#queuedTotal -= s.queuedBytes;
    s.queuedBytes = 0;
  }

  /** Cancels a scheduled checkTotal (the hub is done). */
  dispose(): void {
    clearImmediate(this.#totalCheck);
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
    if (this.#queuedTotal > this.#options.maxQueuedBytesTotal && this.#totalCheck === undefined) {
      this.#totalCheck = setImmediate(checkTotal, this);
    }
  }

  /** Closes at once, dropping what is queued: the client stopped reading, so nothing more reaches it. */
  #cut(s: Session, reason: string): void {
    s.closeReason = reason;
    s.isClosed = true;
    this.uncount(s);
    s.link.destroy();
  }
}

function checkTotal(outbox: Outbox): void {
  outbox.checkTotal();
}
