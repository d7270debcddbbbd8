import { createHash, type Hash } from "node:crypto";
import { EventEmitter } from "node:events";
import { type FileHandle, open, stat, statfs, unlink } from "node:fs/promises";
import type { Socket } from "node:net";
import path from "node:path";
import { Mutex } from "@netlab/concurrency";
import { connect, NetworkError } from "@netlab/socketserver";
import { alreadyExists, commitPart, exists } from "./commit.js";
import { fsError, isTransferErrorCode, TransferError } from "./errors.js";
import type { Entry, Header, HeaderOf } from "./header.js";
import { PART_OPEN_FLAGS, PART_SUFFIX } from "./names.js";
import { formatBytes, megabytesPerSecond } from "./size.js";
import { hashPrefix, receiveRange, STREAM_DEFAULTS, type StreamOptions, sendRange } from "./stream.js";
import { SocketWire } from "./wire.js";

/** Default port of `lab files`. */
export const DEFAULT_PORT = 5002;

/** Defaults of {@link ClientOptions} and {@link TransferOptions}. */
export const CLIENT_DEFAULTS = {
  /** curl's `--connect-timeout` is the model; 10 s is plenty on any network a lab runs on. */
  connectTimeoutMs: 10_000,
  /** Long enough for a busy server's fsync of a large file, short enough that a dead one is noticed. */
  stallTimeoutMs: 30_000,
  /** Most entries a listing may bring (a hostile server could otherwise send them forever). */
  maxListEntries: 1_000_000,
  /** Longest error message or hint taken from the server, in characters; the rest is cut. */
  maxRemoteTextChars: 1_000,
} as const;

