import { availableParallelism } from "node:os";
import { parentPort, Worker, type WorkerOptions } from "node:worker_threads";
import { abortedError, ConcurrencyError, checkInt, checkTimeout, timeoutError } from "./errors.js";
import type { WaitOptions } from "./wait-list.js";

/** Options for {@link startWorker}. */
export interface StartWorkerOptions extends Omit<WorkerOptions, "eval"> {
  /**
   * A daemon worker does not keep the process alive: when the main program is done, the process
   * exits and the worker is killed mid-work. A non-daemon worker (the default) is waited for:
   * the process exits only after it ends, as Python joins non-daemon threads at exit.
   */
  daemon?: boolean;
}

/** A started worker thread with Python-style `join`. */
export interface WorkerHandle {
  readonly worker: Worker;
  readonly daemon: boolean;
  /** Whether the worker is still running. */
  isAlive(): boolean;
  /** Resolves with the exit code once the worker ends. Rejects with `TIMEOUT` / `ABORTED`. */
  join(opts?: WaitOptions): Promise<number>;
  /** Stops the worker now; resolves with its exit code. */
  terminate(): Promise<number>;
}

/**
 * Starts `script` (a built `.js` file) in a worker thread.
 * @example
 * const w = startWorker(new URL("./tick.js", import.meta.url), { daemon: true });
 * // the process may exit while w still runs; a non-daemon worker would be waited for.
 */
export function startWorker(script: URL | string, opts: StartWorkerOptions = {}): WorkerHandle {
  const { daemon = false, ...workerOpts } = opts;
  const worker = new Worker(script, workerOpts);
  if (daemon) worker.unref();
  let exitCode: number | undefined;
  const exited = new Promise<number>((resolve) => {
    worker.once("exit", (code) => {
      exitCode = code;
      resolve(code);
    });
  });
  // An uncaught error ends the worker with exit code 1; join reports that code.
  worker.on("error", () => {});
  return {
    worker,
    daemon,
    isAlive: () => exitCode === undefined,
    join: (joinOpts = {}) => waitWithin(exited, "joining a worker", joinOpts),
    async terminate() {
      await worker.terminate();
      return exited;
    },
  };
}

/** Options for a {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Worker threads at most. Default: `os.availableParallelism()`. */
  size?: number;
  /** Daemon workers never keep the process alive, even while busy. Default false. */
  daemon?: boolean;
  /** Tasks waiting for a worker at most; `run` beyond it rejects with `QUEUE_FULL`. Default `Infinity`. */
  maxQueue?: number;
  /** Passed to each `new Worker` (`execArgv`, `env`, `resourceLimits`...). */
  workerOptions?: Omit<WorkerOptions, "eval">;
}

interface Job {
  input: unknown;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
}

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: unknown };

/**
 * Runs tasks on a few worker threads. The worker script calls {@link serveWorker} with the
 * function to run; `pool.run(input)` sends it one input and resolves with its result.
 *
 * Idle workers never keep the process alive. Busy non-daemon workers do (their tasks finish
 * before the process exits); busy daemon workers do not. A task that times out or is aborted
 * stops its worker (interrupting it for real) and a fresh one takes its place.
 * @example
 * // hash-worker.ts: serveWorker((text: string) => sha256(text));
 * await using pool = new WorkerPool<string, string>(new URL("./hash-worker.js", import.meta.url), { size: 2 });
 * const digest = await pool.run("hello", { timeout: 1000 });
 */
export class WorkerPool<In = unknown, Out = unknown> {
  readonly size: number;
  readonly daemon: boolean;
  readonly #script: URL | string;
  readonly #maxQueue: number;
  readonly #workerOptions: Omit<WorkerOptions, "eval">;
  readonly #slots = new Set<Slot>();
  readonly #pending: Job[] = [];
  #isClosed = false;
  #nextId = 0;
  /** Set by close(): called whenever a task ends, to see whether the pool has drained. */
  #onIdle: (() => void) | undefined;
  #drained: Promise<void> | undefined;

