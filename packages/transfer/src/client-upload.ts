import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { type ClientConnection, remoteError, withTimeout } from "./client-connection.js";
import type { TransferOptions, TransferResult } from "./client-options.js";
import { fsError, TransferError } from "./errors.js";
import type { HeaderOf } from "./header.js";
import { PART_SUFFIX } from "./names.js";
import { megabytesPerSecond } from "./size.js";
import { hashPrefix, STREAM_DEFAULTS, sendRange } from "./stream.js";

/** Options of one upload: those of every transfer, plus the name and how the local file is opened. */
export interface UploadOptions extends TransferOptions {
  /** Name on the server. Default: the local file's base name. */
  name?: string;
  /**
   * Refuse (NOT_A_FILE) a local path that is a symlink or a special file when opened, rather than
   * following it: a folder send skips symlinks, and one swapped in after the walk must not slip
   * through. Default false.
   */
  noFollow?: boolean;
}

/** A local file opened without following a symlink and without blocking on a FIFO. */
const NO_FOLLOW_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Uploads `localPath` as `options.name` (default: its base name) over `conn`; see
 * {@link TransferClient.upload}. While sending, it watches for the server's reply, so a refusal
 * mid-stream (disk full) is reported as the server's reason rather than a broken pipe.
 */
export async function upload(
  conn: ClientConnection,
  localPath: string,
  options: UploadOptions,
): Promise<TransferResult> {
  const name = options.name ?? path.basename(localPath);
  const verify = options.verify ?? true;
  const started = performance.now();
  const fh = await open(localPath, options.noFollow ? NO_FOLLOW_FLAGS : "r").catch((err) => {
    throw (err as NodeJS.ErrnoException).code === "ELOOP"
      ? new TransferError("NOT_A_FILE", `${localPath} is a symlink, not a regular file`)
      : fsError(err, localPath);
  });
  try {
    const info = await fh.stat();
    if (!info.isFile()) throw new TransferError("NOT_A_FILE", `${localPath} is not a regular file`);
    const size = info.size;
    const put = {
      op: "put",
      v: 1,
      name,
      size,
      overwrite: options.overwrite ?? false,
      resume: options.resume ?? false,
      verify,
    } as const;
    await conn.wire.writeHeader({ ...put, ...conn.auth() });
    let accept: HeaderOf<"accept">;
    try {
      accept = await conn.reply("accept");
    } catch (err) {
      const exists = err instanceof TransferError && err.code === "ALREADY_EXISTS";
      if (!exists || !options.skipIdentical || put.overwrite) throw err;
      // Ask again with the whole file's hash: the server says whether its copy is this one.
      const sha256 = (await hashPrefix(fh, size, localPath)).digest("hex");
      await conn.wire.writeHeader({ ...put, sha256 });
      const done = await conn.reply("done", "accept");
      if (done.op === "accept") {
        // NAME went away between the two requests: the server now waits for data we did not plan.
        conn.wire.destroy();
        throw new TransferError(
          "CONNECTION_LOST",
          `${name} changed on the server while it was being compared`,
          {
            hint: "send it again",
          },
        );
      }
      if (!done.existed || done.sha256 !== sha256 || done.size !== size) {
        conn.wire.destroy();
        throw new TransferError(
          "BAD_REQUEST",
          `the server answered a question about ${name} with an upload`,
          {
            hint: "is that a 'lab files' server (of this version)? check --host and --port",
          },
        );
      }
      const seconds = (performance.now() - started) / 1000;
      return {
        direction: "upload",
        name,
        path: localPath,
        bytes: size,
        transferredBytes: 0,
        offset: size,
        sha256,
        seconds,
        mbps: 0,
        existed: true,
      };
    }
    if (accept.offset > size) {
      conn.wire.destroy();
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
      conn.onResume({ name, partBytes: accept.offset, matched: offset > 0, offset });
    }
    if (!verify) hash = undefined;
    else hash ??= createHash("sha256");
    await conn.wire.writeHeader({ op: "data", offset });
    // The server may refuse mid-stream (disk full): watch for its reply while sending.
    const stop = new AbortController();
    const reply = conn.readHeader().then(
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
    const progress = conn.progress("upload", name, size, offset, started);
    let sent: string | undefined;
    try {
      await sendRange(conn.wire, fh, offset, size, {
        hash,
        what: localPath,
        signal: anySignal(stop.signal, conn.signal),
        onBytes: progress,
        readBlockBytes: conn.stream.readBlockBytes ?? STREAM_DEFAULTS.readBlockBytes,
        rateBytesPerSecond: conn.stream.rateBytesPerSecond,
      });
      sent = hash?.digest("hex");
      await conn.wire.writeHeader({ op: "end", sha256: sent });
    } catch (err) {
      if (conn.signal?.aborted) {
        // Ctrl-C: no reason to wait for the server; the stream is cut mid-file anyway.
        conn.wire.destroy();
        throw err;
      }
      // The server's own reason (NO_SPACE, ...) beats the broken pipe it caused.
      let replyErr: unknown;
      const h = await withTimeout(reply, 2_000).catch((e: unknown) => {
        replyErr = e;
        return undefined;
      });
      // Cut mid-file, the connection cannot carry another request.
      conn.wire.destroy();
      if (h?.op === "error") throw remoteError(h);
      // Our own clock cut it (the low-speed limit, the stall timeout): that says more than "lost".
      const stalled = [err, replyErr].find((e) => e instanceof TransferError && e.code === "STALLED");
      if (stalled !== undefined) throw stalled;
      if (stop.signal.aborted || (err instanceof TransferError && err.code === "CONNECTION_LOST")) {
        throw lostDuringUpload(name);
      }
      throw err;
    }
    const h = await reply.catch((err) => {
      throw err instanceof TransferError && err.code === "CONNECTION_LOST" ? lostDuringUpload(name) : err;
    });
    if (h === undefined) throw lostDuringUpload(name);
    const done = conn.expect(h, ["done"]);
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

function lostDuringUpload(name: string): TransferError {
  return new TransferError("CONNECTION_LOST", `connection to the server lost while uploading ${name}`, {
    hint: `the server keeps ${name}${PART_SUFFIX}; run the same command again to continue from there`,
  });
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b === undefined ? a : AbortSignal.any([a, b]);
}