/** Where to connect, and how long to wait. */
export interface ClientOptions {
  /** Default "127.0.0.1". */
  host?: string;
  /** Default 5002. */
  port?: number;
  /** Give up connecting after this many ms (a NetworkError CONNECT_TIMEOUT). Default 10 000. */
  connectTimeoutMs?: number;
  /** @deprecated The old name of {@link ClientOptions.connectTimeoutMs}. */
  timeoutMs?: number;
  /**
   * Give up (a TransferError STALLED) when, while waiting on the server, no byte moves in either
   * direction for this many ms. Default 30 000; Infinity waits forever.
   */
  stallTimeoutMs?: number;
  /**
   * Aborts the connection attempt and any transfer in progress at once (an ABORTED error); a
   * download keeps its `.part`, with every byte received, for a resume.
   */
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
  /**
   * Downloads only: the largest file accepted, in bytes, checked against the size the server
   * announces before anything is written (TOO_LARGE). Default: the space free on the output's
   * disk (fs.statfs), plus the resumable `.part` already there.
   */
  maxSizeBytes?: number;
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
  constructor(socket: Socket, options: Pick<ClientOptions, "stream" | "signal" | "stallTimeoutMs"> = {}) {
    super();
    socket.setNoDelay(true);
    this.#wire = new SocketWire(socket, {
      peer: "the server",
      stallTimeoutMs: options.stallTimeoutMs ?? CLIENT_DEFAULTS.stallTimeoutMs,
      signal: options.signal,
    });
    this.#stream = options.stream ?? {};
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
      connectTimeoutMs: options.connectTimeoutMs ?? options.timeoutMs,
      signal: options.signal,
      what: "'lab files'",
      start: `lab files DIR --port ${options.port ?? DEFAULT_PORT}`,
    });
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

  /**
   * Files on the server: name, size, modification time; sorted by name. Names are the server's,
   * exactly: escape them before showing them to a person. More than `maxEntries` (default
   * 1 000 000) is a BAD_REQUEST, so a server cannot grow the list without bound.
   */
  async list(options: { maxEntries?: number } = {}): Promise<{ entries: Entry[]; truncated: boolean }> {
    const maxEntries = options.maxEntries ?? CLIENT_DEFAULTS.maxListEntries;
    return this.#exclusive(async () => {
      await this.#wire.writeHeader({ op: "list", v: 1 });
      const entries: Entry[] = [];
      for (;;) {
        const h = await this.#reply("entries", "listed");
        if (h.op === "listed") return { entries, truncated: h.truncated };
        if (entries.length + h.entries.length > maxEntries) {
          this.#wire.destroy();
          throw new TransferError("BAD_REQUEST", `the server listed more than ${maxEntries} files`, {
            hint: "is that a 'lab files' server? it caps its listings far below this",
          });
        }
        for (const e of h.entries) entries.push(e);
      }
    });
  }

  /**
   * Closes the connection: a clean end if the server takes it within a moment, else at once (a
   * server that stopped reading cannot hold the client open).
   */
  async close(): Promise<void> {
    if (this.#signal?.aborted) {
      this.#wire.destroy();
      return;
    }
    await withTimeout(
      this.#wire.end().catch(() => {}),
      CLOSE_GRACE_MS,
    );
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
    const h = await this.#readHeader();
    if (h === undefined) {
      throw new TransferError("CONNECTION_LOST", "the server closed the connection", {
        hint: "check the 'lab files' window for the reason",
      });
    }
    return this.#expect(h, ops);
  }

  /**
   * The next header from the server. One that fails its schema (an impossible size or time, a
   * malformed checksum) ends the connection: nothing after it can be trusted to line up.
   */
  async #readHeader(): Promise<Header | undefined> {
    try {
      return await this.#wire.readHeader();
    } catch (err) {
      if (!(err instanceof TransferError) || err.code !== "BAD_REQUEST") throw err;
      this.#wire.destroy();
      throw new TransferError("BAD_REQUEST", `the server sent a ${err.message}`, {
        hint: "is that a 'lab files' server (of this version)? check --host and --port",
        cause: err,
      });
    }
  }

  #expect<K extends Header["op"]>(h: Header, ops: K[]): HeaderOf<K> {
    if (h.op === "error") throw remoteError(h);
    if (!(ops as string[]).includes(h.op)) {
      this.#wire.destroy();
      throw new TransferError(
        "BAD_REQUEST",
        `unexpected '${h.op}' header from the server (expected ${ops.join(" or ")})`,
        { hint: "is that a 'lab files' server (of this version)? check --host and --port" },
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
      if (accept.offset > size) {
        this.#wire.destroy();
        throw new TransferError(
          "BAD_REQUEST",
          `the server claims ${accept.offset} bytes of ${name}, which has ${size}`,
          { hint: "is that a 'lab files' server (of this version)? check --host and --port" },
        );
      }
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
      const reply = this.#readHeader().then(
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
      let sent: string | undefined;
      try {
        await sendRange(this.#wire, fh, offset, size, {
          hash,
          what: localPath,
          signal: anySignal(stop.signal, this.#signal),
          onBytes: progress,
          readBlockBytes: this.#stream.readBlockBytes ?? STREAM_DEFAULTS.readBlockBytes,
          rateBytesPerSecond: this.#stream.rateBytesPerSecond,
        });
        sent = hash?.digest("hex");
        await this.#wire.writeHeader({ op: "end", sha256: sent });
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
      if (sent !== undefined && done.sha256 !== sent) {
        throw new TransferError(
          "CHECKSUM_MISMATCH",
          done.sha256 === undefined
            ? `the server confirmed ${name} without its SHA-256, so it is not known to be intact`
            : `the server confirmed ${name} with SHA-256 ${done.sha256.slice(0, 12)}…, not the ${sent.slice(0, 12)}… sent`,
          { hint: "upload it again with --overwrite; if this repeats, the server is not trustworthy" },
        );
      }
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
    let out = outPath ?? localName(name);
    if (
      outPath !== undefined &&
      (outPath.endsWith("/") || (await stat(outPath).catch(() => undefined))?.isDirectory())
    ) {
      out = path.join(outPath, localName(name));
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
        // Checked before a byte is written: a size the disk cannot hold, or a resume point that
        // is not the one asked for (which would leave a hole of zeros in the file).
        if ((file.offset !== 0 && file.offset !== have) || file.offset > file.size) {
          this.#wire.destroy();
          throw new TransferError(
            "BAD_REQUEST",
            `the server offered ${name} from byte ${file.offset} of ${file.size}; asked for ${have}`,
            { hint: "is that a 'lab files' server (of this version)? check --host and --port" },
          );
        }
        const limit = options.maxSizeBytes ?? (await freeBytes(path.dirname(path.resolve(out)))) + have;
        if (file.size > limit) {
          this.#wire.destroy();
          throw new TransferError(
            "TOO_LARGE",
            `${name} is ${formatBytes(file.size)} (${file.size} bytes), more than ${options.maxSizeBytes === undefined ? "the disk has free" : "--max-size allows"} (${formatBytes(limit)}); nothing was written`,
            { hint: "free some space, or pass a larger --max-size if the size is right" },
          );
        }
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
      if (sha256 !== undefined && end.sha256 === undefined) {
        keepPart = false;
        throw new TransferError(
          "CHECKSUM_MISMATCH",
          `the server sent ${name} without its SHA-256, so it cannot be checked; the file was not kept`,
          { hint: "download it again; --no-verify accepts a file unchecked" },
        );
      }
      if (sha256 !== undefined && end.sha256 !== sha256) {
        keepPart = false;
        throw new TransferError(
          "CHECKSUM_MISMATCH",
          `${name}: SHA-256 mismatch (received ${sha256.slice(0, 12)}…, server says ${end.sha256?.slice(0, 12)}…); the file was not kept`,
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
      // A server that broke the protocol midway may have sent anything: keep none of it.
      if (err instanceof TransferError && (err.code === "NO_SPACE" || err.code === "BAD_REQUEST")) {
        keepPart = false;
      }
      if (err instanceof TransferError && err.code === "CONNECTION_LOST" && keepPart) {
        throw new TransferError(
          "CONNECTION_LOST",
          `connection lost after ${received} of ${size} bytes of ${name}; the partial file is kept in ${partPath}`,
          { hint: "run the same command again with --resume to continue", cause: err },
        );
      }
      if (err instanceof TransferError && err.code === "STALLED" && keepPart && inBody) {
        throw new TransferError(
          "STALLED",
          `${err.message}; ${received} of ${size} bytes of ${name} are kept in ${partPath}`,
          {
            hint: "run the same command again with --resume to continue (raise --stall-timeout if the server is only slow)",
            cause: err,
          },
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

/** How long {@link TransferClient.close} waits for a clean end before it cuts the connection, in ms. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Connects for a client, with errors that say what to do: refused (is the server running?) or no
 * answer within `connectTimeoutMs` (default 10 000).
 */
export async function dial(opts: {
  host: string;
  port: number;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  /** The server to suggest starting, e.g. "'lab files'". */
  what: string;
  /** How to start it, e.g. "lab files DIR --port 5002". */
  start: string;
}): Promise<Socket> {
  const timeoutMs = opts.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
  try {
    return await connect({ host: opts.host, port: opts.port, timeoutMs, signal: opts.signal });
  } catch (err) {
    if (err instanceof NetworkError && err.code === "CONNECTION_REFUSED") {
      throw new NetworkError(err.code, `${err.message} (is ${opts.what} running?)`, {
        hint: `start it with '${opts.start}', or pass the right --host/--port`,
        cause: err.cause,
      });
    }
    if (err instanceof NetworkError && err.code === "CONNECT_TIMEOUT") {
      throw new NetworkError(err.code, `${err.message} (no answer in ${timeoutMs / 1000} s)`, {
        hint: "check --host and --port (a firewall may drop the packets), or raise --connect-timeout",
        cause: err.cause,
      });
    }
    throw err;
  }
}

/**
 * An `error` header as the TransferError it names. Its text is the server's: cut to
 * `maxRemoteTextChars` here (a 64 KiB "message" is no message), escaped where it is shown.
 */
function remoteError(h: HeaderOf<"error">): TransferError {
  const code = isTransferErrorCode(h.code) ? h.code : "IO_ERROR";
  const message = cut(h.message.trim()) || `the server reported ${code} without saying why`;
  const hint = h.hint === undefined ? undefined : cut(h.hint.trim()) || undefined;
  return new TransferError(code, message, { hint });
}

function cut(text: string): string {
  const max = CLIENT_DEFAULTS.maxRemoteTextChars;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * The local file name for a download of `name`: its last segment, which must be a plain name, so
 * that no name (typed, or taken from a server's listing) can point the client outside its folder.
 */
function localName(name: string): string {
  const base = name.split("/").pop() ?? "";
  if (base === "" || base === "." || base === ".." || base.includes("\\") || base.includes("\0")) {
    throw new TransferError(
      "INVALID_NAME",
      `cannot save ${JSON.stringify(name)}: its last part is not a file name`,
      { hint: "name a file, e.g. in/a.bin (saved as a.bin)" },
    );
  }
  return base;
}

/** Bytes the current user may still write on the disk holding `dir`; Infinity if unknown. */
export async function freeBytes(dir: string): Promise<number> {
  const fs = await statfs(dir).catch(() => undefined);
  return fs === undefined ? Number.POSITIVE_INFINITY : fs.bavail * fs.bsize;
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
