import diagnostics from "node:diagnostics_channel";
import { EventEmitter } from "node:events";
import { debuglog } from "node:util";
import { Event } from "@netlab/concurrency";
import { withDefaults } from "@netlab/core";
import type { BaseRequestHandler } from "./base-handler.js";
import { NetworkError, requireInt, requireMs, requirePositiveInt } from "./errors.js";
import {
  formatPeer,
  HANDLED_LATER,
  isConnectionGone,
  kAbort,
  kAbortReason,
  kClose,
  kClosing,
  kDestroy,
  kHandle,
  kHandled,
  kStart,
  kStarted,
  kWants,
  RESOLVED,
  settleWithin,
  type Wants,
} from "./internal.js";
import { tapListen, wireChannel } from "./tap.js";
import {
  type CloseReason,
  type ConnectionInfo,
  type PeerAddress,
  type ResolvedServerOptions,
  SERVER_DEFAULTS,
  type ServerOptions,
} from "./types.js";

/**
 * Published with `{ server, info }` when a connection opens (and `{ server, info, closed: true }`
 * when it closes), for tools that watch every server in the process.
 */
export const connectionChannel = diagnostics.channel("netlab:server:connection");
const debug = debuglog("netlab");
/** #endRun: the handler did not fail (a handler may throw undefined, so undefined cannot say it). */
const NO_FAILURE: unique symbol = Symbol("no failure");

/** A handler class: the server makes one instance per request. */
// biome-ignore lint/suspicious/noExplicitAny: handler constructors take the transport's request type.
export type HandlerClass = new (request: any, clientAddress: PeerAddress, server: any) => BaseRequestHandler;

/** Where a server is bound. For Unix sockets: `host` is the path, `port` 0. */
export interface BoundAddress {
  host: string;
  port: number;
  family: string;
}

/** Options for {@link BaseServer.serveForever}. */
export interface ServeOptions {
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** How often `serviceActions()` runs, in ms. Default 500. Shutdown never waits for it. */
  pollInterval?: number;
}

/** Server lifecycle: idle (made) → running (listening) → closing (shutdown started) → closed. */
export type ServerState = "idle" | "running" | "closing" | "closed";

