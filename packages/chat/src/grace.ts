// The hello grace: how long a new connection has to send a JSON hello before it joins in text mode.
// Internal to the chat package (not exported from index.ts): ChatHub is its only user.
import type { Session } from "./session.js";

/** How many times a late hello timer gives a client its grace again (see `HelloGrace.start`). */
const MAX_GRACE_EXTENSIONS = 3;
/** A timer this much past due (or half the grace, if more) means the event loop was blocked. */
const LATE_TIMER_MS = 20;

/**
 * Sessions in their hello grace, oldest first, with when it ends (performance.now() ms) and how
 * many late-timer extensions are left. Every grace is equally long, so the ends ascend and one
 * timer serves them all: a connection costs three array slots here, not a Timeout and a closure.
 */
export class HelloGrace {
  readonly #graceMs: number;
  /** Called when a session's grace ends while it is neither joined nor closed. */
  readonly #onEnd: (s: Session) => void;
  #sessions: Session[] = [];
  #endsAt: number[] = [];
  #extensions: number[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(graceMs: number, onEnd: (s: Session) => void) {
    this.#graceMs = graceMs;
    this.#onEnd = onEnd;
  }

  /**
   * Ends `s`'s grace (`onEnd`) when `graceMs` pass without a first line (any line joins it sooner,
   * and the timer then skips it). A timer that fires late means this process was busy (a UI
   * loading, a loaded machine): a hello that arrived in time may still be unread, since timers run
   * before socket reads in a turn. Such a client gets the grace again, up to `extensions` times,
   * rather than joining as a guest and being renamed.
   */
  start(s: Session, extensions = MAX_GRACE_EXTENSIONS): void {
    this.#sessions.push(s);
    this.#endsAt.push(performance.now() + this.#graceMs);
    this.#extensions.push(extensions);
    this.#timer ??= setTimeout(this.#endGraces, this.#graceMs);
  }

  /** Stops the timer and forgets every grace (the hub is done). */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#head = this.#sessions.length;
    this.#compact();
  }

  /** The grace timer: ends every grace that is due, then waits for the next one. */
  readonly #endGraces = (): void => {
    const graceMs = this.#graceMs;
    const sessions = this.#sessions;
    while (this.#head < sessions.length) {
      const i = this.#head;
      // Read per session, as its own timer would: joining the ones before it takes time too.
      // The timer may fire up to a ms early by this clock (libuv's is whole ms).
      const lateMs = performance.now() - this.#endsAt[i]!;
      if (lateMs < -1) break;
      this.#head++;
      const s = sessions[i]!;
      if (s.isClosed || s.isJoined) continue;
      const extensions = this.#extensions[i]!;
      if (extensions > 0 && lateMs > Math.max(LATE_TIMER_MS, graceMs / 2)) this.start(s, extensions - 1);
      else this.#onEnd(s);
    }
    // start() may have set a timer for a grace re-armed above; the head's end comes first.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#compact();
    if (this.#head < this.#sessions.length) {
      const waitMs = this.#endsAt[this.#head]! - performance.now();
      this.#timer = setTimeout(this.#endGraces, Math.max(1, Math.ceil(waitMs)));
    }
  };

  /** Drops the ended graces: all of them when none is left, else once they are half the queue. */
  #compact(): void {
    const head = this.#head;
    if (head === 0) return;
    if (head === this.#sessions.length) {
      this.#sessions = [];
      this.#endsAt = [];
      this.#extensions = [];
    } else if (head >= 1024 && head * 2 >= this.#sessions.length) {
      this.#sessions = this.#sessions.slice(head);
      this.#endsAt = this.#endsAt.slice(head);
      this.#extensions = this.#extensions.slice(head);
    } else {
      return;
    }
    this.#head = 0;
  }
}
