import { LOW_SPEED_DEFAULTS } from "@netlab/core";
import type { ClientTlsOptions } from "@netlab/tls";
import type { ServedRoot } from "./root.js";
import type { StreamOptions } from "./stream.js";

/** Default port of `lab files`. */
export const DEFAULT_PORT = 5002;

/** The ALPN protocol a file server and client agree on over TLS. */
export const TRANSFER_ALPN = "netlab-xfer/1";

/** Defaults of {@link ClientOptions} and {@link TransferOptions}. */
export const CLIENT_DEFAULTS = {
  /** curl's `--connect-timeout` is the model; 10 s is plenty on any network a lab runs on. */
  connectTimeoutMs: 10_000,
  /** Long enough for a busy server's fsync of a large file, short enough that a dead one is noticed. */
  stallTimeoutMs: 30_000,
  /** A header is at most 64 KiB: once its first byte is in, the rest comes at once from a live server. */
  headerTimeoutMs: 30_000,
  /** 1 KiB/s: a trickling server is cut, a real slow link never (see LOW_SPEED_DEFAULTS). */
  minBytesPerSecond: LOW_SPEED_DEFAULTS.minBytesPerSecond,
  /** 60 s of waiting on the server. */
  lowSpeedTimeMs: LOW_SPEED_DEFAULTS.lowSpeedTimeMs,
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
  /** A Unix socket path instead of host and port (a leading NUL: a Linux abstract socket). */
  path?: string;
  /** Resolve the host to IPv4 only (4) or IPv6 only (6). Default 0: either. */
  family?: 0 | 4 | 6;
  /** Give up connecting after this many ms (a NetworkError CONNECT_TIMEOUT). Default 10 000. */
  connectTimeoutMs?: number;
  /**
   * Give up (a TransferError STALLED) when, while waiting on the server, no byte moves in either
   * direction for this many ms. Default 30 000; Infinity waits forever.
   */
  stallTimeoutMs?: number;
  /**
   * Give up (a TransferError STALLED) when a header from the server has begun and is still not
   * whole after this many ms, counted from its first byte: a server that trickles a byte at a time
   * moves bytes, so the stall clock alone would wait forever. File data is not a header: a slow
   * file is not cut. Default 30 000; Infinity waits forever.
   */
  headerTimeoutMs?: number;
  /**
   * curl's --speed-limit: give up (a TransferError STALLED) when file data moves slower than this
   * many bytes per second on average over `lowSpeedTimeMs` spent waiting on the server. A server
   * that trickles a byte a second keeps the stall clock from ever firing; this bounds it. Time spent
   * on our disk, hashing or our own `rateBytesPerSecond` pacing is not waiting, so it never counts.
   * Default 1024; 0 for no limit.
   */
  minBytesPerSecond?: number;
  /** curl's --speed-time: the window `minBytesPerSecond` is averaged over, in ms. Default 60 000. */
  lowSpeedTimeMs?: number;
  /**
   * Aborts the connection attempt and any transfer in progress at once (an ABORTED error); a
   * download keeps its `.part`, with every byte received, for a resume.
   */
  signal?: AbortSignal;
  /** Read/write block sizes and sync cadence. */
  stream?: StreamOptions;
  /**
   * Speak TLS (ALPN `netlab-xfer/1`): the server is trusted before a byte is sent; a refused one is
   * a TlsError (IDENTITY_CHANGED, PIN_MISMATCH, CERT_UNTRUSTED, HANDSHAKE_FAILED). Default: plaintext.
   */
  tls?: ClientTlsOptions;
  /**
   * The shared secret of a server started with a token file, sent in the connection's first
   * request header. Never take it from argv: read it from a file, an environment variable or a prompt.
   */
  token?: string;
}

/** Options of one upload or download. */
export interface TransferOptions {
  /** Replace an existing file (atomically). Default false: ALREADY_EXISTS. */
  overwrite?: boolean;
  /**
   * Continue from a partial file if its prefix matches (by SHA-256); start over if it does not.
   * Default false here; `lab transfer` turns it on for every upload (croc's auto-resume).
   */
  resume?: boolean;
  /**
   * Uploads only: when NAME already exists on the server, hash the local file and ask whether the
   * server's is the same (size and SHA-256); if so the upload succeeds with `existed: true` and no
   * data moves, otherwise it is ALREADY_EXISTS "(a different file)". Default false: ALREADY_EXISTS
   * without asking.
   */
  skipIdentical?: boolean;
  /** Compute and check SHA-256 on both sides. Default true. */
  verify?: boolean;
  /**
   * Downloads only: the largest file accepted, in bytes, checked against the size the server
   * announces before anything is written (TOO_LARGE). Default: the space free on the output's
   * disk (fs.statfs), plus the resumable `.part` already there.
   */
  maxSizeBytes?: number;
}

/** Options of one download. */
export interface DownloadOptions extends TransferOptions {
  /**
   * Write into this folder: the output path (default: the name) is then relative to it, resolved
   * without following a symlink out of it, missing folders made on the way. Used by folder fetches,
   * whose names come from the server.
   */
  into?: {
    root: ServedRoot;
    /** The folder as the user named it, for messages and the result's `path`. */
    path: string;
  };
  /** The size a listing gave: a server offering another size is refused before a byte is written. */
  expectedBytes?: number;
}

/**
 * An upload met a partial file (`NAME.part`) on the server, emitted as `resume` before any data
 * moves: continued from `offset` when its SHA-256 prefix matched the local file, else replaced.
 */
export interface ResumeInfo {
  /** Name on the server. */
  name: string;
  /** Bytes the server's `.part` held. */
  partBytes: number;
  /** Whether those bytes match the start of the local file (then the upload goes on from there). */
  matched: boolean;
  /** Where the upload starts: `partBytes` when matched, 0 when the partial is replaced. */
  offset: number;
  /** Which side held the partial file: the server's (`upload`, the default) or ours (`download`). */
  direction?: "upload" | "download";
  /** Downloads: the local `.part` file. */
  partPath?: string;
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
  /** Uploads with `skipIdentical`: the server already had this exact file, so nothing was sent. */
  existed?: boolean;
}
