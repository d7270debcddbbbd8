import cluster, { type Worker } from "node:cluster";
import os from "node:os";
import type { BaseServer, BoundAddress } from "./base-server.js";
import { NetworkError, type NetworkErrorCode, requirePositiveInt } from "./errors.js";
import { settleWithin } from "./internal.js";
import type { Mixed } from "./mixins.js";
import { TCPServer, UnixStreamServer } from "./tcp-server.js";
import type { ConnectionInfo, PeerAddress } from "./types.js";
import { UDPServer } from "./udp-server.js";

// biome-ignore lint/suspicious/noExplicitAny: a mixin accepts any server constructor.
type ServerConstructor<S extends BaseServer = BaseServer> = new (...args: any[]) => S;

/** Set in a worker's environment: the address the primary wants it to serve (JSON). */
const ENV = "NETLAB_FORK_WORKER";

/** Per-connection events a worker forwards to the primary, only those the primary listens for. */
const FORWARDED = ["open", "close", "error", "bytesIn", "bytesOut", "frameIn", "frameOut"] as const;
type Forwarded = (typeof FORWARDED)[number];

/** An error as it crosses the IPC channel. */
interface ErrorText {
  name: string;
  message: string;
  code?: NetworkErrorCode;
  hint?: string;
}

type WorkerMessage =
  | { type: "netlab:listening"; address: BoundAddress }
  | { type: "netlab:error"; code: NetworkErrorCode; message: string; hint?: string }
  | { type: "netlab:event"; name: Forwarded; info: ConnectionInfo; arg?: unknown }
  | { type: "netlab:connection-error"; error: ErrorText; peer: PeerAddress | undefined };

type PrimaryMessage = { type: "netlab:shutdown" } | { type: "netlab:wants"; events: Forwarded[] };

/** What ForkingMixIn adds. */
export interface ForkingPolicy {
  /** Worker processes to start (read by `listen()`). Default: the number of cores. */
  workers: number;
  /** The script each worker runs. Default: this program's own script (`process.argv[1]`). */
  workerScript: string | undefined;
  /** Node options for the workers. Default: this process's `process.execArgv`. */
  workerExecArgv: string[] | undefined;
  /** True inside a worker: this process serves requests; the primary only manages workers. */
  readonly isWorker: boolean;
  /** Pids of the workers running now (primary only). */
  readonly workerPids: number[];
}

/**
 * Python's ForkingMixIn, with an honest Node meaning: not one fork per request, but `workers`
 * processes started by `listen()` through `node:cluster`, all serving the same listening port, so a
 * CPU-bound handler scales to every core. As with fork(2), your program runs again in each worker:
 * it must build the same server there, and `server.isWorker` tells which side you are on. In a
 * worker the server is an ordinary server; in the primary `listen()` forks and waits until every
 * worker listens, `address` is theirs, and `shutdown()` shuts every worker down (each drains its
 * handlers within `drainTimeoutMs`) and waits for them to exit. A worker that dies while serving
 * is replaced. Handler state is per process: share state through the primary or a store.
 * The primary emits its workers' per-connection events (`open`, `close`, `error`, `bytesIn`, …)
 * as its own: a worker sends only those the primary has listeners for, and connection ids are
 * the primary's (unique across workers).
 * @example
 * const server = new ForkingTCPServer({ port: 0 }, PrimeHandler);
 * if (server.isWorker) await server.serveForever();
 * else { await server.listen(); await talkTo(server.address.port); await server.shutdown(); }
 */
