import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { Mutex } from "@netlab/concurrency";
import { ClientConnection, withTimeout } from "./client-connection.js";
import { download } from "./client-download.js";
import { list } from "./client-list.js";
import {
  type ClientOptions,
  DEFAULT_PORT,
  type Progress,
  type ResumeInfo,
  type TransferOptions,
  type TransferResult,
} from "./client-options.js";
import { type UploadOptions, upload } from "./client-upload.js";
import { dial } from "./dial.js";
import type { Entry } from "./header.js";

/**
 * A connection to a `lab files` server, reused for several files. Requests run one at a time:
 * a call made while another is in flight waits its turn (in call order) rather than failing.
 * Emits `progress` ({@link Progress}) and, when an upload meets a partial file on the server,
 * `resume` ({@link ResumeInfo}).
 * @example
 * await using client = await TransferClient.connect({ port: 5002 });
 * client.on("progress", (p) => console.error(p.bytesDone, "/", p.totalBytes));
 * const r = await client.upload("test.txt"); // r.sha256
 */
export class TransferClient extends EventEmitter<{ progress: [Progress]; resume: [ResumeInfo] }> {
  readonly #conn: ClientConnection;
  readonly #signal: AbortSignal | undefined;
  /** One request on the wire at a time; later calls queue behind it. */
  readonly #turn = new Mutex({ name: "transfer-client" });

  /** Wraps a connected socket (use {@link TransferClient.connect} to dial). */
  constructor(
    socket: Socket,
    options: Pick<ClientOptions, "stream" | "signal" | "stallTimeoutMs" | "token"> = {},
  ) {
    super();
    socket.setNoDelay(true);
    this.#conn = new ClientConnection(
      socket,
      options,
      (p) => this.emit("progress", p),
      (r) => this.emit("resume", r),
    );
    this.#signal = options.signal;
  }

  /**
   * Connects to a file server. A server that is not running is a NetworkError CONNECTION_REFUSED:
   * `cannot connect to 127.0.0.1:5002: connection refused (is 'lab files' running?)`.
   */
  static async connect(options: ClientOptions = {}): Promise<TransferClient> {
    const socket = await dial({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? DEFAULT_PORT,
      path: options.path,
      family: options.family,
      connectTimeoutMs: options.connectTimeoutMs,
      signal: options.signal,
      what: "'lab files'",
      start: `lab files DIR --port ${options.port ?? DEFAULT_PORT}`,
      tls: options.tls,
    });
    return new TransferClient(socket, options);
  }

  /**
   * Uploads `localPath` as `name` (default: its base name). The server writes `NAME.part`,
   * verifies the SHA-256, fsyncs, and renames; the result arrives once the file is visible.
   */
  async upload(localPath: string, options: UploadOptions = {}): Promise<TransferResult> {
    return this.#exclusive(() => upload(this.#conn, localPath, options));
  }

  /**
   * Downloads `name` into `outPath` (default: its base name in the current folder; a folder gets
   * the base name inside it) through `OUT.part`, verified, fsynced and renamed.
   */
  async download(name: string, outPath?: string, options: TransferOptions = {}): Promise<TransferResult> {
    return this.#exclusive(() => download(this.#conn, name, outPath, options));
  }

  /**
   * Files on the server: name, size, modification time; sorted by name. Names are the server's,
   * exactly: escape them before showing them to a person. More than `maxEntries` (default
   * 1 000 000) is a BAD_REQUEST, so a server cannot grow the list without bound.
   */
  async list(options: { maxEntries?: number } = {}): Promise<{ entries: Entry[]; truncated: boolean }> {
    return this.#exclusive(() => list(this.#conn, options.maxEntries));
  }

  /**
   * Closes the connection: a clean end if the server takes it within a moment, else at once (a
   * server that stopped reading cannot hold the client open).
   */
  async close(): Promise<void> {
    if (this.#signal?.aborted) {
      this.#conn.wire.destroy();
      return;
    }
    await withTimeout(
      this.#conn.wire.end().catch(() => {}),
      CLOSE_GRACE_MS,
    );
    this.#conn.wire.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Runs `fn` once the requests before it are done. The client's signal also cancels a request
   * still waiting its turn (a ConcurrencyError ABORTED).
   */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#turn.runExclusive(fn, { signal: this.#signal });
  }
}

/** How long {@link TransferClient.close} waits for a clean end before it cuts the connection, in ms. */
const CLOSE_GRACE_MS = 1_000;
