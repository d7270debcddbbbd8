import { realpath, stat } from "node:fs/promises";
import { type ServerOptions, StreamRequestHandler, TCPServer } from "@netlab/socketserver";
import { TransferError } from "./errors.js";
import { encodeHeader, type Header, type HeaderInput, MAX_HEADER_BYTES, parseHeader } from "./header.js";
import {
  type ServerTransfer,
  type ServerTransferError,
  type SessionContext,
  serveConnection,
} from "./session.js";
import type { StreamOptions, WriteFn } from "./stream.js";
import type { Wire } from "./wire.js";

/** Options for {@link FileServer}: those of a TCPServer, plus the folder and its limits. */
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
}

/** Defaults for {@link FileServerOptions}. */
export const FILE_SERVER_DEFAULTS = {
  maxSizeBytes: 64 * 1024 ** 3,
  readOnly: false,
  maxListEntries: 10_000,
} as const;

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
    super(options, TransferHandler);
    this.root = options.root;
    this.#fileOptions = options;
  }

  /** Checks the folder (NOT_FOUND, NOT_A_FILE when it is not a folder), then binds. */
  override async listen(): Promise<void> {
    if (this.context === undefined) {
      const o = { ...FILE_SERVER_DEFAULTS, ...dropUndefined(this.#fileOptions) };
      const rootReal = await realpath(this.root).catch(() => {
        throw new TransferError("NOT_FOUND", `folder ${this.root} does not exist`, {
          hint: "create it first, or pass another folder to 'lab files'",
        });
      });
      if (!(await stat(rootReal)).isDirectory()) {
        throw new TransferError("NOT_A_FILE", `${this.root} is not a folder`, {
          hint: "'lab files' serves a folder; use 'lab files --raw FILE' to send one file",
        });
      }
      this.context = {
        rootReal,
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
}

/** One connection of a {@link FileServer}: a loop of requests over the handler's raw reads. */
export class TransferHandler extends StreamRequestHandler<Uint8Array, FileServer> {
  override async handle(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined) return;
    const peer = `${this.clientAddress.address}:${this.clientAddress.port}`;
    await serveConnection(new HandlerWire(this), ctx, peer, this.signal);
  }
}

/**
 * The transfer {@link Wire} over a handler's `rfile`/`wfile`. Headers are read as exact byte
 * counts and file data as raw chunks, so the handler's frame decoder is never involved; a chunk
 * that runs past the end of a file's bytes is split and the rest kept for the next read.
 */
class HandlerWire implements Wire {
  readonly #h: TransferHandler;
  #rest: Uint8Array | undefined;

  constructor(handler: TransferHandler) {
    this.#h = handler;
  }

  async readHeader(): Promise<Header | undefined> {
    const head = await this.#exact(4, true);
    if (head === undefined) return undefined;
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
    if (parts.length === 1) return parts[0]!;
    const out = new Uint8Array(n);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export type { ServerTransfer, ServerTransferError };
