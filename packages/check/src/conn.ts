import net from "node:net";
import { type Duplex, PassThrough } from "node:stream";
import { formatHostPort, formatSocketPath, type SocketTarget } from "@netlab/core";
import {
  createStage,
  normalizeToxic,
  Pipeline,
  type Stage,
  type StageHost,
  type ToxicSpec,
  toxicRandom,
} from "@netlab/proxy";
import { CheckError } from "./errors.js";

/** How a connection's input ended, as far as we have seen. */
export type EndState = "open" | "fin" | "reset" | "closed";

/** One direction of a transcript: the bytes kept (up to a bound) and how many went by. */
export interface TranscriptSide {
  /** The first `keptBytes` bytes of this direction. */
  bytes: Buffer;
  /** Every byte that went this way, kept or not. */
  total: number;
}

/** A test connection's record: what we sent, what came back, and how it ended. */
export interface Transcript {
  label: string;
  sent: TranscriptSide;
  received: TranscriptSide;
  end: EndState;
}

/** Limits of one {@link Conn}. */
export interface ConnOptions {
  /** Bytes kept from what the target sends; past it the socket is paused and `capped` set. Default 16 MiB. */
  maxReceiveBytes: number;
  /** Bytes of what we send kept for the transcript. Default 1 MiB. */
  keepSentBytes: number;
  /** Connect timeout, ms. Default 2 000. */
  connectTimeoutMs: number;
  /**
   * Faults on this connection, as `lab proxy` toxics run in-process (one implementation): `upstream`
   * acts on what we send (slicer, latency, reset_peer…), `downstream` on what we receive
   * (bandwidth: a slow reader). Default none.
   */
  toxics: ToxicSpec[];
  /** Seeds the toxics' draws, with `id`. Default 1. */
  seed: number;
  /** This connection's number in its test, for the toxics' draws. Default 1. */
  id: number;
}

/** {@link ConnOptions} defaults. */
export const CONN_DEFAULTS: ConnOptions = {
  maxReceiveBytes: 16 * 1024 * 1024,
  keepSentBytes: 1024 * 1024,
  connectTimeoutMs: 2_000,
  toxics: [],
  seed: 1,
  id: 1,
};

/** How long a connect refused with EAGAIN (a Unix socket's full backlog) waits before it tries again, ms. */
const CONNECT_RETRY_MS = 20;

/**
 * A target as every netlab command writes it: `127.0.0.1:5001`, `[::1]:5001`, `unix:/path`, `@name`.
 * @example formatTarget({ path: "/tmp/s.sock" }) // "unix:/tmp/s.sock"
 */
export function formatTarget(target: SocketTarget): string {
  return "path" in target ? formatSocketPath(target.path) : formatHostPort(target.host, target.port);
}

/** Bytes a fault pipeline holds before it pauses its source: a slow-reader toxic pushes back on the server. */
const FAULT_BUFFER_BYTES = 64 * 1024;

/** A wait that ran out of time, or was cut by the test's deadline; `what` says what we waited for. */
export class WaitTimeout extends Error {
  /** The wait's own limit, ms, when it had one shorter than the test's deadline. */
  readonly ms: number | undefined;

  constructor(
    readonly what: string,
    ms?: number,
    /** The connection that waited: the report's excerpt shows its bytes, not another client's. */
    readonly conn?: Conn,
  ) {
    super(`timed out waiting for ${what}`);
    this.ms = ms !== undefined && Number.isFinite(ms) ? ms : undefined;
  }
}

/** A connect that was not accepted in time: no connection, so no bytes to show. */
export class ConnectTimeout extends WaitTimeout {}

/**
 * A client connection a test drives: writes through an optional fault pipeline, keeps what the
 * target sends in one growing buffer with a read cursor, and records a transcript. Every wait
 * ends when the test's signal aborts, so a hanging target never holds a test past its deadline.
 */
