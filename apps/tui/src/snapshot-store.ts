/**
 * A scene controller's snapshot for `useSyncExternalStore`: replaced (never mutated) on every
 * change, with the listeners told once per turn of the event loop however many changes came in it.
 */
export class SnapshotStore<S extends object> {
  #snapshot: S;
  readonly #listeners = new Set<() => void>();
  #isScheduled = false;

  constructor(initial: S) {
    this.#snapshot = initial;
  }

  getSnapshot = (): S => this.#snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  /** A new snapshot with `patch` applied; listeners are told on the next turn. */
  patch(patch: Partial<S>): void {
    this.#snapshot = { ...this.#snapshot, ...patch };
    if (this.#isScheduled) return;
    this.#isScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Tells the listeners now (a final state, as the lab closes). */
  flush(): void {
    this.#isScheduled = false;
    for (const listener of [...this.#listeners]) listener();
  }
}
