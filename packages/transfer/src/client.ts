import { createHash, type Hash } from "node:crypto";
import { EventEmitter } from "node:events";
import { type FileHandle, open, stat, unlink } from "node:fs/promises";
import type { Socket } from "node:net";
import path from "node:path";
import { Mutex } from "@netlab/concurrency";
import { connect, NetworkError } from "@netlab/socketserver";
import { alreadyExists, commitPart, exists } from "./commit.js";
import { fsError, isTransferErrorCode, TransferError } from "./errors.js";
import type { Entry, Header, HeaderOf } from "./header.js";
import { PART_OPEN_FLAGS, PART_SUFFIX } from "./names.js";
import { megabytesPerSecond } from "./size.js";
import { hashPrefix, receiveRange, STREAM_DEFAULTS, type StreamOptions, sendRange } from "./stream.js";
import { SocketWire } from "./wire.js";

/** Default port of `lab files`. */
export const DEFAULT_PORT = 5002;

/** Where to connect, and how long to try. */
export interface ClientOptions {
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 5002. */
  port?: number;
  /** Connect timeout in ms. Default 10 000. */
  timeoutMs?: number;
  /** Aborts the connection attempt and any transfer in progress. */
  signal?: AbortSignal;
  /** Read/write block sizes and sync cadence. */
  stream?: StreamOptions;
}

/** Options of one upload or download. */
export interface TransferOptions {
  /** Replace an existing file (atomically). Default false: ALREADY_EXISTS. */
  overwrite?: boolean;
  /** Continue from a partial file if its prefix matches; start over if it does not. Default false. */
  resume?: boolean;
  /** Compute and check SHA-256 on both sides. Default true. */
  verify?: boolean;
}

/** Progress of the file in flight, emitted as `progress` about once per MiB. */
export interface Progress {
  direction: "upload" | "download";
  /** Name on the server. */
  name: string;
  /** Bytes of the file done, counting a resumed prefix. */
  bytesDone: number;
  totalBytes: number;
  /** Where this transfer started (a resumed prefix), 0 otherwise. */
  offset: number;
  /** ms since this transfer started. */
  elapsedMs: number;
}

/** What a finished transfer reports (the `--json` summary has these fields). */
export interface TransferResult {
  direction: "upload" | "download";
  /** Name on the server. */
  name: string;
  /** The local file. */
  path: string;
  /** Size of the whole file in bytes. */
  bytes: number;
  /** Bytes that crossed the wire: less than `bytes` after a resume. */
  transferredBytes: number;
  /** Where a resumed transfer started; 0 otherwise. */
  offset: number;
  /** Hex SHA-256 of the whole file, checked by the receiver; undefined with verify: false. */
  sha256: string | undefined;
  seconds: number;
  /** transferredBytes per second, in MB (10^6). */
  mbps: number;
}

/**
 * A connection to a `lab files` server, reused for several files. Requests run one at a time:
 * a call made while another is in flight waits its turn (in call order) rather than failing.
 * Emits `progress` ({@link Progress}).
 * @example
 * await using client = await TransferClient.connect({ port: 5002 });
 * client.on("progress", (p) => console.error(p.bytesDone, "/", p.totalBytes));
 * const r = await client.upload("test.txt"); // r.sha256
 */
export class TransferClient extends EventEmitter<{ progress: [Progress] }> {
  readonly #wire: SocketWire;
  readonly #stream: StreamOptions;
  readonly #signal: AbortSignal | undefined;
  /** One request on the wire at a time; later calls queue behind it. */
  readonly #turn = new Mutex({ name: "transfer-client" });

  /** Wraps a connected socket (use {@link TransferClient.connect} to dial). */
  constructor(socket: Socket, options: Pick<ClientOptions, "stream" | "signal"> = {}) {
    super();
    socket.setNoDelay(true);
    this.#wire = new SocketWire(socket, { peer: "the server" });
    this.#stream = options.stream ?? {};
    this.#signal = options.signal;
  }

  /**
   * Connects to a file server. A server that is not running is a NetworkError CONNECTION_REFUSED:
   * `cannot connect to 127.0.0.1:5002: connection refused (is 'lab files' running?)`.
   */
  static async connect(options: ClientOptions = {}): Promise<TransferClient> {
    const host = options.host ?? "127.0.0.1";
    const port = options.port ?? DEFAULT_PORT;
    let socket: Socket;
    try {
      socket = await connect({ host, port, timeoutMs: options.timeoutMs ?? 10_000, signal: options.signal });
    } catch (err) {
      if (err instanceof NetworkError && err.code === "CONNECTION_REFUSED") {
        throw new NetworkError(err.code, `${err.message} (is 'lab files' running?)`, {
          hint: `start it with 'lab files DIR --port ${port}', or pass the right --host/--port`,
          cause: err.cause,
        });
      }
      throw err;
    }
    return new TransferClient(socket, options);
  }

