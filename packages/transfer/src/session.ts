import { createHash, type Hash } from "node:crypto";
import type { EventEmitter } from "node:events";
import { constants } from "node:fs";
import { type FileHandle, lstat, open, opendir, unlink } from "node:fs/promises";
import { isNetlabError, type TokenGate, type TokenGrant } from "@netlab/core";
import { type TransferWireEvent, transferChannel } from "./channel.js";
import { alreadyExists, commitPart } from "./commit.js";
import { fsError, TransferError } from "./errors.js";
import type { Entry, Header, HeaderOf } from "./header.js";
import { PART_OPEN_FLAGS, PART_SUFFIX } from "./names.js";
import type { ServedDir, ServedRoot } from "./root.js";
import { formatBytes } from "./size.js";
import { hashPrefix, receiveRange, type StreamOptions, sendRange, type WriteFn } from "./stream.js";
import type { Wire } from "./wire.js";

/** What one connection of a file server needs to know: the folder, the limits, shared state. */
export interface SessionContext {
  /** The served folder, opened once; every name is resolved through it. */
  root: ServedRoot;
  maxSizeBytes: number;
  readOnly: boolean;
  /** No byte either way for this long (ms) closes the connection. */
  idleTimeoutMs: number;
  /** A header must arrive whole within this long (ms) of its first byte. */
  headerTimeoutMs: number;
  maxListEntries: number;
  stream: StreamOptions;
  /** Writes file data; replaced only to inject faults (tests). */
  write?: WriteFn;
  /** Uploads in progress (server-wide), as `dev:ino/name` of the final name: a second upload of one is BUSY. */
  activeUploads: Set<string>;
  /** Where `transfer` / `transferError` events go. */
  events: EventEmitter;
  /** Checks the token of each connection's first request; undefined when the server is open. */
  gate?: TokenGate | undefined;
}

/** A finished upload or download on the server, emitted as `transfer`. */
export interface ServerTransfer {
  op: "put" | "get";
  name: string;
  /** Size of the whole file. */
  size: number;
  /** Bytes that crossed the wire (less than size after a resume). */
  transferredBytes: number;
  /** Where a resumed transfer started; 0 otherwise. */
  offset: number;
  sha256: string | undefined;
  seconds: number;
  peer: string;
}

/** A failed request, emitted as `transferError`; the server keeps serving. */
export interface ServerTransferError {
  op: string;
  name: string | undefined;
  error: TransferError;
  peer: string;
}

/** True once raw bytes of a file have started to flow: after an error the stream cannot be trusted. */
interface State {
  inBody: boolean;
}

/**
 * Serves requests on one connection until the peer closes it: `put` (upload), `get` (download),
 * `list`. A refused request gets an `error` header and the connection carries on; a failure while
 * raw file bytes are flowing gets an `error` header (when it can still be sent) and the connection ends.
 */
