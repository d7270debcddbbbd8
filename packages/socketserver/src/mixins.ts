import type { BaseServer } from "./base-server.js";
import { TCPServer, UnixStreamServer } from "./tcp-server.js";
import { UDPServer, UnixDatagramServer } from "./udp-server.js";

// biome-ignore lint/suspicious/noExplicitAny: a mixin accepts any server constructor.
type ServerConstructor<S extends BaseServer = BaseServer> = new (...args: any[]) => S;

/** A server class `T` whose instances also have `M`; subclass it like any server class. */
export type Mixed<T extends ServerConstructor, M> = {
  new (...args: ConstructorParameters<T>): InstanceType<T> & M;
} & T;

/** What ThreadingMixIn adds. */
export interface ThreadingPolicy {
  blockOnClose: boolean;
  daemonThreads: boolean;
}

/**
 * Python's ThreadingMixIn, with an honest Node meaning. Node already runs every handler
 * concurrently on one event loop (I/O never blocks it), so what this adds is Python's shutdown
 * policy:
 * - `blockOnClose` (default true): `shutdown()` waits for handlers to finish (up to `drainTimeoutMs`).
 *   false: `shutdown()` resolves at once; handlers finish in the background (their signal aborted)
 *   and are destroyed at the drain deadline.
 * - `daemonThreads` (default false): true means handlers are not waited for at all: `shutdown()`
 *   destroys their connections at once.
 * For CPU-bound handlers use ForkingMixIn, which does use more cores.
 * @example
 * const ThreadingTCPServer = ThreadingMixIn(TCPServer);
 * const server = new ThreadingTCPServer({ port: 0 }, EchoHandler);
 * server.daemonThreads = true;
 */
export function ThreadingMixIn<T extends ServerConstructor>(Base: T): Mixed<T, ThreadingPolicy> {
  abstract class Threading extends Base implements ThreadingPolicy {
    /** `shutdown()` waits for handlers (up to `drainTimeoutMs`). Default true. */
    blockOnClose = true;
    /** `shutdown()` destroys handlers at once instead of waiting. Default false. */
    daemonThreads = false;

    protected override drainDeadlineMs(): number {
      return this.daemonThreads ? 0 : super.drainDeadlineMs();
    }

    protected override shutdownWaitsForHandlers(): boolean {
      return this.daemonThreads || this.blockOnClose;
    }
  }
  return Threading as unknown as Mixed<T, ThreadingPolicy>;
}

/** A TCPServer with Python's threading shutdown policy (`blockOnClose`, `daemonThreads`). */
export const ThreadingTCPServer = ThreadingMixIn(TCPServer);
export type ThreadingTCPServer = TCPServer & ThreadingPolicy;
/** A UDPServer with Python's threading shutdown policy. */
export const ThreadingUDPServer = ThreadingMixIn(UDPServer);
export type ThreadingUDPServer = UDPServer & ThreadingPolicy;
/** A UnixStreamServer with Python's threading shutdown policy. */
export const ThreadingUnixStreamServer = ThreadingMixIn(UnixStreamServer);
export type ThreadingUnixStreamServer = UnixStreamServer & ThreadingPolicy;
/** A UnixDatagramServer with Python's threading shutdown policy. */
export const ThreadingUnixDatagramServer = ThreadingMixIn(UnixDatagramServer);
export type ThreadingUnixDatagramServer = UnixDatagramServer & ThreadingPolicy;
