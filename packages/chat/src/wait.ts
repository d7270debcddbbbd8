import type { EventEmitter } from "node:events";

/** Resolves on the first of `events` that `emitter` emits, or after `timeoutMs`, whichever comes first. */
export function firstEvent(
  emitter: EventEmitter,
  events: readonly string[],
  timeoutMs: number,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    function done() {
      clearTimeout(timer);
      for (const name of events) emitter.off(name, done);
      resolve();
    }
    for (const name of events) emitter.on(name, done);
  });
}
