import type net from "node:net";
import type { BaseServer } from "./base-server.js";
import {
  formatPeer,
  type HANDLED_LATER,
  kAbort,
  kAbortReason,
  kClose,
  kDestroy,
  kHandle,
  kStart,
  kStarted,
  RESOLVED,
} from "./internal.js";
import type { ConnectionInfo, Datagram, PeerAddress } from "./types.js";

let nextId = 1;

/**
 * One instance per request (a stream connection, or a datagram): the server calls `setup()`, then
 * `handle()`, then `finish()` — `finish()` runs even when `handle()` throws. Per-connection state
 * lives on `this`, state shared between connections on `this.server`.
 *
 * Override: `setup`, `handle`, `finish`. Read: `request`, `clientAddress`, `server`, `info`, `signal`.
 * Do not read subclass fields in a constructor (they are set after it); read them in `setup()`.
 * @example
 * class Hello extends StreamRequestHandler {
 *   override async handle() { await this.wfile.write(`hello ${this.clientAddress.address}\n`); }
 * }
 */
export abstract class BaseRequestHandler<S extends BaseServer = BaseServer> {
  readonly server: S;
  readonly request: net.Socket | Datagram;
  readonly clientAddress: PeerAddress;
  /** Live counters for this connection; the object every event for it carries. */
  readonly info: ConnectionInfo;
  // The controller is made when someone reads `signal`: most requests never do.
  #controller: AbortController | undefined;
  #isAborted = false;
  #abortReason: unknown;

  constructor(request: net.Socket | Datagram, clientAddress: PeerAddress, server: S) {
    this.request = request;
    this.clientAddress = clientAddress;
    this.server = server;
    this.info = this.createInfo(nextId++, clientAddress);
  }

  /**
   * Aborted when the server shuts down, the connection idles out or the peer goes away; `reason`
   * is a NetworkError (ABORTED, TIMEOUT, CONNECTION_RESET). Pass it to anything long-running.
   */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#isAborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** Whether `signal` is aborted (without making the signal). */
  protected get isAborted(): boolean {
    return this.#isAborted;
  }

  /** Why `signal` was aborted (without making the signal); undefined while it is not. */
  protected get abortReason(): unknown {
    return this.#abortReason;
  }

  /** Runs before `handle()`. Default: nothing. */
  setup(): void | Promise<void> {}

  /** Serves the request. Default: nothing. */
  handle(): void | Promise<void> {}

  /** Runs after `handle()`, even when it threw. Default: nothing. */
  finish(): void | Promise<void> {}

  /** @internal */
  [kStart](): void {
    this.start();
  }

  /** @internal */
  [kStarted](): void {
    this.started();
  }

  /** @internal handle(), or (a stream handler's handleFrame) serving by callbacks: HANDLED_LATER. */
  [kHandle](): void | Promise<void> | typeof HANDLED_LATER {
    return this.handle();
  }

  /** @internal */
  [kClose](): Promise<void> {
    return this.close();
  }

  /** @internal */
  [kAbort](reason: unknown): void {
    if (this.#isAborted) return;
    this.#isAborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.aborted();
  }

  /** @internal */
  get [kAbortReason](): unknown {
    return this.#abortReason;
  }

  /** @internal */
  [kDestroy](): void {
    this.destroy();
  }

  /** The info object `info` is; transports may return one that reads live counters. */
  protected createInfo(id: number, peer: PeerAddress): ConnectionInfo {
    return { id, peer, openedAt: Date.now(), bytesIn: 0, bytesOut: 0, framesIn: 0, framesOut: 0 };
  }

  /** Transport hook: before setup(). */
  protected start(): void {}
  /** Transport hook: after setup() returned (tunables such as `timeout` are read here). */
  protected started(): void {}
  /** Transport hook: after finish(); resolves when the transport is closed. */
  protected close(): Promise<void> {
    return RESOLVED;
  }
  /** Transport hook: close at once. */
  protected destroy(): void {}
  /** Transport hook: `signal` was just aborted (reads should end). */
  protected aborted(): void {}
}

/** `127.0.0.1:5001`, `[::1]:5001`, or a Unix peer, for messages. */
export function peerText(h: BaseRequestHandler): string {
  return formatPeer(h.clientAddress);
}
