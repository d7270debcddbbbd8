import {
  type AuthBackoffOptions,
  formatPeer,
  requirePositiveInt,
  requireSafeAuth,
  TokenGate,
  type TokenSet,
  withDefaults,
} from "@netlab/core";
import type { Decoder, ProtocolError } from "@netlab/protocol";
import { type ServerOptions, StreamRequestHandler, TCPServer } from "@netlab/socketserver";
import { TRANSFER_ALPN } from "./client-options.js";
import { TransferError } from "./errors.js";
import { encodeHeader, type Header, type HeaderInput, headerDecoder, headerError } from "./header.js";
import { MAX_NAME_DEPTH } from "./names.js";
import { ServedRoot } from "./root.js";
import {
  refuseHeader,
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
   * Most path segments in an uploaded or requested name (`a/b/c.txt` has 3): a deeper name is
   * INVALID_NAME before any folder is opened or made. Default 64.
   */
  maxDepth?: number;
  /**
   * A request header (the length-prefixed JSON) must arrive whole within this many ms of its first
   * byte, or the connection is cut: a peer dribbling one byte a second holds no slot. Default 10 000.
   */
  headerTimeoutMs?: number;
  /**
   * The tokens a client must send in the first header of each connection: `TOKEN:rw` may upload,
   * `TOKEN:ro` only list and download (READ_ONLY). `readOnly` still refuses every upload.
   * Default undefined: anyone who can connect may do anything `readOnly` allows.
   */
  tokens?: TokenSet;
  /** The delay after repeated wrong tokens from one address (see AuthBackoffOptions in @netlab/core). */
  authBackoff?: Partial<AuthBackoffOptions>;
  /**
   * Take `tokens` over a connection without TLS. Default false: a server with tokens and no TLS
   * refuses to start (PLAINTEXT_AUTH).
   */
  allowPlaintextAuth?: boolean;
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
  maxDepth: MAX_NAME_DEPTH,
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
  readonly #gate: TokenGate | undefined;

  constructor(options: FileServerOptions) {
    // The framework's idle timer counts bytes in only; the handler keeps its own, both ways.
    super(
      {
        ...withDefaults({ maxConnections: FILE_SERVER_DEFAULTS.maxConnections }, options),
        idleTimeoutMs: Infinity,
        tls: options.tls && { ...options.tls, alpnProtocols: options.tls.alpnProtocols ?? [TRANSFER_ALPN] },
      },
      TransferHandler,
    );
    this.root = options.root;
    this.#fileOptions = options;
    const o = withDefaults(FILE_SERVER_DEFAULTS, options);
    requirePositiveInt("idleTimeoutMs", o.idleTimeoutMs, { allowInfinity: true });
    requirePositiveInt("headerTimeoutMs", o.headerTimeoutMs, { allowInfinity: true });
    requirePositiveInt("maxDepth", o.maxDepth);
    requireSafeAuth({
      hasTokens: options.tokens !== undefined,
      isEncrypted: options.tls !== undefined,
      allowPlaintextAuth: options.allowPlaintextAuth ?? false,
    });
    this.#gate =
      options.tokens === undefined ? undefined : new TokenGate(options.tokens, options.authBackoff);
  }

  /**
   * Opens the folder (NOT_FOUND, NOT_A_FILE when it is not a folder) once, for the server's life:
   * every name is resolved from that descriptor. Then binds.
   */
  override async listen(): Promise<void> {
    if (this.context === undefined) {
      const o = withDefaults(FILE_SERVER_DEFAULTS, this.#fileOptions);
      const root = await ServedRoot.open(this.root, { dotfiles: o.dotfiles, maxDepth: o.maxDepth });
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
        gate: this.#gate,
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

/**
 * One connection of a {@link FileServer}: a loop of requests, headers read as frames of `rfile`
 * (the header decoder) and file data as its raw chunks. A header's deadline is the handler's frame
 * timeout: it starts with the header's first byte (waiting between requests is idle time).
 */
export class TransferHandler extends StreamRequestHandler<Header, FileServer> {
  #wire: HandlerWire | undefined;

  override async setup(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined) return;
    this.frameTimeout = ctx.headerTimeoutMs;
    // Node's socket timeout sees traffic both ways: a download to a quiet client is not idle.
    if (Number.isFinite(ctx.idleTimeoutMs)) {
      this.request.setTimeout(ctx.idleTimeoutMs, () => this.request.destroy());
    }
  }

  protected override createDecoder(): Decoder<Header> {
    return headerDecoder();
  }

  /** A bad header fails the read that wanted it: the session answers with an `error` header. */
  protected override onProtocolError(err: ProtocolError): never {
    throw headerError(err);
  }

  /** A header that dribbles in past --header-timeout: say so (event and `error` header), then the connection closes. */
  protected override async onFrameTimeout(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined || this.#wire === undefined) return;
    const seconds = this.frameTimeout / 1000;
    const error = new TransferError(
      "BAD_REQUEST",
      `request header not complete within ${seconds} s; closing`,
      {
        hint: "send each header at once (see docs/PROTOCOL.md)",
      },
    );
    await refuseHeader(this.#wire, ctx, this.#peer(), error);
  }

  override async handle(): Promise<void> {
    const ctx = this.server.context;
    if (ctx === undefined) return;
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
    this.#wire = new HandlerWire(this);
    try {
      await serveConnection(this.#wire, ctx, this.#peer(), this.signal, this.clientAddress.address);
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
      clearTimeout(cut);
    }
  }

  #peer(): string {
    return formatPeer(this.clientAddress);
  }
}

/** The transfer {@link Wire} over a handler's `rfile` (headers as frames, data as raw chunks) and `wfile`. */
class HandlerWire implements Wire {
  readonly #h: TransferHandler;

  constructor(handler: TransferHandler) {
    this.#h = handler;
  }

  readHeader(): Promise<Header | undefined> {
    return this.#h.rfile.readFrame();
  }

  readChunk(maxBytes: number): Promise<Uint8Array | undefined> {
    return this.#h.rfile.readChunk(maxBytes);
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
}

export type { ServerTransfer, ServerTransferError };