export class Conn {
  readonly socket: net.Socket;
  readonly label: string;
  readonly #options: ConnOptions;
  readonly #signal: AbortSignal;
  /** What the target sent, in a buffer that doubles as it fills: each byte is copied once. */
  #store = Buffer.allocUnsafe(64 * 1024);
  #length = 0;
  #receivedTotal = 0;
  #sent: Buffer[] = [];
  #sentKept = 0;
  #sentTotal = 0;
  #end: EndState = "open";
  #capped = false;
  #writeError: Error | undefined;
  readonly #waiters = new Set<() => void>();
  /** Read cursor into {@link received}: bytes before it were consumed by `readLine` and friends. */
  pos = 0;
  /** Where our writes go: the socket, or the upstream fault pipeline's input. */
  readonly #out: Duplex;
  /** Where the target's bytes come from: the socket, or the downstream fault pipeline's output. */
  readonly #in: Duplex;
  readonly #stages: Stage[] = [];
  readonly #pipelines: Pipeline[] = [];

  readonly #isUnix: boolean;

  private constructor(
    socket: net.Socket,
    label: string,
    options: ConnOptions,
    signal: AbortSignal,
    isUnix: boolean,
  ) {
    this.socket = socket;
    this.#isUnix = isUnix;
    this.label = label;
    this.#options = options;
    this.#signal = signal;
    socket.setNoDelay(true);
    this.#out = socket;
    this.#in = socket;
    const toxics = options.toxics.map((t) => normalizeToxic(t));
    const host: StageHost = {
      reset: () => this.reset(),
      close: () => this.destroy(),
      sharedBandwidth: new Map(),
    };
    for (const stream of ["upstream", "downstream"] as const) {
      const mine = toxics.filter((t) => t.stream === stream);
      if (mine.length === 0) continue;
      socket.allowHalfOpen = true;
      const pass = new PassThrough();
      const stages = mine.map((t) => createStage(t, host, toxicRandom(options.seed, t.name, options.id)));
      const [source, dest] = stream === "upstream" ? [pass, socket] : [socket, pass];
      const pipeline = new Pipeline(source, dest, {
        connection: options.id,
        direction: stream,
        maxBufferedBytes: FAULT_BUFFER_BYTES,
        onEnd: () => {},
      });
      pipeline.setStages(stages);
      this.#stages.push(...stages);
      this.#pipelines.push(pipeline);
      if (stream === "upstream") this.#out = pass;
      else this.#in = pass;
    }
    socket.once("connect", () => {
      for (const stage of this.#stages) stage.start();
    });
    socket.once("close", () => {
      for (const stage of this.#stages) stage.stop();
      for (const p of this.#pipelines) p.stop();
    });
    this.#in.on("data", (d: Buffer) => {
      this.#receivedTotal += d.length;
      this.#append(d);
      if (this.#receivedTotal >= this.#options.maxReceiveBytes) {
        // A target that sends forever: keep what we have, stop reading, let the test fail on it.
        this.#capped = true;
        this.#in.pause();
      }
      this.#notify();
    });
    this.#in.on("end", () => {
      if (this.#end === "open") this.#end = "fin";
      this.#notify();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "ECONNRESET" || err.code === "EPIPE") this.#end = "reset";
      this.#writeError ??= err;
      this.#notify();
    });
    socket.on("close", () => {
      if (this.#end === "open") this.#end = "closed";
      this.#notify();
    });
    signal.addEventListener("abort", () => this.#notify(), { once: true });
  }

  /**
   * Connects to `target` (`{ host, port }`, or `{ path }` of a Unix socket); throws NOT_LISTENING
   * when refused (or no socket is at the path), ConnectTimeout when it takes too long.
   */
  static open(
    target: SocketTarget,
    label: string,
    signal: AbortSignal,
    options: Partial<ConnOptions> = {},
  ): Promise<Conn> {
    const o = { ...CONN_DEFAULTS, ...options };
    const where = formatTarget(target);
    const deadline = performance.now() + o.connectTimeoutMs;
    return new Promise((resolve, reject) => {
      let socket: net.Socket;
      let conn: Conn;
      const timer = setTimeout(
        () => fail(new ConnectTimeout(`a connection to ${where}`, o.connectTimeoutMs)),
        o.connectTimeoutMs,
      );
      let retry: NodeJS.Timeout | undefined;
      const onAbort = () => fail(new ConnectTimeout(`a connection to ${where}`));
      signal.addEventListener("abort", onAbort, { once: true });
      function attempt() {
        socket = net.connect(target);
        conn = new Conn(socket, label, o, signal, "path" in target);
        socket.once("connect", onConnect);
        socket.once("error", onError);
      }
      function cleanup() {
        clearTimeout(timer);
        clearTimeout(retry);
        signal.removeEventListener("abort", onAbort);
        socket.off("connect", onConnect);
        socket.off("error", onError);
      }
      function fail(err: Error) {
        cleanup();
        socket.destroy();
        reject(err);
      }
      function onConnect() {
        cleanup();
        resolve(conn);
      }
      function onError(err: NodeJS.ErrnoException) {
        // A Unix socket's full listen backlog refuses at once (EAGAIN) where TCP drops the SYN and
        // the kernel retries it: retrying here grades both the same (a backlog of 5 passes both).
        if (err.code === "EAGAIN") {
          if (performance.now() + CONNECT_RETRY_MS >= deadline) {
            fail(new ConnectTimeout(`a connection to ${where}`, o.connectTimeoutMs));
            return;
          }
          socket.off("connect", onConnect);
          socket.destroy();
          retry = setTimeout(attempt, CONNECT_RETRY_MS);
          return;
        }
        fail(
          err.code === "ECONNREFUSED" || (err.code === "ENOENT" && "path" in target)
            ? new CheckError(
                "NOT_LISTENING",
                err.code === "ENOENT"
                  ? `no socket at ${where}: nothing listens there`
                  : `connection to ${where} refused: nothing listens there`,
                {
                  hint:
                    "path" in target
                      ? "is the server running, listening on that socket? (or give a command: lab check PROFILE -- CMD {socket})"
                      : "is the server running, on that port? (or give a command: lab check PROFILE -- CMD {port})",
                  cause: err,
                },
              )
            : err,
        );
      }
      attempt();
    });
  }

  /** Everything received so far (a view: valid until the next read grows the buffer). */
  get received(): Buffer {
    return this.#store.subarray(0, this.#length);
  }

  #append(d: Buffer): void {
    if (this.#length + d.length > this.#store.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#store.length * 2, this.#length + d.length));
      this.#store.copy(grown, 0, 0, this.#length);
      this.#store = grown;
    }
    d.copy(this.#store, this.#length);
    this.#length += d.length;
  }

  get receivedBytes(): number {
    return this.#receivedTotal;
  }

  get sentBytes(): number {
    return this.#sentTotal;
  }

  get end(): EndState {
    return this.#end;
  }

  /** True once the target sent more than `maxReceiveBytes`. */
  get capped(): boolean {
    return this.#capped;
  }

  /** Writes `data`; resolves once the kernel took it, rejects if the connection broke. */
  write(data: Uint8Array | string): Promise<void> {
    const bytes =
      typeof data === "string"
        ? Buffer.from(data)
        : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.#record(bytes);
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed || this.#out.writableEnded) {
        reject(this.#writeError ?? new Error("connection already closed"));
        return;
      }
      this.#out.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Writes without waiting; for pipelines that pace themselves. */
  writeNow(data: Buffer): boolean {
    this.#record(data);
    if (this.socket.destroyed || this.#out.writableEnded) return false;
    return this.#out.write(data);
  }

  /** Half-closes: sends FIN (after what a fault pipeline still holds), keeps reading. */
  endWrite(): void {
    this.#out.end();
  }

  /** Whether this connection is over a Unix socket (no RST, no Nagle), not TCP. */
  get isUnix(): boolean {
    return this.#isUnix;
  }

  /**
   * Aborts with a TCP RST (SO_LINGER 0), as a crashed or impatient client does. A Unix socket has
   * no RST (Node refuses resetAndDestroy on one): it is closed at once instead, the nearest thing.
   */
  reset(): void {
    if (this.#isUnix) this.socket.destroy();
    else this.socket.resetAndDestroy();
  }

  /** Closes both ways at once (no RST unless unread data forces one). */
  destroy(): void {
    this.socket.destroy();
  }

  /** Stops reading: the kernel's buffers fill and the target's writes block. */
  pause(): void {
    this.#in.pause();
  }

  resume(): void {
    if (!this.#capped) this.#in.resume();
  }

  /**
   * Resolves with `check()`'s first non-undefined value, re-checked at each event on the socket;
   * rejects with a WaitTimeout naming `what` after `timeoutMs` or when the test's deadline passes.
   */
  waitFor<T>(what: string, check: () => T | undefined, timeoutMs = Number.POSITIVE_INFINITY): Promise<T> {
    const first = check();
    if (first !== undefined) return Promise.resolve(first);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = () => {
        let value: T | undefined;
        try {
          value = check();
        } catch (err) {
          done();
          reject(err);
          return;
        }
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (this.#signal.aborted) {
          done();
          reject(new WaitTimeout(what, undefined, this));
        }
      };
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          done();
          reject(new WaitTimeout(what, timeoutMs, this));
        }, timeoutMs);
      }
      this.#waiters.add(waiter);
      if (this.#signal.aborted) waiter();
    });
  }

  /**
   * The next line (without its `\n`) from the cursor on, or `undefined` if input ended first.
   * The cursor moves past it.
   */
  readLine(timeoutMs?: number, what = "a line"): Promise<Buffer | undefined> {
    return this.waitFor(
      what,
      () => {
        const buf = this.received;
        const nl = buf.indexOf(10, this.pos);
        if (nl >= 0) {
          const line = buf.subarray(this.pos, nl);
          this.pos = nl + 1;
          return { line };
        }
        if (this.#end !== "open" || this.#capped) return { line: undefined };
        return undefined;
      },
      timeoutMs,
    ).then((r) => r.line);
  }

  /** Waits until `n` bytes are received (or input ends); returns them from the cursor on. */
  async readBytes(n: number, timeoutMs?: number, what = `${n} bytes`): Promise<Buffer> {
    await this.waitFor(
      what,
      () => (this.received.length - this.pos >= n || this.#end !== "open" || this.#capped ? true : undefined),
      timeoutMs,
    );
    const out = this.received.subarray(this.pos, Math.min(this.received.length, this.pos + n));
    this.pos += out.length;
    return out;
  }

  /** Waits for the end of input (FIN, RST or close); returns how it ended. */
  waitEnd(timeoutMs?: number, what = "the connection to end"): Promise<EndState> {
    return this.waitFor(
      what,
      () => (this.#end !== "open" ? this.#end : this.#capped ? "open" : undefined),
      timeoutMs,
    );
  }

  /** A copy of the transcript so far. */
  transcript(): Transcript {
    const received = this.received;
    return {
      label: this.label,
      sent: { bytes: Buffer.concat(this.#sent), total: this.#sentTotal },
      received: { bytes: received, total: this.#receivedTotal },
      end: this.#end,
    };
  }

  #record(bytes: Buffer): void {
    this.#sentTotal += bytes.length;
    const room = this.#options.keepSentBytes - this.#sentKept;
    if (room > 0) {
      const kept = bytes.length <= room ? Buffer.from(bytes) : Buffer.from(bytes.subarray(0, room));
      this.#sent.push(kept);
      this.#sentKept += kept.length;
    }
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }
}
