/** The server's flood limit, as its welcome announces it. */
export interface FloodLimits {
  floodMessages: number;
  floodWindowMs: number;
}

/**
 * JSON lines waiting for the server's welcome, or for room under its flood limit. Once welcomed it
 * sends what it holds, staying under 80% of the server's announced flood limit (a script piping
 * 1 000 lines is paced, not disconnected); it waits for the window otherwise.
 */
export class Outbox {
  #lines: string[] = [];
  #isWelcomed = false;
  #limits: FloodLimits | undefined;
  /** When recent lines went out, oldest first: at most the flood budget. */
  #sentAt: number[] = [];
  #pumpTimer: NodeJS.Timeout | undefined;
  #drainWaiters: Array<() => void> = [];
  readonly #write: (line: string) => void;
  readonly #isConnected: () => boolean;

  /** `write` puts a line on the socket; nothing is sent while `isConnected()` is false. */
  constructor(write: (line: string) => void, isConnected: () => boolean) {
    this.#write = write;
    this.#isConnected = isConnected;
  }

  /** A new connection: nothing may go out before its welcome, and nothing has gone out on it. */
  reset(): void {
    this.#isWelcomed = false;
    this.#sentAt = [];
  }

  /** The server's welcome: send what waits, paced by its limits. */
  welcome(limits: FloodLimits | undefined): void {
    this.#limits = limits;
    this.#isWelcomed = true;
    queueMicrotask(() => this.pump());
  }

  push(line: string): void {
    this.#lines.push(line);
    this.pump();
  }

  /** Drops every waiting line (the client is leaving). */
  clear(): void {
    this.#lines = [];
  }

  /** Sends what the outbox holds once welcomed, as the flood budget allows; a timer sends the rest. */
  pump(): void {
    clearTimeout(this.#pumpTimer);
    if (!this.#isWelcomed || !this.#isConnected()) return;
    const limits = this.#limits;
    const budget = limits ? Math.max(1, Math.floor(limits.floodMessages * 0.8)) : Number.POSITIVE_INFINITY;
    while (this.#lines.length > 0) {
      const now = Date.now();
      if (limits) {
        while (this.#sentAt.length > 0 && this.#sentAt[0]! <= now - limits.floodWindowMs)
          this.#sentAt.shift();
        if (this.#sentAt.length >= budget) {
          // A tenth of a window more: lines can arrive closer together than they left.
          const waitMs = this.#sentAt[0]! + limits.floodWindowMs * 1.1 - now;
          this.#pumpTimer = setTimeout(() => this.pump(), waitMs);
          return;
        }
        this.#sentAt.push(now);
      }
      this.#write(this.#lines.shift()!);
    }
    this.#releaseWaiters();
  }

  /** Resolves when the outbox is empty, or the connection is gone. */
  drained(): Promise<void> {
    if (this.#lines.length === 0 || !this.#isConnected()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** The connection is gone (or not usable): stop pacing, and release whoever waits for the drain. */
  stop(): void {
    clearTimeout(this.#pumpTimer);
    this.#releaseWaiters();
  }

  #releaseWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}
