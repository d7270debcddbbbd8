import { requirePositiveInt, withDefaults } from "@netlab/core";
import { type ServerOptions, StreamRequestHandler, TCPServer } from "@netlab/socketserver";
import { TransferError } from "./errors.js";
import { encodeHeader, type Header, type HeaderInput, MAX_HEADER_BYTES, parseHeader } from "./header.js";
import { ServedRoot } from "./root.js";
import {
  type ServerTransfer,
  type ServerTransferError,
  type SessionContext,
  serveConnection,
} from "./session.js";
import type { StreamOptions, WriteFn } from "./stream.js";
import type { Wire } from "./wire.js";

/**
 * Options for {@link FileServer}: those of a TCPServer, plus the folder and its limits.
 * `maxConnections` defaults to 256 here (each transfer holds a few file descriptors), and
 * `idleTimeoutMs` (default 5 minutes) counts bytes in either direction, so a long download to a
 * client that sends nothing is not cut while one that stops reading is.
 */
export interface FileServerOptions extends ServerOptions {
  /** The folder served: downloads come from it, uploads go into it. */
  root: string;
  /** Largest upload accepted, in bytes. Default 64 GiB. */
  maxSizeBytes?: number;
  /** Refuse uploads (READ_ONLY). Default false. */
  readOnly?: boolean;
  /** Most files a listing returns (it says when it was cut). Default 10 000. */
  maxListEntries?: number;
  /** Block sizes and sync cadence for file data. */
  stream?: StreamOptions;
  /** Replaces how file data is written; for fault injection in tests (e.g. a write that fails with ENOSPC). */
  write?: WriteFn;
  /** Serve names with a segment starting with `.` (listing, downloads, uploads). Default false. */
  dotfiles?: boolean;
  /**
   * A request header (the length-prefixed JSON) must arrive whole within this many ms of its first
   * byte, or the connection is cut: a peer dribbling one byte a second holds no slot. Default 10 000.
   */
  headerTimeoutMs?: number;
}

/** Defaults for {@link FileServerOptions}. */
export const FILE_SERVER_DEFAULTS = {
  maxSizeBytes: 64 * 1024 ** 3,
  readOnly: false,
  maxListEntries: 10_000,
  maxConnections: 256,
  idleTimeoutMs: 5 * 60_000,
  headerTimeoutMs: 10_000,
  dotfiles: false,
} as const;

/** After shutdown starts, how long a connection may still finish its request before it is cut (ms). */
const SHUTDOWN_GRACE_MS = 300;

/**
 * Serves a folder over the netlab transfer protocol (docs/PROTOCOL.md): verified, resumable,
 * atomic uploads into it and downloads from it, confined to it. Emits `transfer`
 * ({@link ServerTransfer}) after each file and `transferError` ({@link ServerTransferError}) for
 * each refused or failed request, besides the TCPServer events.
 * @example
 * await using server = new FileServer({ root: "./shared", port: 5002 });
 * await server.listen();
 * server.on("transfer", (t) => log(`${t.op} ${t.name}`));
 * await server.serveForever({ signal });
 */
export class FileServer extends TCPServer {
  readonly root: string;
  /** @internal shared by every connection; filled by listen(). */
  context: SessionContext | undefined;
  readonly #fileOptions: FileServerOptions;

  constructor(options: FileServerOptions) {
    // The framework's idle timer counts bytes in only; the handler keeps its own, both ways.
    super(
      {
        ...withDefaults({ maxConnections: FILE_SERVER_DEFAULTS.maxConnections }, options),
        idleTimeoutMs: Infinity,
      },
      TransferHandler,
    );
    this.root = options.root;
    this.#fileOptions = options;
    const o = withDefaults(FILE_SERVER_DEFAULTS, options);
    requirePositiveInt("idleTimeoutMs", o.idleTimeoutMs, { allowInfinity: true });
    requirePositiveInt("headerTimeoutMs", o.headerTimeoutMs, { allowInfinity: true });
  }

  /**
   * Opens the folder (NOT_FOUND, NOT_A_FILE when it is not a folder) once, for the server's life:
   * every name is resolved from that descriptor. Then binds.
   */
  override async listen(): Promise<void> {
    if (this.context === undefined) {
      const o = withDefaults(FILE_SERVER_DEFAULTS, this.#fileOptions);
      const root = await ServedRoot.open(this.root, { dotfiles: o.dotfiles });
      this.context = {
        root,
        idleTimeoutMs: o.idleTimeoutMs,
        headerTimeoutMs: o.headerTimeoutMs,
        maxSizeBytes: o.maxSizeBytes,
        readOnly: o.readOnly,
        maxListEntries: o.maxListEntries,
        stream: o.stream ?? {},
        write: o.write,
        activeUploads: new Set(),
        events: this,
      };
    }
    await super.listen();
  }

  /** Stops serving (see TCPServer), then closes the folder's descriptor. */
  override async shutdown(): Promise<void> {
    await super.shutdown();
    await this.context?.root.close();
  }
}

/** One connection of a {@link FileServer}: a loop of requests over the handler's raw reads. */
export class TransferHandler extends StreamRequestHandler<Uint8Array, FileServer> {
  override async setup(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined) return;
    // Node's socket timeout sees traffic both ways: a download to a quiet client is not idle.
    if (Number.isFinite(ctx.idleTimeoutMs)) {
      this.request.setTimeout(ctx.idleTimeoutMs, () => this.request.destroy());
    }
  }