  constructor(script: URL | string, opts: WorkerPoolOptions = {}) {
    this.size = opts.size ?? availableParallelism();
    checkInt("size", this.size, 1);
    this.#maxQueue = opts.maxQueue ?? Number.POSITIVE_INFINITY;
    checkInt("maxQueue", this.#maxQueue, 0, true);
    this.daemon = opts.daemon ?? false;
    this.#script = script;
    this.#workerOptions = opts.workerOptions ?? {};
  }

  /** Tasks waiting for a free worker. */
  get queued(): number {
    return this.#pending.length;
  }

  /** Runs `input` on a worker; rejects with `WORKER_FAILED`, `TIMEOUT`, `ABORTED` or `QUEUE_FULL`. */
  run(input: In, opts: WaitOptions = {}): Promise<Out> {
    const { signal, timeout = Number.POSITIVE_INFINITY } = opts;
    checkTimeout(timeout);
    if (this.#isClosed) return Promise.reject(new ConcurrencyError("ABORTED", "the worker pool is closed"));
    if (signal?.aborted) return Promise.reject(abortedError("a pool task", signal));
    if (this.#pending.length >= this.#maxQueue) {
      return Promise.reject(
        new ConcurrencyError("QUEUE_FULL", `worker pool queue is full (maxQueue ${this.#maxQueue})`, {
          hint: "wait for tasks to finish, or raise maxQueue",
        }),
      );
    }
    return new Promise<Out>((resolve, reject) => {
      const job: Job = { input, resolve: resolve as (v: unknown) => void, reject, signal };
      const fail = (err: Error) => this.#cancel(job, err);
      if (timeout !== Number.POSITIVE_INFINITY) {
        job.timer = setTimeout(() => fail(timeoutError("a pool task", timeout)), timeout);
      }
      if (signal) {
        job.onAbort = () => fail(abortedError("a pool task", signal));
        signal.addEventListener("abort", job.onAbort, { once: true });
      }
      this.#pending.push(job);
      this.#dispatch();
    });
  }

  /** Stops taking tasks, waits for queued and running ones, then ends the workers. */
  async close(opts: WaitOptions = {}): Promise<void> {
    this.#isClosed = true;
    const left = () => [...this.#slots].filter((s) => s.job).length + this.#pending.length;
    if (left() > 0) {
      // One drain promise however many times close() is called.
      this.#drained ??= new Promise<void>((resolve) => {
        this.#onIdle = () => {
          if (left() === 0) resolve();
        };
      });
      await waitWithin(this.#drained, "closing a worker pool", opts);
    }
    await this.terminate();
  }

  /** Ends every worker now; running and queued tasks reject with `ABORTED`. */
  async terminate(): Promise<void> {
    this.#isClosed = true;
    const err = new ConcurrencyError("ABORTED", "the worker pool was terminated");
    for (const job of this.#pending.splice(0)) this.#settle(job, err);
    await Promise.all(
      [...this.#slots].map(async (slot) => {
        this.#slots.delete(slot);
        if (slot.job) this.#settle(slot.job, err);
        await slot.worker.terminate();
      }),
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #dispatch(): void {
    while (this.#pending.length > 0) {
      let slot = [...this.#slots].find((s) => !s.job);
      if (!slot) {
        if (this.#slots.size >= this.size) return;
        slot = this.#spawn();
      }
      const job = this.#pending.shift()!;
      slot.job = job;
      if (!this.daemon) slot.worker.ref();
      slot.worker.postMessage({ id: this.#nextId++, input: job.input });
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#script, this.#workerOptions);
    worker.unref();
    const slot: Slot = { worker };
    this.#slots.add(slot);
    worker.on("message", (reply: Reply) => {
      const job = slot.job;
      if (!job) return;
      slot.job = undefined;
      worker.unref();
      if (reply.ok) this.#settle(job, undefined, reply.value);
      else {
        this.#settle(
          job,
          new ConcurrencyError("WORKER_FAILED", `pool task failed: ${describe(reply.error)}`, {
            cause: reply.error,
          }),
        );
      }
      this.#dispatch();
      this.#onIdle?.();
    });
    const lost = (cause: unknown) => {
      if (!this.#slots.delete(slot)) return;
      if (slot.job) {
        this.#settle(
          slot.job,
          new ConcurrencyError("WORKER_FAILED", `pool worker died: ${describe(cause)}`, { cause }),
        );
        slot.job = undefined;
      }
      this.#dispatch();
      this.#onIdle?.();
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`exit code ${code}`)));
    return slot;
  }

  /** A timed-out or aborted job: dropped if queued, its worker stopped if running. */
  #cancel(job: Job, err: Error): void {
    const queuedAt = this.#pending.indexOf(job);
    if (queuedAt >= 0) this.#pending.splice(queuedAt, 1);
    for (const slot of this.#slots) {
      if (slot.job !== job) continue;
      slot.job = undefined;
      this.#slots.delete(slot);
      void slot.worker.terminate();
    }
    this.#settle(job, err);
    this.#dispatch();
    this.#onIdle?.();
  }

  #settle(job: Job, err: unknown, value?: unknown): void {
    clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    if (err !== undefined) job.reject(err);
    else job.resolve(value);
  }
}

/**
 * The worker side of a {@link WorkerPool}: call it once in the worker script with the function
 * that handles one input. Errors thrown by `fn` reject the caller's `run` with `WORKER_FAILED`.
 * @example serveWorker(async (n: number) => fib(n));
 */
export function serveWorker<In, Out>(fn: (input: In) => Out | Promise<Out>): void {
  if (!parentPort)
    throw new ConcurrencyError("INVALID_OPTION", "serveWorker() must run inside a worker thread");
  const port = parentPort;
  port.on("message", async ({ id, input }: { id: number; input: In }) => {
    try {
      port.postMessage({ id, ok: true, value: await fn(input) } satisfies Reply);
    } catch (error) {
      port.postMessage({ id, ok: false, error } satisfies Reply);
    }
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Awaits `p` within `timeout` / `signal` (TIMEOUT / ABORTED). */
function waitWithin<T>(p: Promise<T>, what: string, opts: WaitOptions): Promise<T> {
  const { signal, timeout = Number.POSITIVE_INFINITY } = opts;
  checkTimeout(timeout);
  if (signal?.aborted) return Promise.reject(abortedError(what, signal));
  if (timeout === Number.POSITIVE_INFINITY && !signal) return p;
  return new Promise<T>((resolve, reject) => {
    const timer =
      timeout === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => done(timeoutError(what, timeout)), timeout);
    const onAbort = () => done(abortedError(what, signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = (err?: Error, value?: T) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(value as T);
    };
    p.then((v) => done(undefined, v));
  });
}
