import { createHash, type Hash } from "node:crypto";
import { constants } from "node:fs";
import { type FileHandle, open, stat, statfs, unlink } from "node:fs/promises";
import path from "node:path";
import type { ClientConnection } from "./client-connection.js";
import type { DownloadOptions, TransferResult } from "./client-options.js";
import { alreadyExists, commitPart, exists } from "./commit.js";
import { fsError, TransferError } from "./errors.js";
import type { HeaderOf } from "./header.js";
import { PART_OPEN_FLAGS, PART_SUFFIX } from "./names.js";
import type { UploadTarget } from "./root.js";
import { formatBytes, megabytesPerSecond } from "./size.js";
import { hashPrefix, receiveRange } from "./stream.js";

/**
 * Downloads `name` into `outPath` over `conn`; see {@link TransferClient.download}. The size and
 * resume point the server announces are checked before a byte is written; a connection lost or
 * stalled mid-file keeps the `.part` for a resume.
 */
export async function download(
  conn: ClientConnection,
  name: string,
  outPath: string | undefined,
  options: DownloadOptions,
): Promise<TransferResult> {
  const verify = options.verify ?? true;
  const overwrite = options.overwrite ?? false;
  const started = performance.now();
  const place = await placeFor(name, outPath, options.into);
  const { out, partPath, shown } = place;
  const shownPart = shown + PART_SUFFIX;
  let fh: FileHandle | undefined;
  let hadPart = false;
  try {
    if (!overwrite && (await exists(out))) {
      if (options.expectedBytes === undefined) throw alreadyExists(shown, "here");
      // The place's folder descriptor is released here; closing it again below is harmless.
      return await alreadyHere(conn, name, out, shown, options.expectedBytes, started).finally(place.close);
    }
    hadPart = await exists(partPath);
    fh = await open(partPath, PART_OPEN_FLAGS, 0o644).catch((err) => {
      // With O_CREAT, ENOENT means the folder it goes in is missing.
      const hint =
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? `the folder ${path.dirname(shownPart)} does not exist: create it, or choose another -o`
          : undefined;
      throw fsError(err, `opening ${shownPart}`, { hint });
    });
    // A FIFO or a device opens (without blocking) but cannot be truncated or resumed: say what
    // it is, and leave it alone.
    if (!(await fh.stat()).isFile()) {
      throw new TransferError("NOT_A_FILE", `${shownPart} is not a regular file`, {
        hint: "that is where the download's partial file goes: move it away, or choose another -o",
      });
    }
  } catch (err) {
    await fh?.close();
    await place.close();
    throw err;
  }
  let keepPart = true;
  let inBody = false;
  let received = 0;
  let size = 0;
  try {
    const have = options.resume ? (await fh.stat()).size : 0;
    let hash: Hash | undefined;
    let prefixSha256: string | undefined;
    if (have > 0) {
      hash = await hashPrefix(fh, have, shownPart);
      prefixSha256 = hash.copy().digest("hex");
    }
    await conn.wire.writeHeader({
      op: "get",
      v: 1,
      ...conn.auth(),
      name,
      offset: have,
      prefixSha256,
      verify,
    });
    let file: HeaderOf<"file">;
    try {
      file = await conn.reply("file");
      // Checked before a byte is written: a size the disk cannot hold, or a resume point that
      // is not the one asked for (which would leave a hole of zeros in the file).
      if ((file.offset !== 0 && file.offset !== have) || file.offset > file.size) {
        conn.wire.destroy();
        throw new TransferError(
          "BAD_REQUEST",
          `the server offered ${name} from byte ${file.offset} of ${file.size}; asked for ${have}`,
          { hint: "is that a 'lab files' server (of this version)? check --host and --port" },
        );
      }
      const limit = options.maxSizeBytes ?? (await freeBytes(path.dirname(path.resolve(out)))) + have;
      if (options.expectedBytes !== undefined && file.size !== options.expectedBytes) {
        conn.wire.destroy();
        throw new TransferError(
          "BAD_REQUEST",
          `the server listed ${name} as ${options.expectedBytes} bytes but offered ${file.size}; nothing was written`,
          { hint: "the file changed on the server while it was fetched: run the same command again" },
        );
      }
      if (file.size > limit) {
        conn.wire.destroy();
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
    if (have > 0)
      conn.onResume({
        name,
        partBytes: have,
        matched: offset > 0,
        offset,
        direction: "download",
        partPath: shownPart,
      });
    if (offset === 0) hash = undefined;
    if (verify) hash ??= createHash("sha256");
    else hash = undefined;
    await fh.truncate(offset);
    const progress = conn.progress("download", name, size, offset, started);
    inBody = true;
    await receiveRange(conn.wire, fh, offset, size, {
      ...conn.stream,
      hash,
      what: name,
      signal: conn.signal,
      onBytes: (n) => {
        received = n;
        progress(n);
      },
    });
    received = size;
    const end = await conn.reply("end");
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
    if (conn.stream.fsync !== false) {
      await fh.sync().catch((err) => {
        throw fsError(err, `syncing ${shownPart}`);
      });
    }
    await fh.close();
    fh = undefined;
    await commitPart(partPath, out, overwrite, shown, conn.stream.fsync !== false);
    const seconds = (performance.now() - started) / 1000;
    return {
      direction: "download",
      name,
      path: shown,
      bytes: size,
      transferredBytes: size - offset,
      offset,
      sha256,
      seconds,
      mbps: megabytesPerSecond(size - offset, seconds),
    };
  } catch (err) {
    // Cut mid-file, the connection cannot carry another request.
    if (inBody) conn.wire.destroy();
    // A server that broke the protocol midway may have sent anything: keep none of it.
    if (err instanceof TransferError && (err.code === "NO_SPACE" || err.code === "BAD_REQUEST")) {
      keepPart = false;
    }
    if (err instanceof TransferError && err.code === "CONNECTION_LOST" && keepPart) {
      throw new TransferError(
        "CONNECTION_LOST",
        `connection lost after ${received} of ${size} bytes of ${name}; the partial file is kept in ${shownPart}`,
        { hint: "run the same command again to continue", cause: err },
      );
    }
    if (err instanceof TransferError && err.code === "STALLED" && keepPart && inBody) {
      throw new TransferError(
        "STALLED",
        `${err.message}; ${received} of ${size} bytes of ${name} are kept in ${shownPart}`,
        {
          hint: `run the same command again to continue (${isTooSlow(err) ? "lower --speed-limit or raise --speed-time" : "raise --stall-timeout"} if the server is only slow)`,
          cause: err,
        },
      );
    }
    throw err;
  } finally {
    await fh?.close().catch(() => {});
    if (!keepPart) await unlink(partPath).catch(() => {});
    await place.close();
  }
}

/**
 * A download whose output exists, when the listing gave the size: the same size and SHA-256 as the
 * server's file is success with `existed` (no data moves: the request asks to resume at the end);
 * anything else is ALREADY_EXISTS "(a different file)", as for uploads.
 */
async function alreadyHere(
  conn: ClientConnection,
  name: string,
  out: string,
  shown: string,
  size: number,
  started: number,
): Promise<TransferResult> {
  const different = () =>
    new TransferError("ALREADY_EXISTS", `${shown} already exists here (a different file)`, {
      hint: "pass --overwrite to replace it",
    });
  const fh = await open(
    out,
    constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0),
  ).catch((err) => {
    throw (err as NodeJS.ErrnoException).code === "ELOOP" ? different() : fsError(err, `opening ${shown}`);
  });
  let sha256: string;
  try {
    const info = await fh.stat();
    if (!info.isFile() || info.size !== size) throw different();
    sha256 = (await hashPrefix(fh, size, shown)).digest("hex");
  } finally {
    await fh.close();
  }
  await conn.wire.writeHeader({
    op: "get",
    v: 1,
    ...conn.auth(),
    name,
    offset: size,
    prefixSha256: sha256,
    verify: true,
  });
  const file = await conn.reply("file");
  if (file.size !== size || file.offset !== size) {
    // The server is sending a file we will not keep: only a new connection stops it.
    conn.wire.destroy();
    throw different();
  }
  const end = await conn.reply("end");
  if (end.sha256 !== sha256) throw different();
  return {
    direction: "download",
    name,
    path: shown,
    bytes: size,
    transferredBytes: 0,
    offset: 0,
    sha256,
    seconds: (performance.now() - started) / 1000,
    mbps: 0,
    existed: true,
  };
}

/** Where a download is written: the paths to open and rename, the one to show, and what to release. */
interface Place {
  out: string;
  partPath: string;
  shown: string;
  close: () => Promise<void>;
}

/**
 * The paths of a download. Into a folder (`into`), `rel` is resolved from the folder's descriptor
 * one component at a time without following a symlink out of it (as `lab files` resolves names),
 * missing folders are made on the way, and the paths go through the opened folder, so a link
 * planted in the destination meanwhile cannot redirect the write.
 */
async function placeFor(
  name: string,
  outPath: string | undefined,
  into: DownloadOptions["into"],
): Promise<Place> {
  if (into !== undefined) {
    const rel = outPath ?? name;
    let target: UploadTarget;
    try {
      target = await into.root.parentFor(rel);
    } catch (err) {
      throw localRefusal(err, rel, into.path);
    }
    const { dir, base } = target;
    return {
      out: dir.at(base),
      partPath: dir.at(base + PART_SUFFIX),
      shown: path.join(into.path, ...rel.split("/")),
      close: () => dir.close(),
    };
  }
  let out = outPath ?? localName(name);
  if (
    outPath !== undefined &&
    (outPath.endsWith("/") || (await stat(outPath).catch(() => undefined))?.isDirectory())
  ) {
    out = path.join(outPath, localName(name));
  }
  return { out, partPath: out + PART_SUFFIX, shown: out, close: async () => {} };
}

/** A ServedRoot refusal, reworded for the client's own destination folder. */
function localRefusal(err: unknown, rel: string, folder: string): unknown {
  if (!(err instanceof TransferError)) return err;
  if (err.code === "OUTSIDE_ROOT") {
    return new TransferError(
      "OUTSIDE_ROOT",
      `${JSON.stringify(rel)} leads outside ${folder} (a symlink there); nothing was written`,
      {
        hint: "remove the symlink from the destination folder, or fetch into an empty one",
        cause: err,
      },
    );
  }
  if (err.code === "NOT_A_FILE") {
    return new TransferError("NOT_A_FILE", `${JSON.stringify(rel)} is a folder in ${folder}`, {
      hint: "move it away, or fetch into another folder with -o",
      cause: err,
    });
  }
  return err;
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

/** A STALLED error from the low-speed limit (a trickle), not from the stall or header clock. */
function isTooSlow(err: TransferError): boolean {
  return err.hint?.includes("--speed-limit") === true;
}