export async function serveConnection(
  wire: Wire,
  ctx: SessionContext,
  peer: string,
  signal?: AbortSignal,
  peerAddress: string = peer,
): Promise<void> {
  /** What this connection's token allows, once its first request carried one that matched. */
  let grant: TokenGrant | undefined;
  for (;;) {
    const state: State = { inBody: false };
    let header: Header | undefined;
    try {
      header = await wire.readHeader();
    } catch (err) {
      const error = asTransferError(err);
      if (error.code !== "CONNECTION_LOST") await refuseHeader(wire, ctx, peer, error);
      return;
    }
    if (header === undefined || signal?.aborted) return;
    const name = "name" in header ? header.name : undefined;
    if (ctx.gate !== undefined && grant === undefined) {
      try {
        const token = "token" in header ? header.token : undefined;
        grant = await ctx.gate.check(token, peerAddress, signal);
      } catch (err) {
        if (!isNetlabError(err)) return; // shut down during the delay
        const code = err.code === "AUTH_REQUIRED" ? "AUTH_REQUIRED" : "AUTH_FAILED";
        const error = new TransferError(code, err.message, { hint: err.hint });
        // One attempt per connection: each guess costs a connection and the address's delay.
        await refuseHeader(wire, ctx, peer, error);
        return;
      }
    }
    try {
      if (transferChannel.hasSubscribers && (header.op === "put" || header.op === "get")) {
        const start: TransferWireEvent = { type: "start", side: "server", op: header.op, name: header.name };
        if (header.op === "put") start.size = header.size;
        transferChannel.publish(start);
      }
      switch (header.op) {
        case "put":
          if (grant?.access === "ro") {
            throw new TransferError("READ_ONLY", "your token is read-only: uploads are refused", {
              hint: "ask the server's operator for a TOKEN:rw line",
            });
          }
          await servePut(wire, ctx, header, peer, state);
          break;
        case "get":
          await serveGet(wire, ctx, header, peer, state, signal);
          break;
        case "list":
          await serveList(wire, ctx, header.prefix);
          break;
        default:
          throw new TransferError(
            "BAD_REQUEST",
            `unexpected '${header.op}' header: expected put, get or list`,
          );
      }
    } catch (err) {
      const error = asTransferError(err);
      ctx.events.emit("transferError", { op: header.op, name, error, peer } satisfies ServerTransferError);
      publishError("server", header.op, name, error);
      if (error.code === "CONNECTION_LOST") return;
      if (state.inBody && header.op === "get") return; // mid-file: the client sees the close
      await wire.writeHeader(errorHeader(error)).catch(() => {});
      // After raw bytes started, or a header out of place, the stream cannot be trusted.
      if (state.inBody || error.code === "BAD_REQUEST") return;
    }
  }
}

/** Reports a header that could not be read (the event, and an `error` header to the peer); the connection then ends. */
export async function refuseHeader(
  wire: Wire,
  ctx: SessionContext,
  peer: string,
  error: TransferError,
): Promise<void> {
  ctx.events.emit("transferError", { op: "?", name: undefined, error, peer } satisfies ServerTransferError);
  publishError("server", "?", undefined, error);
  await wire.writeHeader(errorHeader(error)).catch(() => {});
}

/** Longest error message or hint the server sends, in characters: one short line each. */
export const MAX_ERROR_TEXT_CHARS = 300;

function errorHeader(error: TransferError) {
  return {
    op: "error" as const,
    code: error.code,
    message: cut(error.message),
    hint: error.hint === undefined ? undefined : cut(error.hint),
  };
}

function cut(text: string): string {
  // An OS message names the file as the server opened it (through /proc/self/fd): say just the name.
  const line = text.replace(/\s+/g, " ").replace(/\/proc\/self\/fd\/\d+\/?/g, "");
  return line.length <= MAX_ERROR_TEXT_CHARS ? line : `${line.slice(0, MAX_ERROR_TEXT_CHARS - 1)}…`;
}

/** Turns anything thrown into a TransferError (a bug becomes IO_ERROR with its message). */
export function asTransferError(err: unknown): TransferError {
  if (err instanceof TransferError) return err;
  const e = err as { code?: string; name?: string; message?: string };
  if (e?.name === "AbortError" || e?.code === "ABORT_ERR") {
    return new TransferError("CONNECTION_LOST", "the server is shutting down", { cause: err });
  }
  const lost = [
    "CONNECTION_RESET",
    "ABORTED",
    "IDLE_TIMEOUT",
    "FRAME_TIMEOUT",
    "TRUNCATED",
    "ECONNRESET",
    "EPIPE",
  ];
  if (e?.code !== undefined && lost.includes(e.code)) {
    return new TransferError("CONNECTION_LOST", e.message ?? "connection lost", { cause: err });
  }
  return fsError(err, "serving the request");
}

async function expectHeader<K extends Header["op"]>(wire: Wire, op: K, after: string): Promise<HeaderOf<K>> {
  const header = await wire.readHeader();
  if (header === undefined)
    throw new TransferError("CONNECTION_LOST", `connection closed before '${op}' ${after}`);
  if (header.op !== op) {
    throw new TransferError("BAD_REQUEST", `expected a '${op}' header ${after}, got '${header.op}'`);
  }
  return header as HeaderOf<K>;
}