  override async handle(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined) return;
    const peer = `${this.clientAddress.address}:${this.clientAddress.port}`;
    // On shutdown reads end at once, but a download blocked on a client that does not read would
    // wait for drainTimeoutMs: cut it after a short grace (an upload keeps what it received).
    let cut: NodeJS.Timeout | undefined;
    const onShutdown = () => {
      cut = setTimeout(() => this.request.destroy(), SHUTDOWN_GRACE_MS);
      cut.unref();
    };
    // The handler's signal aborts on shutdown (and when the connection is gone: then this is moot).
    const shutdown = this.signal;
    if (shutdown.aborted) onShutdown();
    else shutdown.addEventListener("abort", onShutdown, { once: true });
    try {
      await serveConnection(new HandlerWire(this, ctx.headerTimeoutMs), ctx, peer, this.signal);
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
      clearTimeout(cut);
    }
  }
}

/**
 * The transfer {@link Wire} over a handler's `rfile`/`wfile`. Headers are read as exact byte
 * counts and file data as raw chunks, so the handler's frame decoder is never involved; a chunk
 * that runs past the end of a file's bytes is split and the rest kept for the next read.
 */
class HandlerWire implements Wire {
  readonly #h: TransferHandler;
  readonly #headerTimeoutMs: number;
  #rest: Uint8Array | undefined;

  constructor(handler: TransferHandler, headerTimeoutMs: number) {
    this.#h = handler;
    this.#headerTimeoutMs = headerTimeoutMs;
  }

  /** The next header; its deadline starts with its first byte (waiting between requests is idle time). */
  async readHeader(): Promise<Header | undefined> {
    const first = await this.readChunk(4);
    if (first === undefined) return undefined;
    const rest = this.#restOfHeader(first);
    if (!Number.isFinite(this.#headerTimeoutMs)) return rest;
    // The losing read is left parked; it ends when the connection closes, and must not be reported.
    rest.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const seconds = this.#headerTimeoutMs / 1000;
        reject(
          new TransferError("BAD_REQUEST", `request header not complete within ${seconds} s; closing`, {
            hint: "send each header at once (see docs/PROTOCOL.md)",
          }),
        );
      }, this.#headerTimeoutMs);
    });
    try {
      return await Promise.race([rest, expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #restOfHeader(first: Uint8Array): Promise<Header> {
    const head =
      first.length === 4 ? first : concat([first, (await this.#exact(4 - first.length, false))!], 4);
    const length = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    if (length > MAX_HEADER_BYTES) {
      throw new TransferError("BAD_REQUEST", `header of ${length} bytes exceeds ${MAX_HEADER_BYTES}`, {
        hint: "both sides must speak the netlab transfer protocol (see docs/PROTOCOL.md)",
      });
    }
    return parseHeader((await this.#exact(length, false))!);
  }

  async readChunk(maxBytes: number): Promise<Uint8Array | undefined> {
    const chunk = this.#rest ?? (await this.#h.rfile.readChunk());
    this.#rest = undefined;
    if (chunk === undefined || chunk.length <= maxBytes) return chunk;
    this.#rest = chunk.subarray(maxBytes);
    return chunk.subarray(0, maxBytes);
  }

  write(data: Uint8Array): Promise<void> {
    return this.#h.wfile.write(data);
  }

  writeHeader(header: HeaderInput): Promise<void> {
    return this.#h.wfile.write(encodeHeader(header));
  }

  get bufferedBytes(): number {
    return this.#h.wfile.bufferedBytes;
  }

  end(): Promise<void> {
    return this.#h.wfile.end();
  }

  destroy(): void {
    this.#h.request.destroy();
  }

  /** Exactly `n` bytes; undefined if the stream ends cleanly before any (when allowed). */
  async #exact(n: number, cleanEndOk: boolean): Promise<Uint8Array | undefined> {
    const parts: Uint8Array[] = [];
    let have = 0;
    // Each turn takes ≥ 1 byte or ends.
    while (have < n) {
      const chunk = await this.readChunk(n - have);
      if (chunk === undefined) {
        if (cleanEndOk && have === 0) return undefined;
        throw new TransferError("CONNECTION_LOST", `connection closed in the middle of a header`);
      }
      parts.push(chunk);
      have += chunk.length;
    }
    return parts.length === 1 ? parts[0]! : concat(parts, n);
  }
}

function concat(parts: Uint8Array[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export type { ServerTransfer, ServerTransferError };
