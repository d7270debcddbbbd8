import { createHash } from "node:crypto";
import { type FileHandle, open, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { formatPeer } from "@netlab/core";
import { type ServerOptions, StreamRequestHandler, TCPServer } from "@netlab/socketserver";
import { freeBytes } from "./client-download.js";
import { CLIENT_DEFAULTS } from "./client-options.js";
import { alreadyExists, commitPart, exists } from "./commit.js";
import { dial } from "./dial.js";
import { fsError, TransferError } from "./errors.js";
import { PART_OPEN_FLAGS, PART_SUFFIX } from "./names.js";
import { formatBytes, megabytesPerSecond } from "./size.js";
import { receiveRange, type StreamOptions, sendRange } from "./stream.js";
import { SocketWire, type Wire } from "./wire.js";

/** Options for {@link RawFileServer}. */
export interface RawFileServerOptions extends ServerOptions {
  /** The file sent to every client. */
  file: string;
  /** How long to wait for (and drop) a client's greeting before sending, in ms. Default 200. */
  greetingWaitMs?: number;
  stream?: StreamOptions;
}

/** One raw send, emitted as `sent` by a {@link RawFileServer}. */
export interface RawSent {
  peer: string;
  bytes: number;
  sha256: string;
  seconds: number;
}

/**
 * The classic tutorial's file server, for interop with `nc` and ten-line scripts: to each client,
 * read and drop whatever greeting it sends in the first moment (`greetingWaitMs`, or until its
 * first bytes arrive), send the file's bytes, close. No header, no verification. Emits `sent`.
 * @example new RawFileServer({ file: "test.txt", port: 5002 }) // then: nc 127.0.0.1 5002 > copy.txt
 */
export class RawFileServer extends TCPServer {
  readonly file: string;
  readonly greetingWaitMs: number;
  readonly stream: StreamOptions;

  constructor(options: RawFileServerOptions) {
    super(options, RawFileHandler);
    this.file = options.file;
    this.greetingWaitMs = options.greetingWaitMs ?? 200;
    this.stream = options.stream ?? {};
  }

  /** Checks that the file can be read (NOT_FOUND, NOT_A_FILE), then binds. */
  override async listen(): Promise<void> {
    const info = await stat(this.file).catch((err) => {
      throw fsError(err, this.file, { hint: "check the path: raw mode sends one file that exists" });
    });
    if (!info.isFile()) {
      throw new TransferError("NOT_A_FILE", `${this.file} is not a regular file`, {
        hint: "raw mode sends one file; to serve a folder, drop --raw: lab files FOLDER",
      });
    }
    await super.listen();
  }
}

/** One client of a {@link RawFileServer}. */
class RawFileHandler extends StreamRequestHandler<Uint8Array, RawFileServer> {
  override async handle(): Promise<void> {
    const started = performance.now();
    const greeting = this.rfile.readChunk();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      greeting,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.server.greetingWaitMs);
      }),
    ]);
    clearTimeout(timer);
    // Whatever else the client sends is dropped as it arrives, so it can never fill a buffer.
    void (async () => {
      if ((await greeting) === undefined) return;
      for (let i = 0; (await this.rfile.readChunk()) !== undefined && i < Number.MAX_SAFE_INTEGER; i++);
    })().catch(() => {});
    const fh = await open(this.server.file, "r").catch((err) => {
      throw fsError(err, this.server.file);
    });
    try {
      const size = (await fh.stat()).size;
      const hash = createHash("sha256");
      const wire: Pick<Wire, "write" | "bufferedBytes"> = {
        write: (data) => this.wfile.write(data),
        get bufferedBytes() {
          return 0;
        },
      };
      await sendRange(wire as Wire, fh, 0, size, {
        hash,
        what: this.server.file,
        signal: this.signal,
        readBlockBytes: this.server.stream.readBlockBytes,
        rateBytesPerSecond: this.server.stream.rateBytesPerSecond,
      });
      await this.wfile.end();
      const peer = formatPeer(this.clientAddress);
      this.server.emit("sent", {
        peer,
        bytes: size,
        sha256: hash.digest("hex"),
        seconds: (performance.now() - started) / 1000,
      } satisfies RawSent);
    } finally {
      await fh.close().catch(() => {});
    }
  }
}

