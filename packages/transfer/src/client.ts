import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { Mutex } from "@netlab/concurrency";
import { formatSocketPath, withDefaults } from "@netlab/core";
import { ClientConnection, type ConnectionOptions, withTimeout } from "./client-connection.js";
import { download } from "./client-download.js";
import { type FolderFetch, type FolderFetchOptions, planFolderFetch } from "./client-folder.js";
import { list } from "./client-list.js";
import {
  type ClientOptions,
  DEFAULT_PORT,
  type DownloadOptions,
  type Progress,
  type ResumeInfo,
  type TransferResult,
} from "./client-options.js";
import { type UploadOptions, upload } from "./client-upload.js";
import { dial } from "./dial.js";
import { TransferError } from "./errors.js";
import { FOLDER_DEFAULTS } from "./folder.js";
import type { Entry } from "./header.js";

/**
 * A connection to a `lab files` server, reused for several files. Requests run one at a time:
 * a call made while another is in flight waits its turn (in call order) rather than failing.
 * Emits `progress` ({@link Progress}) and, when an upload meets a partial file on the server or a
 * resumed download one here, `resume` ({@link ResumeInfo}).
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
  constructor(socket: Socket, options: ConnectionOptions = {}) {
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
      start:
        options.path === undefined
          ? `lab files DIR --port ${options.port ?? DEFAULT_PORT}`
          : `lab files DIR --host ${formatSocketPath(options.path)}`,
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
   * the base name inside it) through `OUT.part`, verified, fsynced and renamed. With
   * `options.into`, `outPath` is a path inside that folder, resolved without leaving it.
   */
  async download(name: string, outPath?: string, options: DownloadOptions = {}): Promise<TransferResult> {
    return this.#exclusive(() => download(this.#conn, name, outPath, options));
  }

  /**
   * Files on the server: name, size, modification time; sorted by name. Names are the server's,
   * exactly: escape them before showing them to a person. More than `maxEntries` (default
   * 1 000 000) is a BAD_REQUEST, so a server cannot grow the list without bound. `prefix` (a
   * folder's name) asks for the files under it only.
   */
  async list(
    options: { maxEntries?: number; prefix?: string } = {},
  ): Promise<{ entries: Entry[]; truncated: boolean }> {
    return this.#exclusive(() => list(this.#conn, options.maxEntries, options.prefix));
  }

  /**
   * What a fetch of the server folder `folder` would download: each file under it with its path
   * relative to the folder, every name checked as untrusted input before anything is written (see
   * {@link planFolderFetch}). An empty folder or a missing one is NOT_FOUND.
   */
  async listFolder(folder: string, options: FolderFetchOptions = {}): Promise<FolderFetch> {
    const o = withDefaults(FOLDER_DEFAULTS, options);
    const prefix = folder.replace(/\/+$/, "");
    let listed: { entries: Entry[]; truncated: boolean };
    try {
      listed = await this.list({ maxEntries: o.maxFiles, prefix });
    } catch (err) {
      if (
        err instanceof TransferError &&
        err.code === "BAD_REQUEST" &&
        /listed more than/.test(err.message)
      ) {
        throw new TransferError(
          "TOO_LARGE",
          `${folder} on the server holds more than ${o.maxFiles} files; nothing was fetched`,
          {
            hint: "fetch a smaller folder, or raise --max-files",
          },
        );
      }
      throw err;
    }
    return planFolderFetch(prefix, listed, o);
  }

  /** Whether the connection is gone (a failure cut it): the next request would fail. */
  get closed(): boolean {
    return this.#conn.wire.closed;
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