  /**
   * Uploads `localPath` as `name` (default: its base name). The server writes `NAME.part`,
   * verifies the SHA-256, fsyncs, and renames; the result arrives once the file is visible.
   */
  async upload(
    localPath: string,
    options: TransferOptions & { name?: string } = {},
  ): Promise<TransferResult> {
    return this.#exclusive(() => this.#upload(localPath, options));
  }

  /**
   * Downloads `name` into `outPath` (default: its base name in the current folder; a folder gets
   * the base name inside it) through `OUT.part`, verified, fsynced and renamed.
   */
  async download(name: string, outPath?: string, options: TransferOptions = {}): Promise<TransferResult> {
    return this.#exclusive(() => this.#download(name, outPath, options));
  }

  /** Files on the server: name, size, modification time; sorted by name. */
  async list(): Promise<{ entries: Entry[]; truncated: boolean }> {
    return this.#exclusive(async () => {
      await this.#wire.writeHeader({ op: "list", v: 1 });
      const entries: Entry[] = [];
      // Each header carries ≥ 1 entry or ends the list; the server caps the count.
      for (;;) {
        const h = await this.#reply("entries", "listed");
        if (h.op === "listed") return { entries, truncated: h.truncated };
        entries.push(...h.entries);
      }
    });
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#wire.end().catch(() => {});
    this.#wire.destroy();
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

  /** The next header, which must be one of `ops`; an `error` header is thrown as its TransferError. */
  async #reply<K extends Header["op"]>(...ops: K[]): Promise<HeaderOf<K>> {
    const h = await this.#wire.readHeader();
    if (h === undefined) {
      throw new TransferError("CONNECTION_LOST", "the server closed the connection", {
        hint: "check the 'lab files' window for the reason",
      });
    }
    return this.#expect(h, ops);
  }

  #expect<K extends Header["op"]>(h: Header, ops: K[]): HeaderOf<K> {
    if (h.op === "error") throw remoteError(h);
    if (!(ops as string[]).includes(h.op)) {
      throw new TransferError(
        "BAD_REQUEST",
        `unexpected '${h.op}' header from the server (expected ${ops.join(" or ")})`,
      );
    }
    return h as HeaderOf<K>;
  }

  async #upload(localPath: string, options: TransferOptions & { name?: string }): Promise<TransferResult> {
    const name = options.name ?? path.basename(localPath);
    const verify = options.verify ?? true;
    const started = performance.now();
    const fh = await open(localPath, "r").catch((err) => {
      throw fsError(err, localPath);
    });
    try {
      const info = await fh.stat();
      if (!info.isFile()) throw new TransferError("NOT_A_FILE", `${localPath} is not a regular file`);
      const size = info.size;
      await this.#wire.writeHeader({
        op: "put",
        v: 1,
        name,
        size,
        overwrite: options.overwrite ?? false,
        resume: options.resume ?? false,
        verify,
      });
      const accept = await this.#reply("accept");
      let offset = 0;
      let hash: Hash | undefined;
      if (accept.offset > 0 && accept.offset <= size && accept.prefixSha256 !== undefined) {
        const prefix = await hashPrefix(fh, accept.offset, localPath);
        if (prefix.copy().digest("hex") === accept.prefixSha256) {
          offset = accept.offset;
          hash = prefix;
        }
      }
      if (!verify) hash = undefined;
      else hash ??= createHash("sha256");
      await this.#wire.writeHeader({ op: "data", offset });
      // The server may refuse mid-stream (disk full): watch for its reply while sending.
      const stop = new AbortController();
      const reply = this.#wire.readHeader().then(
        (h) => {
          stop.abort();
          return h;
        },
        (err: unknown) => {
          stop.abort();
          throw err;
        },
      );
      reply.catch(() => {});
      const progress = this.#progress("upload", name, size, offset, started);
      try {
        await sendRange(this.#wire, fh, offset, size, {
          hash,
          what: localPath,
          signal: anySignal(stop.signal, this.#signal),
          onBytes: progress,
          readBlockBytes: this.#stream.readBlockBytes ?? STREAM_DEFAULTS.readBlockBytes,
          rateBytesPerSecond: this.#stream.rateBytesPerSecond,
        });
        await this.#wire.writeHeader({ op: "end", sha256: hash?.digest("hex") });
      } catch (err) {
        if (this.#signal?.aborted) {
          // Ctrl-C: no reason to wait for the server; the stream is cut mid-file anyway.
          this.#wire.destroy();
          throw err;
        }
        // The server's own reason (NO_SPACE, ...) beats the broken pipe it caused.
        const h = await withTimeout(reply, 2_000).catch(() => undefined);
        // Cut mid-file, the connection cannot carry another request.
        this.#wire.destroy();
        if (h?.op === "error") throw remoteError(h);
        if (stop.signal.aborted || (err instanceof TransferError && err.code === "CONNECTION_LOST")) {
          throw lostDuringUpload(name);
        }
        throw err;
      }
      const h = await reply.catch((err) => {
        throw err instanceof TransferError && err.code === "CONNECTION_LOST" ? lostDuringUpload(name) : err;
      });
      if (h === undefined) throw lostDuringUpload(name);
      const done = this.#expect(h, ["done"]);
      const seconds = (performance.now() - started) / 1000;
      return {
        direction: "upload",
        name,
        path: localPath,
        bytes: size,
        transferredBytes: size - offset,
        offset,
        sha256: done.sha256,
        seconds,
        mbps: megabytesPerSecond(size - offset, seconds),
      };
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async #download(
    name: string,
    outPath: string | undefined,
    options: TransferOptions,
  ): Promise<TransferResult> {
    const verify = options.verify ?? true;
    const overwrite = options.overwrite ?? false;
    const started = performance.now();
    const base = name.split("/").pop() ?? name;
    let out = outPath ?? base;
    if (
      outPath !== undefined &&
      (outPath.endsWith("/") || (await stat(outPath).catch(() => undefined))?.isDirectory())
    ) {
      out = path.join(outPath, base);
    }
    if (!overwrite && (await exists(out))) throw alreadyExists(out, "here");
    const partPath = out + PART_SUFFIX;
    const hadPart = await exists(partPath);
    let fh: FileHandle | undefined = await open(partPath, PART_OPEN_FLAGS, 0o644).catch((err) => {
      throw fsError(err, `opening ${partPath}`);
    });
    let keepPart = true;
    let inBody = false;
    let received = 0;
    let size = 0;
    try {
      const have = options.resume ? (await fh.stat()).size : 0;
      let hash: Hash | undefined;
      let prefixSha256: string | undefined;
      if (have > 0) {
        hash = await hashPrefix(fh, have, partPath);
        prefixSha256 = hash.copy().digest("hex");
      }
      await this.#wire.writeHeader({ op: "get", v: 1, name, offset: have, prefixSha256, verify });
      let file: HeaderOf<"file">;
      try {
        file = await this.#reply("file");
      } catch (err) {
        if (!hadPart) keepPart = false;
        throw err;
      }
      size = file.size;
      const offset = file.offset;
      received = offset;
      if (offset === 0) hash = undefined;
      if (verify) hash ??= createHash("sha256");
      else hash = undefined;
      await fh.truncate(offset);
      const progress = this.#progress("download", name, size, offset, started);
      inBody = true;
      await receiveRange(this.#wire, fh, offset, size, {
        ...this.#stream,
        hash,
        what: name,
        signal: this.#signal,
        onBytes: (n) => {
          received = n;
          progress(n);
        },
      });
      received = size;
      const end = await this.#reply("end");
      inBody = false;
      const sha256 = hash?.digest("hex");
      if (sha256 !== undefined && end.sha256 !== sha256) {
        keepPart = false;
        throw new TransferError(
          "CHECKSUM_MISMATCH",
          `${name}: SHA-256 mismatch (received ${sha256.slice(0, 12)}…, server says ${String(end.sha256).slice(0, 12)}…); the file was not kept`,
          { hint: "download it again" },
        );
      }
      if (this.#stream.fsync !== false) {
        await fh.sync().catch((err) => {
          throw fsError(err, `syncing ${partPath}`);
        });
      }
      await fh.close();
      fh = undefined;
      await commitPart(partPath, out, overwrite, out, this.#stream.fsync !== false);
      const seconds = (performance.now() - started) / 1000;
      return {
        direction: "download",
        name,
        path: out,
        bytes: size,
        transferredBytes: size - offset,
        offset,
        sha256,
        seconds,
        mbps: megabytesPerSecond(size - offset, seconds),
      };
    } catch (err) {
      // Cut mid-file, the connection cannot carry another request.
      if (inBody) this.#wire.destroy();
      if (err instanceof TransferError && err.code === "NO_SPACE") keepPart = false;
      if (err instanceof TransferError && err.code === "CONNECTION_LOST" && keepPart) {
        throw new TransferError(
          "CONNECTION_LOST",
          `connection lost after ${received} of ${size} bytes of ${name}; the partial file is kept in ${partPath}`,
          { hint: "run the same command again with --resume to continue", cause: err },
        );
      }
      throw err;
    } finally {
      await fh?.close().catch(() => {});
      if (!keepPart) await unlink(partPath).catch(() => {});
    }
  }

  #progress(
    direction: Progress["direction"],
    name: string,
    totalBytes: number,
    offset: number,
    started: number,
  ) {
    this.emit("progress", {
      direction,
      name,
      bytesDone: offset,
      totalBytes,
      offset,
      elapsedMs: performance.now() - started,
    });
    return (bytesDone: number) => {
      this.emit("progress", {
        direction,
        name,
        bytesDone,
        totalBytes,
        offset,
        elapsedMs: performance.now() - started,
      });
    };
  }
}

function remoteError(h: HeaderOf<"error">): TransferError {
  const code = isTransferErrorCode(h.code) ? h.code : "IO_ERROR";
  return new TransferError(code, h.message, { hint: h.hint });
}

function lostDuringUpload(name: string): TransferError {
  return new TransferError("CONNECTION_LOST", `connection to the server lost while uploading ${name}`, {
    hint: `the server keeps ${name}${PART_SUFFIX}; run the same command again with --resume to continue`,
  });
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b === undefined ? a : AbortSignal.any([a, b]);
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