/** Options for {@link rawGet}. */
export interface RawGetOptions {
  host?: string;
  port: number;
  /** A Unix socket path instead of host and port. */
  path?: string;
  /** Resolve the host to IPv4 only (4) or IPv6 only (6). Default 0: either. */
  family?: 0 | 4 | 6;
  /** Where the bytes go (through `OUT.part`, renamed at the end). */
  out: string;
  /** The line sent first. Default "hello". */
  greeting?: string;
  overwrite?: boolean;
  /** Give up connecting after this many ms. Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Give up (STALLED, the `.part` removed) when no byte arrives for this many ms. Default 30 000:
   * a raw server ends by closing, so silence is a server that hangs. Infinity waits forever.
   */
  stallTimeoutMs?: number;
  /** curl's --speed-limit, as {@link ClientOptions.minBytesPerSecond}: default 1024, 0 for none. */
  minBytesPerSecond?: number;
  /** curl's --speed-time, as {@link ClientOptions.lowSpeedTimeMs}: default 60 000. */
  lowSpeedTimeMs?: number;
  /** Aborting it ends the download at once (ABORTED); nothing is kept, raw cannot resume. */
  signal?: AbortSignal;
  /**
   * Most bytes accepted: a server that sends more is cut off (TOO_LARGE, nothing kept). Default:
   * the space free on the output's disk (fs.statfs), so an endless sender cannot fill it.
   */
  maxSizeBytes?: number;
  stream?: StreamOptions;
  onBytes?: (bytes: number) => void;
}

/** What {@link rawGet} received. */
export interface RawGetResult {
  path: string;
  bytes: number;
  sha256: string;
  seconds: number;
  mbps: number;
}

/**
 * The classic tutorial's client: connect, send a greeting line, write everything received to
 * `out` until the server closes. There is no size or checksum to check against, so the SHA-256
 * returned is of what arrived.
 * @example await rawGet({ port: 5002, out: "copy.txt" }) // against lab files --raw, or nc -l 5002 < file
 */
export async function rawGet(opts: RawGetOptions): Promise<RawGetResult> {
  const started = performance.now();
  const overwrite = opts.overwrite ?? false;
  if (!overwrite && (await exists(opts.out))) throw alreadyExists(opts.out, "here");
  const socket = await dial({
    host: opts.host ?? "127.0.0.1",
    port: opts.port,
    path: opts.path,
    family: opts.family,
    connectTimeoutMs: opts.connectTimeoutMs,
    signal: opts.signal,
    what: "the server",
    start: `lab files --raw FILE --port ${opts.port}' or 'nc -l ${opts.port} < FILE`,
  });
  const wire = new SocketWire(socket, {
    peer: "the server",
    isResetAnEnd: true,
    stallTimeoutMs: opts.stallTimeoutMs ?? CLIENT_DEFAULTS.stallTimeoutMs,
    minBytesPerSecond: opts.minBytesPerSecond ?? CLIENT_DEFAULTS.minBytesPerSecond,
    lowSpeedTimeMs: opts.lowSpeedTimeMs ?? CLIENT_DEFAULTS.lowSpeedTimeMs,
    signal: opts.signal,
  });
  const partPath = opts.out + PART_SUFFIX;
  let fh: FileHandle | undefined;
  let keep = false;
  try {
    fh = await open(partPath, PART_OPEN_FLAGS, 0o644).catch((err) => {
      throw fsError(err, `opening ${partPath}`);
    });
    await fh.truncate(0);
    // A server that sends and closes without reading (nc -N -l) may be gone before the greeting
    // lands: what it sent is still there to read, so a failed greeting is not a failed download.
    await wire.write(Buffer.from(`${opts.greeting ?? "hello"}\n`)).catch(() => {});
    const hash = createHash("sha256");
    const maxBytes = opts.maxSizeBytes ?? (await freeBytes(path.dirname(path.resolve(opts.out))));
    const bytes = await receiveRange(wire, fh, 0, undefined, {
      ...opts.stream,
      hash,
      what: opts.out,
      signal: opts.signal,
      onBytes: opts.onBytes,
      maxBytes,
    }).catch((err: unknown) => {
      if (!(err instanceof TransferError && err.code === "TOO_LARGE")) throw err;
      const allowed = opts.maxSizeBytes === undefined ? "the disk has free" : "--max-size allows";
      throw new TransferError(
        "TOO_LARGE",
        `the server sent more than ${allowed} (${formatBytes(maxBytes)}); ${opts.out} was not kept`,
        { hint: "free some space, or pass a larger --max-size if that much is expected", cause: err },
      );
    });
    await fh.sync();
    await fh.close();
    fh = undefined;
    await commitPart(partPath, opts.out, overwrite, opts.out);
    keep = true;
    const seconds = (performance.now() - started) / 1000;
    return {
      path: opts.out,
      bytes,
      sha256: hash.digest("hex"),
      seconds,
      mbps: megabytesPerSecond(bytes, seconds),
    };
  } finally {
    await fh?.close().catch(() => {});
    if (!keep) await unlink(partPath).catch(() => {});
    wire.destroy();
  }
}