async function servePut(
  wire: Wire,
  ctx: SessionContext,
  req: HeaderOf<"put">,
  peer: string,
  state: State,
): Promise<void> {
  const started = performance.now();
  if (ctx.readOnly) {
    throw new TransferError("READ_ONLY", "the server is read-only: uploads are refused", {
      hint: "restart 'lab files' without --read-only to accept uploads",
    });
  }
  if (req.size > ctx.maxSizeBytes) {
    throw new TransferError(
      "TOO_LARGE",
      `${req.name} is ${formatBytes(req.size)}, over the server's limit of ${formatBytes(ctx.maxSizeBytes)}`,
      { hint: "start 'lab files' with a larger --max-size" },
    );
  }
  const { dir, base } = await ctx.root.parentFor(req.name);
  let key: string;
  try {
    key = `${await dir.key()}/${base}`;
  } catch (err) {
    await dir.close();
    throw fsError(err, `opening the folder of ${req.name}`);
  }
  if (ctx.activeUploads.has(key)) {
    await dir.close();
    throw new TransferError("BUSY", `${req.name} is being uploaded by another client right now`, {
      hint: "wait for that upload to finish, then try again",
    });
  }
  ctx.activeUploads.add(key);
  // Named through the folder's descriptor: a rename of a folder on the way cannot redirect them.
  const finalPath = dir.at(base);
  const partPath = dir.at(base + PART_SUFFIX);
  let fh: FileHandle | undefined;
  let removePart = false;
  try {
    const existing = await lstat(finalPath).catch(() => undefined);
    if (existing?.isDirectory())
      throw new TransferError("NOT_A_FILE", `${JSON.stringify(req.name)} is a folder on the server`);
    if (!req.overwrite && existing !== undefined) {
      if (existing.isFile() && req.sha256 !== undefined && existing.size === req.size) {
        if ((await hashExisting(finalPath, req.name, existing.size)) === req.sha256) {
          await wire.writeHeader({
            op: "done",
            name: req.name,
            size: req.size,
            sha256: req.sha256,
            existed: true,
          });
          return;
        }
        throw alreadyExists(req.name, "on the server (a different file)");
      }
      throw alreadyExists(req.name);
    }
    fh = await open(partPath, PART_OPEN_FLAGS, 0o644).catch((err) => {
      throw fsError(err, `opening ${req.name}${PART_SUFFIX}`);
    });
    const info = await fh.stat();
    if (!info.isFile())
      throw new TransferError("NOT_A_FILE", `${req.name}${PART_SUFFIX} is not a regular file`);
    let offered = 0;
    let prefixSha256: string | undefined;
    let hash: Hash | undefined;
    if (req.resume && info.size > 0 && info.size <= req.size) {
      hash = await hashPrefix(fh, info.size, `${req.name}${PART_SUFFIX}`);
      prefixSha256 = hash.copy().digest("hex");
      offered = info.size;
    }
    await wire.writeHeader({ op: "accept", offset: offered, prefixSha256 });
    const data = await expectHeader(wire, "data", "after 'accept'");
    if (data.offset !== 0 && data.offset !== offered) {
      throw new TransferError(
        "BAD_REQUEST",
        `'data' offset ${data.offset} is neither 0 nor the offered ${offered}`,
      );
    }
    if (data.offset === 0) hash = undefined;
    if (req.verify) hash ??= createHash("sha256");
    else hash = undefined;
    await fh.truncate(data.offset);
    state.inBody = true;
    try {
      // No signal: on shutdown or a reset the wire's reads end by themselves, after the bytes
      // already received, so all of those reach the .part (a resume need not send them again).
      await receiveRange(wire, fh, data.offset, req.size, {
        ...ctx.stream,
        hash,
        what: req.name,
        write: ctx.write,
      });
    } catch (err) {
      if (err instanceof TransferError && err.code === "NO_SPACE") removePart = true;
      throw err;
    }
    const end = await expectHeader(wire, "end", "after the file data");
    state.inBody = false;
    const sha256 = hash?.digest("hex");
    if (sha256 !== undefined && end.sha256 !== sha256) {
      removePart = true;
      throw new TransferError(
        "CHECKSUM_MISMATCH",
        end.sha256 === undefined
          ? `${req.name}: the client sent no SHA-256 to verify against`
          : `${req.name}: SHA-256 mismatch (received ${sha256.slice(0, 12)}…, sender says ${end.sha256.slice(0, 12)}…); the file was not kept`,
        { hint: "send it again" },
      );
    }
    if (ctx.stream.fsync !== false) {
      await fh.sync().catch((err) => {
        throw fsError(err, `syncing ${req.name}`);
      });
    }
    await fh.close();
    fh = undefined;
    await commitPart(partPath, finalPath, req.overwrite, req.name, ctx.stream.fsync !== false);
    await wire.writeHeader({ op: "done", name: req.name, size: req.size, sha256 });
    ctx.events.emit("transfer", {
      op: "put",
      name: req.name,
      size: req.size,
      transferredBytes: req.size - data.offset,
      offset: data.offset,
      sha256,
      seconds: (performance.now() - started) / 1000,
      peer,
    } satisfies ServerTransfer);
    publishDone("put", req.name, req.size, req.size - data.offset, started);
  } finally {
    await fh?.close().catch(() => {});
    if (removePart) await unlink(partPath).catch(() => {});
    ctx.activeUploads.delete(key);
    await dir.close();
  }
}