/**
 * What every server does, whatever the transport: accept requests, run one handler per request,
 * enforce limits, shut down promptly. Subclasses supply the transport (`listen`, `serverClose`).
 *
 * Call: `listen()`, `serveForever()`, `handleRequest()`, `shutdown()`, `serverClose()`.
 * Override: `verifyRequest(peer)`, `handleError(err, peer)`, `handleTimeout()`, `serviceActions()`.
 * Events: `listening`, `open`(info), `close`(info), `bytesIn`(info, n), `bytesOut`(info, n),
 * `frameIn`(info, frame), `frameOut`(info, frame), `error`(err, peer), `refuse`(peer) when full —
 * per-connection events are only computed while someone listens.
 * @example
 * await using server = new TCPServer({ port: 0 }, EchoHandler);
 * await server.listen();
 * console.log(server.address.port);
 * await server.serveForever({ signal });
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface below only adds typed event overloads.
export abstract class BaseServer extends EventEmitter {
  /** The options, with defaults filled in. */
  readonly options: ResolvedServerOptions;
  readonly Handler: HandlerClass;
  /** ms `handleRequest()` waits before calling `handleTimeout()`. From `options.timeout`. */
  timeout: number;

  /** @internal */
  readonly [kWants]: Wants = { bytesIn: false, bytesOut: false, frameIn: false, frameOut: false };
  /** @internal */
  [kClosing] = false;

  #state: ServerState = "idle";
  readonly #controller = new AbortController();
  readonly #connections = new Set<BaseRequestHandler>();
  /** Called when the last connection closes (set while shutdown waits for that). */
  #onIdle: (() => void) | undefined;
  /** Requests accepted while nobody serves (before serveForever, between handleRequest calls). */
  #pending: unknown[] = [];
  #pendingWaiter: (() => void) | undefined;
  #isServing = false;
  /** One permit per connection slot (handlers alive plus requests being verified); none when unlimited. */
  /** Connection slots taken (handlers alive plus requests being verified), against maxConnections. */
  #slotsInUse = 0;
  #shutdown: Promise<void> | undefined;
  /** Set when shutdown has finished. */
  readonly #closed = new Event();
  /** handleRequest() waiting for a handler that serves by callbacks (HANDLED_LATER) to be done. */
  #runEnds: Map<BaseRequestHandler, (ended: Promise<void>) => void> | undefined;

  constructor(options: ServerOptions, Handler: HandlerClass) {
    super();
    const o = withDefaults(SERVER_DEFAULTS, options) as ResolvedServerOptions;
    // Node's own check comes only at listen(), as a RangeError that is not a NetworkError.
    requireInt("port", o.port, { min: 0, max: 65_535 });
    requirePositiveInt("maxConnections", o.maxConnections, { allowInfinity: true });
    requirePositiveInt("requestQueueSize", o.requestQueueSize, { allowInfinity: true });
    requireMs("idleTimeoutMs", o.idleTimeoutMs);
    requireMs("frameTimeoutMs", o.frameTimeoutMs);
    requireMs("drainTimeoutMs", o.drainTimeoutMs);
    requireMs("timeout", o.timeout);
    this.options = o;
    this.timeout = o.timeout;
    this.Handler = Handler;
    const wants = this[kWants];
    this.on("newListener", (name: string) => {
      if (name in wants) wants[name as keyof Wants] = true;
    });
    this.on("removeListener", (name: string) => {
      if (name in wants) wants[name as keyof Wants] = this.listenerCount(name) > 0;
    });
  }

  /** Binds and listens; resolves when ready. Throws NetworkError ADDRESS_IN_USE, PERMISSION_DENIED, ADDRESS_NOT_AVAILABLE. */
  abstract listen(): Promise<void>;
  /** Where the server is bound; `port` is the real one once listening. */
  abstract get address(): BoundAddress;
  /** Stops accepting (closes the listening socket). Connections being handled go on. Twice is harmless. */
  abstract serverClose(): Promise<void>;
  /** Turns a request away because the server is full (a stream gets one `ERR` line). */
  protected abstract refuse(request: unknown): void;
  /** Closes a request that will get no handler (verifyRequest said no, or shutdown). */
  protected abstract discard(request: unknown): void;
  /** The peer of a request, or undefined when it is already gone. */
  protected abstract peerOf(request: unknown): PeerAddress | undefined;

  /** idle → running → closing → closed. */
  get state(): ServerState {
    return this.#state;
  }

  /**
   * For `listen()`: whether there is listening to do (not when it already listens). A server that
   * was shut down does not come back, as in Python: SERVER_CLOSED, instead of a listen() that
   * returns as if it listened.
   */
  protected needsListen(): boolean {
    if (this.#state === "closing" || this.#state === "closed") {
      throw new NetworkError("SERVER_CLOSED", "this server was shut down: it cannot listen again", {
        hint: "make a new server object to listen again",
      });
    }
    return this.#state === "idle";
  }

  /** Aborted when shutdown starts. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The handlers alive now. */
  get connections(): ReadonlySet<BaseRequestHandler> {
    return this.#connections;
  }

  /**
   * Listens if needed, then handles every request until shut down (by `shutdown()` or `signal`).
   * Resolves once shutdown has finished. Unlike Python's, shutdown does not wait for a poll.
   */
  async serveForever(opts: ServeOptions = {}): Promise<void> {
    const { signal, pollInterval = 500 } = opts;
    if (this.#state === "idle") await this.listen();
    if (this.#state !== "running") return this.#closed.wait();
    const stop = () => void this.shutdown();
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    let ticker: NodeJS.Timeout | undefined;
    if (Number.isFinite(pollInterval) && pollInterval > 0) {
      ticker = setInterval(() => this.#serviceActionsSafely(), pollInterval);
      ticker.unref();
    }
    this.#isServing = true;
    for (const request of this.#takePending()) this.#processSafely(request);
    try {
      await this.#closed.wait();
    } finally {
      this.#isServing = false;
      clearInterval(ticker);
      signal?.removeEventListener("abort", stop);
    }
  }

  /**
   * Handles one request: waits up to `timeout` ms for one (calling `handleTimeout()` if none came),
   * then runs its handler to the end. Listens first if needed.
   */
  async handleRequest(): Promise<void> {
    if (this.#state === "idle") await this.listen();
    if (this.#state !== "running") return;
    let request = this.#pending.shift();
    if (request === undefined) {
      const arrived = new Promise<void>((resolve) => {
        this.#pendingWaiter = resolve;
      });
      await settleWithin(Promise.race([arrived, this.#closed.wait()]), this.timeout);
      this.#pendingWaiter = undefined;
      request = this.#pending.shift();
    }
    if (request === undefined) {
      if (this.#state === "running") this.handleTimeout();
      return;
    }
    await this.#process(request, true);
    this.#serviceActionsSafely();
  }

  /** Whether to serve a peer; false closes the connection before a handler exists. Default true. */
  verifyRequest(_peer: PeerAddress): boolean | Promise<boolean> {
    return true;
  }

  /**
   * Called when a handler throws (a peer that went away is not an error). Default: when nobody
   * listens to `error`, one line to the `log` option (silent unless given); the server keeps
   * serving either way.
   */
  handleError(err: unknown, peer?: PeerAddress): void {
    if (this.listenerCount("error") > 0) return;
    const message = err instanceof Error ? err.message : String(err);
    this.options.log(`netlab: error handling request from ${formatPeer(peer)}: ${message}`);
  }

  /** Called by `handleRequest()` when `timeout` passed with no request. Default: nothing. */
  handleTimeout(): void {}

  /** Called every `pollInterval` ms while serving, and after each `handleRequest()`. Default: nothing. */
  serviceActions(): void {}

  /**
   * Stops at once: stops accepting, aborts every handler's signal (their reads end), waits up to
   * `drainTimeoutMs` for handlers to finish, then destroys what is left. Twice is harmless.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** How long handlers get to finish after shutdown starts before they are destroyed (ms). */
  protected drainDeadlineMs(): number {
    return this.options.drainTimeoutMs;
  }

  /** Whether `shutdown()` resolves only after handlers finished (true) or at once, draining in the background. */
  protected shutdownWaitsForHandlers(): boolean {
    return true;
  }

  /** What the tap's `listen` event calls this server's transport. Default "tcp". */
  protected wireTransport(): "tcp" | "unix" | "udp" {
    return "tcp";
  }

  /** Subclasses call this once bound. */
  protected markListening(): void {
    this.#state = "running";
    if (wireChannel.hasSubscribers) {
      const { host, port } = this.address;
      const transport = this.wireTransport();
      const family = transport === "unix" ? "unix" : host.includes(":") ? "IPv6" : "IPv4";
      tapListen(transport, { address: host, port, family });
    }
    this.emit("listening");
  }

  /** Subclasses call this for each request that arrives. */
  protected acceptRequest(request: unknown): void {
    if (this.#state !== "running") {
      this.discard(request);
    } else if (this.#isServing) {
      this.#processSafely(request);
    } else if (this.#pending.length >= this.options.requestQueueSize) {
      // Like a full listen backlog: not served, closed (no ERR line: the server is not full, just not serving).
      this.discard(request);
    } else {
      this.#pending.push(request);
      this.#pendingWaiter?.();
    }
  }

  #takePending(): unknown[] {
    const pending = this.#pending;
    this.#pending = [];
    return pending;
  }

  /** #process for fire-and-forget callers: an overridden refuse/discard that throws is reported. */
  #processSafely(request: unknown): void {
    try {
      this.#process(request).catch(this.#reportUnknown);
    } catch (err) {
      this.#reportError(err, undefined);
    }
  }

  readonly #reportUnknown = (err: unknown): void => this.#reportError(err, undefined);

  /**
   * Verifies the request and runs its handler. Without an overridden `verifyRequest` nothing is
   * awaited here: the handler's run is the only suspended function a connection keeps.
   */
  #process(request: unknown, isAwaited = false): Promise<void> {
    const peer = this.peerOf(request);
    if (!peer) return this.#discard(request);
    // A plain counter, not a Semaphore: nothing waits for a slot, and no release closure per connection.
    if (this.#slotsInUse >= this.options.maxConnections) {
      this.emit("refuse", peer);
      this.refuse(request);
      return RESOLVED;
    }
    this.#slotsInUse++;
    if (this.verifyRequest === BaseServer.prototype.verifyRequest) {
      return this.#start(request, peer, true, isAwaited);
    }
    return this.#verifyThenStart(request, peer, isAwaited);
  }

  #discard(request: unknown): Promise<void> {
    this.discard(request);
    return RESOLVED;
  }

  async #verifyThenStart(request: unknown, peer: PeerAddress, isAwaited: boolean): Promise<void> {
    let isAllowed: boolean;
    try {
      isAllowed = await untilAborted(this.verifyRequest(peer), this.signal);
    } catch (err) {
      this.#reportError(err, peer);
      isAllowed = false;
    }
    return this.#start(request, peer, isAllowed, isAwaited);
  }

  /** Runs the request's handler. The slot #process took is given back once: here, or when #run ends. */
  #start(request: unknown, peer: PeerAddress, isAllowed: boolean, isAwaited: boolean): Promise<void> {
    let handler: BaseRequestHandler | undefined;
    if (isAllowed && this.#state === "running") {
      try {
        handler = new this.Handler(request, peer, this);
      } catch (err) {
        // A constructor that throws is a handler bug: report it, close, keep serving.
        this.#reportError(err, peer);
      }
    }
    if (!handler) {
      this.#slotsInUse--;
      return this.#discard(request);
    }
    return this.#run(handler, peer, isAwaited);
  }

  /**
   * setup → handle → finish (runs even when handle threw) → the transport's close, then the
   * bookkeeping. Hooks that return nothing are not awaited. While handle() runs, a connection
   * keeps only two reactions on its promise here, not a suspended async function (~0.2 KiB less
   * per idle connection). A handler that serves by callbacks (StreamRequestHandler.handleFrame)
   * keeps not even those: it calls [kHandled] when it is done.
   */
  #run(handler: BaseRequestHandler, peer: PeerAddress, isAwaited: boolean): Promise<void> {
    this.#connections.add(handler);
    if (this.#state !== "running") handler[kAbort](this.signal.reason);
    this.emit("open", handler.info);
    if (connectionChannel.hasSubscribers) connectionChannel.publish({ server: this, info: handler.info });
    let setup: void | Promise<void>;
    try {
      handler[kStart]();
      setup = handler.setup();
    } catch (err) {
      return this.#endRun(handler, peer, false, err);
    }
    if (setup === undefined) return this.#handle(handler, peer, isAwaited);
    return setup.then(
      () => this.#handle(handler, peer, isAwaited),
      (err: unknown) => this.#endRun(handler, peer, false, err),
    );
  }

  #handle(handler: BaseRequestHandler, peer: PeerAddress, isAwaited: boolean): Promise<void> {
    try {
      handler[kStarted]();
    } catch (err) {
      return this.#endRun(handler, peer, false, err);
    }
    let handled: void | Promise<void> | typeof HANDLED_LATER;
    try {
      handled = handler[kHandle]();
    } catch (err) {
      return this.#endRun(handler, peer, true, err);
    }
    if (handled === undefined) return this.#endRun(handler, peer, true, NO_FAILURE);
    if (handled === HANDLED_LATER) {
      if (!isAwaited) return RESOLVED;
      return new Promise<void>((resolve) => {
        this.#runEnds ??= new Map();
        this.#runEnds.set(handler, resolve);
      });
    }
    return handled.then(
      () => this.#endRun(handler, peer, true, NO_FAILURE),
      (err: unknown) => this.#endRun(handler, peer, true, err),
    );
  }

  /**
   * A handler that returned HANDLED_LATER is done (its input ended, or it stopped or threw): finish,
   * close and the bookkeeping, as when a handle() promise settles. Once per handler.
   * @internal
   */
  [kHandled](handler: BaseRequestHandler, hasFailed: boolean, failure?: unknown): void {
    const ended = this.#endRun(handler, handler.clientAddress, true, hasFailed ? failure : NO_FAILURE);
    const resolve = this.#runEnds?.get(handler);
    if (resolve === undefined) {
      ended.catch(this.#reportUnknown);
      return;
    }
    this.#runEnds?.delete(handler);
    resolve(ended);
  }

  /** finish (when setup got through), the transport's close, then the bookkeeping; never rejects for the handler's errors. */
  async #endRun(
    handler: BaseRequestHandler,
    peer: PeerAddress,
    runsFinish: boolean,
    failure: unknown,
  ): Promise<void> {
    try {
      if (runsFinish) {
        // As in `try { handle() } finally { finish() }`: an error from finish() replaces handle()'s.
        try {
          const finished = handler.finish();
          if (finished !== undefined) await finished;
        } catch (err) {
          failure = err;
        }
      }
      const closing = handler[kClose]();
      if (closing !== RESOLVED) await closing;
      if (failure !== NO_FAILURE) throw failure;
    } catch (err) {
      if (!(isConnectionGone(err) || (handler.signal.aborted && err === handler.signal.reason))) {
        this.#reportError(err, peer);
      } else {
        debug("connection %s ended: %s", formatPeer(peer), (err as Error)?.message ?? err);
      }
    } finally {
      this.#connections.delete(handler);
      if (this.#connections.size === 0 && this.#onIdle) this.#onIdle();
      this.#slotsInUse--;
      handler.info.closeReason ??= closeReasonOf(handler[kAbortReason], failure);
      this.emit("close", handler.info);
      if (connectionChannel.hasSubscribers) {
        connectionChannel.publish({ server: this, info: handler.info, closed: true });
      }
    }
  }

  #reportError(err: unknown, peer: PeerAddress | undefined): void {
    if (this.listenerCount("error") > 0) this.emit("error", err, peer);
    try {
      this.handleError(err, peer);
    } catch {
      // handleError must not take the server down.
    }
  }

  #serviceActionsSafely(): void {
    try {
      this.serviceActions();
    } catch (err) {
      this.#reportError(err, undefined);
    }
  }

  async #doShutdown(): Promise<void> {
    const wasListening = this.#state === "running";
    this.#state = "closing";
    this[kClosing] = true;
    const reason = new NetworkError("ABORTED", "the server is shutting down");
    this.#controller.abort(reason);
    this.#pendingWaiter?.();
    try {
      if (wasListening) await this.serverClose();
    } catch {
      // Closing the listener can only fail if it is already closed.
    }
    for (const request of this.#takePending()) this.discard(request);
    for (const handler of this.#connections) handler[kAbort](reason);
    const drained = this.#drain();
    if (this.shutdownWaitsForHandlers()) await drained;
    this.#state = "closed";
    this.#closed.set();
  }

  /** Resolves when no handler is alive. */
  #whenIdle(): Promise<void> {
    if (this.#connections.size === 0) return RESOLVED;
    return new Promise<void>((resolve) => {
      const before = this.#onIdle;
      this.#onIdle = () => {
        this.#onIdle = undefined;
        before?.();
        resolve();
      };
    });
  }

  async #drain(): Promise<void> {
    const all = () => this.#whenIdle();
    if (await settleWithin(all(), this.drainDeadlineMs())) return;
    for (const handler of this.#connections) handler[kDestroy]();
    // Handlers parked on I/O end now; one stuck elsewhere is left behind, its connection gone.
    await settleWithin(all(), 100);
  }
}

/**
 * A verdict, or false once `signal` aborts: a verifyRequest still pending at shutdown would otherwise
 * keep its connection open (and the process alive) after shutdown() resolved.
 */
function untilAborted(verdict: boolean | Promise<boolean>, signal: AbortSignal): boolean | Promise<boolean> {
  if (typeof verdict === "boolean") return verdict;
  if (signal.aborted) return false;
  return new Promise<boolean>((resolve, reject) => {
    const onAbort = () => resolve(false);
    signal.addEventListener("abort", onAbort, { once: true });
    verdict.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** A listener for one of {@link BaseServer}'s events, by name. */
export type ServerListener<E extends keyof ServerEvents> = (...args: ServerEvents[E]) => void;

/** The events every server emits, with their arguments (per-connection ones cost nothing unless listened to). */
export interface ServerEvents {
  listening: [];
  open: [info: ConnectionInfo];
  close: [info: ConnectionInfo];
  bytesIn: [info: ConnectionInfo, bytes: number];
  bytesOut: [info: ConnectionInfo, bytes: number];
  /** A decoded frame (a datagram's bytes for UDP). */
  frameIn: [info: ConnectionInfo, frame: unknown];
  frameOut: [info: ConnectionInfo, frame: unknown];
  /** A handler's error (or the listening socket's, without a peer); a listener replaces the default log line. */
  error: [err: unknown, peer: PeerAddress | undefined];
  /** A connection turned away by `maxConnections`. */
  refuse: [peer: PeerAddress];
}

// Typed overloads for the events above, so `server.on("close", (info) => …)` knows `info`; the
// EventEmitter signature stays last for the events subclasses add.
export interface BaseServer {
  on<E extends keyof ServerEvents>(event: E, listener: ServerListener<E>): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for subclasses' events.
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once<E extends keyof ServerEvents>(event: E, listener: ServerListener<E>): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for subclasses' events.
  once(event: string | symbol, listener: (...args: any[]) => void): this;
  off<E extends keyof ServerEvents>(event: E, listener: ServerListener<E>): this;
  // biome-ignore lint/suspicious/noExplicitAny: the EventEmitter signature, kept for subclasses' events.
  off(event: string | symbol, listener: (...args: any[]) => void): this;
}

/** Why a connection ended, from why its signal was aborted (timeouts, shutdown) or how its handler ended. */
function closeReasonOf(abortReason: unknown, failure: unknown): CloseReason {
  const code = abortReason instanceof NetworkError ? abortReason.code : undefined;
  if (code === "IDLE_TIMEOUT") return "idle-timeout";
  if (code === "FRAME_TIMEOUT") return "frame-timeout";
  if (code === "SLOW_CONSUMER") return "slow-consumer";
  if (code === "ABORTED") return "shutdown";
  if (failure === NO_FAILURE) return "closed";
  return isConnectionGone(failure) ? "reset" : "error";
}