export function ForkingMixIn<T extends ServerConstructor>(Base: T): Mixed<T, ForkingPolicy> {
  // The base's transport methods, called directly: TypeScript sees them as abstract on BaseServer.
  const base = Base.prototype as BaseServer;
  const baseAddress = (self: BaseServer): BoundAddress =>
    Reflect.get(Base.prototype, "address", self) as BoundAddress;
  abstract class Forking extends Base implements ForkingPolicy {
    workers = os.availableParallelism();
    workerScript: string | undefined = undefined;
    workerExecArgv: string[] | undefined = undefined;
    #workers = new Set<Worker>();
    #address: BoundAddress | undefined;
    #isPrimaryListening = false;
    #isStopping = false;
    /** Workers that reported listening (and so handle the shutdown message). */
    readonly #ready = new WeakSet<Worker>();
    /** The primary's info object per open worker connection, keyed by worker pid and the worker's id. */
    readonly #remote = new Map<string, ConnectionInfo>();
    #nextRemoteId = 1;
    /** In a worker: the listeners that forward each event the primary wants. */
    readonly #forwarders = new Map<Forwarded, (...args: unknown[]) => void>();

    // biome-ignore lint/suspicious/noExplicitAny: forwarded to the base server's constructor.
    constructor(...args: any[]) {
      super(...args);
      const wanted = process.env[ENV];
      if (cluster.isWorker && wanted) {
        // Serve exactly what the primary bound (its port 0 became a real port in the first worker).
        Object.assign(this.options, JSON.parse(wanted) as object);
      }
    }

    get isWorker(): boolean {
      return cluster.isWorker && process.env[ENV] !== undefined;
    }

    get workerPids(): number[] {
      return [...this.#workers].flatMap((w) => (w.process.pid === undefined ? [] : [w.process.pid]));
    }

    override get address(): BoundAddress {
      return this.#address ?? baseAddress(this);
    }

    override async listen(): Promise<void> {
      if (this.isWorker) {
        await this.#listenAsWorker();
        return;
      }
      if (!this.needsListen() || this.#isPrimaryListening) return;
      this.#isPrimaryListening = true;
      requirePositiveInt("workers", this.workers);
      cluster.setupPrimary({
        exec: this.workerScript ?? process.argv[1],
        args: process.argv.slice(2),
        execArgv: this.workerExecArgv ?? process.execArgv,
        // Structured clone, so frames that are bytes or objects reach the primary as they were.
        serialization: "advanced",
      });
      // A listener added or removed later changes what the workers send.
      const onListenersChanged = (name: string) => {
        if ((FORWARDED as readonly string[]).includes(name)) queueMicrotask(() => this.#sendWants());
      };
      this.on("newListener", onListenersChanged);
      this.on("removeListener", onListenersChanged);
      // Every worker asks for the same address (port 0 included): the cluster primary binds it once
      // and shares that one listening socket, so all workers get the same real port.
      const target = { host: this.options.host, port: this.options.port, path: this.options.path };
      const addresses = await Promise.all(Array.from({ length: this.workers }, () => this.#fork(target)));
      this.#address = addresses[0];
      this.markListening();
    }

    override async serverClose(): Promise<void> {
      if (this.isWorker) await base.serverClose.call(this);
    }

    override shutdown(): Promise<void> {
      if (this.isWorker) {
        // Then let go of the IPC channel, so the worker exits once its event loop is empty.
        return super.shutdown().then(() => {
          if (cluster.worker?.isConnected()) cluster.worker.disconnect();
        });
      }
      if (!this.#isPrimaryListening) return super.shutdown();
      return this.#shutdownWorkers().then(() => super.shutdown());
    }

    async #listenAsWorker(): Promise<void> {
      try {
        await base.listen.call(this);
      } catch (err) {
        // The primary reports it (its listen() rejects with this error); the worker just ends.
        const e = err as NetworkError;
        const message: WorkerMessage = {
          type: "netlab:error",
          code: e.code ?? "UNKNOWN",
          message: e.message,
        };
        if (e.hint) message.hint = e.hint;
        process.send?.(message, undefined, {}, () => process.exit(1));
        return new Promise(() => {});
      }
      process.on("message", (m: PrimaryMessage) => {
        if (m?.type === "netlab:shutdown") void this.shutdown();
        else if (m?.type === "netlab:wants") this.#forward(m.events);
      });
      process.send?.({ type: "netlab:listening", address: baseAddress(this) } satisfies WorkerMessage);
    }

    /** In a worker: forward exactly the events the primary listens for. */
    #forward(events: Forwarded[]): void {
      for (const name of FORWARDED) {
        const forwarder = this.#forwarders.get(name);
        if (events.includes(name) && !forwarder) {
          const send =
            name === "error" ? forwardError : (info: unknown, arg?: unknown) => forwardEvent(name, info, arg);
          this.#forwarders.set(name, send as (...args: unknown[]) => void);
          this.on(name, send);
        } else if (!events.includes(name) && forwarder) {
          this.#forwarders.delete(name);
          this.off(name, forwarder);
        }
      }
    }

    /** In the primary: tell every listening worker which events to send. */
    #sendWants(worker?: Worker): void {
      const message: PrimaryMessage = {
        type: "netlab:wants",
        events: FORWARDED.filter((name) => this.listenerCount(name) > 0),
      };
      for (const w of worker ? [worker] : this.#workers) {
        if (this.#ready.has(w) && w.isConnected()) w.send(message);
      }
    }

    /** In the primary: a worker's event, emitted as the primary's own with a stable info object. */
    #onWorkerEvent(worker: Worker, m: WorkerMessage): void {
      if (m.type === "netlab:connection-error") {
        const { code, message, hint, name } = m.error;
        const err = code
          ? new NetworkError(code, message, { hint })
          : Object.assign(new Error(message), { name });
        if (this.listenerCount("error") > 0) this.emit("error", err, m.peer);
        return;
      }
      if (m.type !== "netlab:event") return;
      const key = `${worker.process.pid}:${m.info.id}`;
      let info = this.#remote.get(key);
      if (!info) {
        info = { ...m.info, id: this.#nextRemoteId++ };
        this.#remote.set(key, info);
      } else {
        Object.assign(info, { ...m.info, id: info.id });
      }
      if (m.name === "close") this.#remote.delete(key);
      if (m.name === "open" || m.name === "close") this.emit(m.name, info);
      else this.emit(m.name, info, m.arg);
    }

    /** In the primary: a worker that died cannot say its connections closed; say it for it. */
    #closeWorkerConnections(worker: Worker): void {
      const prefix = `${worker.process.pid}:`;
      for (const [key, info] of this.#remote) {
        if (!key.startsWith(prefix)) continue;
        this.#remote.delete(key);
        this.emit("close", info);
      }
    }

    #fork(target: { host: string; port: number; path: string | undefined }): Promise<BoundAddress> {
      const worker = cluster.fork({ [ENV]: JSON.stringify(target) });
      this.#workers.add(worker);
      worker.on("message", (m: WorkerMessage) => this.#onWorkerEvent(worker, m));
      worker.on("exit", () => {
        this.#closeWorkerConnections(worker);
        this.#workers.delete(worker);
        // A worker that died while serving is replaced, so the server keeps its capacity.
        if (this.state === "running" && !this.#isStopping) {
          this.emit("workerExit", worker.process.pid);
          void this.#fork(target).catch((err) => {
            if (this.listenerCount("error") > 0) this.emit("error", err);
          });
        }
      });
      return new Promise((resolve, reject) => {
        const onMessage = (m: WorkerMessage) => {
          if (m?.type === "netlab:listening") {
            cleanup();
            this.#ready.add(worker);
            this.#sendWants(worker);
            resolve(m.address);
          } else if (m?.type === "netlab:error") {
            cleanup();
            reject(new NetworkError(m.code, m.message, { hint: m.hint }));
          }
        };
        const onExit = (code: number | null) => {
          cleanup();
          reject(
            new NetworkError("UNKNOWN", `worker ${worker.process.pid} exited (${code}) before listening`, {
              hint: "the worker script must build the same server and call listen() or serveForever()",
            }),
          );
        };
        const cleanup = () => {
          worker.off("message", onMessage);
          worker.off("exit", onExit);
        };
        worker.on("message", onMessage);
        worker.once("exit", onExit);
      });
    }

    async #shutdownWorkers(): Promise<void> {
      this.#isStopping = true;
      const workers = [...this.#workers];
      this.#workers.clear();
      const exited = Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) resolve();
              else w.once("exit", () => resolve());
            }),
        ),
      );
      for (const w of workers) {
        // A worker still starting has no connections to drain, and may not listen for messages yet.
        if (!this.#ready.has(w)) w.process.kill("SIGTERM");
        else if (w.isConnected()) w.send({ type: "netlab:shutdown" });
      }
      if (!(await settleWithin(exited, this.options.drainTimeoutMs + 2_000))) {
        for (const w of workers) if (!w.isDead()) w.process.kill("SIGKILL");
        await settleWithin(exited, 1_000);
      }
    }
  }
  return Forking as unknown as Mixed<T, ForkingPolicy>;
}