/**
 * The SHA-256 of the file already under an upload's name, opened without following a symlink
 * (lstat said regular file, but it may have been swapped since) and checked to still be one.
 */
async function hashExisting(finalPath: string, name: string, size: number): Promise<string | undefined> {
  const fh = await open(finalPath, EXISTING_READ_FLAGS).catch(() => undefined);
  if (fh === undefined) return undefined;
  try {
    const info = await fh.stat();
    if (!info.isFile() || info.size !== size) return undefined;
    return (await hashPrefix(fh, size, name)).digest("hex");
  } finally {
    await fh.close().catch(() => {});
  }
}

/** A file compared by hash: never through a symlink, never blocking on a FIFO swapped in. */
const EXISTING_READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

async function serveGet(
  wire: Wire,
  ctx: SessionContext,
  req: HeaderOf<"get">,
  peer: string,
  state: State,
  signal?: AbortSignal,
): Promise<void> {
  const started = performance.now();
  // Opened (not just checked) through the confined walk: what is sent is what was checked.
  const { fh, info } = await ctx.root.openRead(req.name);
  try {
    const size = info.size;
    let offset = 0;
    let hash: Hash | undefined;
    if (req.offset > 0 && req.offset <= size && req.prefixSha256 !== undefined) {
      const prefix = await hashPrefix(fh, req.offset, req.name);
      if (prefix.copy().digest("hex") === req.prefixSha256) {
        offset = req.offset;
        hash = prefix;
      }
    }
    if (!req.verify) hash = undefined;
    else if (offset === 0) hash = createHash("sha256");
    await wire.writeHeader({ op: "file", name: req.name, size, offset, mtimeMs: info.mtimeMs });
    state.inBody = true;
    await sendRange(wire, fh, offset, size, {
      hash,
      what: req.name,
      signal,
      readBlockBytes: ctx.stream.readBlockBytes,
      rateBytesPerSecond: ctx.stream.rateBytesPerSecond,
    });
    const sha256 = hash?.digest("hex");
    await wire.writeHeader({ op: "end", sha256 });
    state.inBody = false;
    ctx.events.emit("transfer", {
      op: "get",
      name: req.name,
      size,
      transferredBytes: size - offset,
      offset,
      sha256,
      seconds: (performance.now() - started) / 1000,
      peer,
    } satisfies ServerTransfer);
    publishDone("get", req.name, size, size - offset, started);
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Upper bound on the JSON of one `entries` header, well under MAX_HEADER_BYTES. */
const ENTRIES_FRAME_BYTES = 32 * 1024;

async function serveList(wire: Wire, ctx: SessionContext, prefix: string | undefined): Promise<void> {
  const { entries, truncated } = await listFiles(ctx.root, ctx.maxListEntries, prefix);
  let batch: Entry[] = [];
  let batchBytes = 0;
  for (const entry of entries) {
    const bytes = Buffer.byteLength(entry.name) * 2 + 64;
    if (batchBytes + bytes > ENTRIES_FRAME_BYTES && batch.length > 0) {
      await wire.writeHeader({ op: "entries", entries: batch });
      batch = [];
      batchBytes = 0;
    }
    batch.push(entry);
    batchBytes += bytes;
  }
  if (batch.length > 0) await wire.writeHeader({ op: "entries", entries: batch });
  await wire.writeHeader({ op: "listed", count: entries.length, truncated });
}

/**
 * Regular files under the served folder, recursively, sorted by name, at most `maxEntries`.
 * Left out: partial (`.part`) files, names the server would refuse (dotfiles unless allowed,
 * control characters, ...), and symlinks that lead outside the folder; symlinked folders are not
 * entered (no loops). Folders are opened through the root's descriptors, as downloads are.
 * With `prefix` (a folder's name, checked like any name) only the files under it; none when it
 * is not a folder.
 */
export async function listFiles(
  root: ServedRoot,
  maxEntries: number,
  prefix?: string,
): Promise<{ entries: Entry[]; truncated: boolean }> {
  const entries: Entry[] = [];
  const dirs: string[] = [prefix === undefined ? "" : root.split(prefix).join("/")];
  const seen = new Set<string>();
  let truncated = false;
  // Every folder is visited once (by identity) and the list is capped, so this ends.
  while (dirs.length > 0 && !truncated) {
    const rel = dirs.shift()!;
    const served: ServedDir | undefined = await root.openDir(rel).catch(() => undefined);
    if (!served) continue;
    try {
      const key = await served.key();
      if (seen.has(key)) continue;
      seen.add(key);
      const dir = await opendir(served.at("")).catch(() => undefined);
      if (!dir) continue;
      for await (const d of dir) {
        const name = rel === "" ? d.name : `${rel}/${d.name}`;
        if (!isServable(root, name)) continue;
        if (d.isDirectory()) {
          dirs.push(name);
          continue;
        }
        let info = d.isSymbolicLink() ? undefined : await lstat(served.at(d.name)).catch(() => undefined);
        if (d.isSymbolicLink()) {
          const opened = await root.openRead(name).catch(() => undefined);
          info = opened?.info;
          await opened?.fh.close();
        }
        if (!info?.isFile()) continue;
        if (entries.length >= maxEntries) {
          truncated = true;
          break;
        }
        entries.push({ name, size: info.size, mtimeMs: info.mtimeMs });
      }
    } finally {
      await served.close();
    }
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, truncated };
}

/** Whether a client could ask for `name`: listing what cannot be fetched would only confuse. */
function isServable(root: ServedRoot, name: string): boolean {
  try {
    root.split(name);
    return true;
  } catch {
    return false;
  }
}

function publishDone(
  op: string,
  name: string,
  size: number,
  transferredBytes: number,
  started: number,
): void {
  if (!transferChannel.hasSubscribers) return;
  const seconds = (performance.now() - started) / 1000;
  const e: TransferWireEvent = { type: "done", side: "server", op, name, size, transferredBytes, seconds };
  transferChannel.publish(e);
}

function publishError(
  side: "client" | "server",
  op: string,
  name: string | undefined,
  error: TransferError,
): void {
  if (!transferChannel.hasSubscribers) return;
  const e: TransferWireEvent = { type: "error", side, op, code: error.code, message: error.message };
  if (name !== undefined) e.name = name;
  transferChannel.publish(e);
}
