import { NetworkError } from "./errors.js";

// Package-private members shared by servers and handlers. Symbols keep them off the public API.

/** handler[kStart](), handler[kStarted](), handler[kClose](): the transport hooks around setup/handle/finish. */
export const kStart: unique symbol = Symbol("netlab.start");
export const kStarted: unique symbol = Symbol("netlab.started");
export const kClose: unique symbol = Symbol("netlab.close");
/**
 * handler[kHandle](): runs handle(), or starts serving by callbacks and returns HANDLED_LATER; then
 * the handler calls server[kHandled](handler, hasFailed, failure) once, when it is done.
 */
export const kHandle: unique symbol = Symbol("netlab.handle");
export const kHandled: unique symbol = Symbol("netlab.handled");
/** What handler[kHandle]() returns when the handler will call server[kHandled] itself. */
export const HANDLED_LATER: unique symbol = Symbol("netlab.handledLater");
/** handler[kAbort](reason): aborts the handler's signal; reads end, writes still flush. */
export const kAbort: unique symbol = Symbol("netlab.abort");
/** handler[kAbortReason]: why `signal` was aborted, undefined while it is not. */
export const kAbortReason: unique symbol = Symbol("netlab.abortReason");
/** handler[kDestroy](): closes the connection now, dropping unsent data. */
export const kDestroy: unique symbol = Symbol("netlab.destroy");
/** server[kWants]: which per-connection events have listeners (kept current by the server). */
export const kWants: unique symbol = Symbol("netlab.wants");
/** server[kClosing]: shutdown has started; handlers close without lingering. */
export const kClosing: unique symbol = Symbol("netlab.closing");
/** handler[kReadParked]: a read waits for bytes (the writer's cork heuristic asks). */
export const kReadParked: unique symbol = Symbol("netlab.readParked");
/** handler[kWriteGone](cause): the error a write gets once the connection is over. */
export const kWriteGone: unique symbol = Symbol("netlab.writeGone");
/** handler[kSlowConsumer](queuedBytes): the writer's queue passed maxQueuedBytes; cut the peer. */
export const kSlowConsumer: unique symbol = Symbol("netlab.slowConsumer");

/** The per-connection events, computed only when someone listens. */
export interface Wants {
  bytesIn: boolean;
  bytesOut: boolean;
  frameIn: boolean;
  frameOut: boolean;
}

/** A promise that never needs allocating again: what a write that did not fill the buffer returns. */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Node errno codes that mean the peer went away: normal life for a server, not a bug. */
const PEER_GONE = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
  "ERR_SOCKET_CLOSED",
  "ABORT_ERR",
]);

/** Whether `err` only says that the connection ended (peer reset, shutdown, idle timeout). */
export function isConnectionGone(err: unknown): boolean {
  if (err instanceof NetworkError) {
    return (
      err.code === "CONNECTION_RESET" ||
      err.code === "ABORTED" ||
      err.code === "IDLE_TIMEOUT" ||
      err.code === "FRAME_TIMEOUT" ||
      err.code === "SLOW_CONSUMER"
    );
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return (code !== undefined && PEER_GONE.has(code)) || (err as Error | undefined)?.name === "AbortError";
}

/** A peer for logs: core's one formatter (IPv4-mapped shown as IPv4, IPv6 bracketed). */
export { formatPeer } from "@netlab/core";

/** Rejects nothing, resolves after `ms` or when `promise` settles, whichever is first. */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) {
    await promise.then(
      () => undefined,
      () => undefined,
    );
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timedOut,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
