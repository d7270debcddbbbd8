/** The options {@link Backoff} reads (see ChatClientOptions). */
export interface BackoffOptions {
  reconnectDelayMs: number;
  maxReconnectDelayMs: number;
  reconnectTimeoutMs: number;
}

/**
 * When to reconnect: the first delay is `reconnectDelayMs`, doubled after each failure up to
 * `maxReconnectDelayMs`; no attempt starts past `reconnectTimeoutMs` after the drop.
 */
export class Backoff {
  readonly #o: BackoffOptions;
  #attempt = 0;
  /** When the last connection dropped, for `reconnectTimeoutMs`. */
  #droppedAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BackoffOptions) {
    this.#o = options;
  }

  /** A connection was made: the next drop starts again from the first delay. */
  connected(): void {
    this.#attempt = 0;
  }

  dropped(): void {
    this.#droppedAt = Date.now();
  }

  /**
   * Runs `attempt` after the next delay. False, and nothing scheduled, when it would start past
   * `reconnectTimeoutMs`: time to give up.
   */
  schedule(attempt: () => void): boolean {
    const delay = Math.min(this.#o.maxReconnectDelayMs, this.#o.reconnectDelayMs * 2 ** this.#attempt);
    const elapsed = Date.now() - this.#droppedAt;
    if (elapsed + delay > this.#o.reconnectTimeoutMs) return false;
    this.#attempt++;
    this.#timer = setTimeout(attempt, delay);
    return true;
  }

  cancel(): void {
    clearTimeout(this.#timer);
  }
}