/** In a worker: one connection event to the primary (counters as they are now, not live getters). */
function forwardEvent(name: Forwarded, info: unknown, arg?: unknown): void {
  const i = info as ConnectionInfo;
  const snapshot: ConnectionInfo = {
    id: i.id,
    peer: i.peer,
    openedAt: i.openedAt,
    bytesIn: i.bytesIn,
    bytesOut: i.bytesOut,
    framesIn: i.framesIn,
    framesOut: i.framesOut,
  };
  const message: WorkerMessage = { type: "netlab:event", name, info: snapshot };
  if (arg !== undefined) message.arg = arg;
  if (!process.connected) return;
  try {
    process.send?.(message);
  } catch {
    // A frame that does not clone (it holds functions, say) goes without its payload.
    delete message.arg;
    process.send?.(message);
  }
}

/** In a worker: a connection's error to the primary, as text (an Error's fields do not all clone). */
function forwardError(err: unknown, peer?: PeerAddress): void {
  const e = err as Partial<NetworkError> | undefined;
  const error: ErrorText = { name: e?.name ?? "Error", message: e?.message ?? String(err) };
  if (e?.code) error.code = e.code;
  if (e?.hint) error.hint = e.hint;
  if (process.connected)
    process.send?.({ type: "netlab:connection-error", error, peer } satisfies WorkerMessage);
}

/** A TCPServer whose handlers run in `workers` processes sharing the port. */
export const ForkingTCPServer = ForkingMixIn(TCPServer);
export type ForkingTCPServer = TCPServer & ForkingPolicy;
/** A UDPServer whose handlers run in `workers` processes sharing the socket. */
export const ForkingUDPServer = ForkingMixIn(UDPServer);
export type ForkingUDPServer = UDPServer & ForkingPolicy;
/** A UnixStreamServer whose handlers run in `workers` processes sharing the socket. */
export const ForkingUnixStreamServer = ForkingMixIn(UnixStreamServer);
export type ForkingUnixStreamServer = UnixStreamServer & ForkingPolicy;
