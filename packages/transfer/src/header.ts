import { type Decoder, formatIssues, lengthPrefixed, mapDecoder, ProtocolError } from "@netlab/protocol";
import { z } from "zod";
import { TransferError } from "./errors.js";

/**
 * Largest header frame, in bytes. Headers carry names and small numbers (a list reply is split
 * into several frames), so 64 KiB is generous; file data never goes through a header.
 */
export const MAX_HEADER_BYTES = 64 * 1024;

/** Wire protocol version, sent in every request. */
export const PROTOCOL_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 lowercase hex digits");
const size = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const name = z.string().min(1).max(4096);
/** The shared secret, on the first request of a connection to a server with a token file. */
const token = z.string().min(1).max(1024).optional();
/** Furthest time from 1970 a Date can hold, in ms either way (years -271821 to 275760). */
const MAX_DATE_MS = 8.64e15;
/**
 * A modification time in ms since 1970, one a Date can show: a peer's NaN or out-of-range value is
 * a bad header, never an "Invalid time value" where the time is printed. Files from before 1970
 * have negative times, so those pass.
 */
const mtimeMs = z
  .number()
  .min(-MAX_DATE_MS, "expected a modification time in ms since 1970, got one before year -271821")
  .max(MAX_DATE_MS, "expected a modification time in ms since 1970, got one past year 275760");

/** Upload request: the client will send `size` bytes of NAME. */
const put = z.object({
  op: z.literal("put"),
  v: z.literal(PROTOCOL_VERSION),
  token,
  name,
  size,
  overwrite: z.boolean().default(false),
  resume: z.boolean().default(false),
  verify: z.boolean().default(true),
  /**
   * The whole file's SHA-256, sent when the client asks whether NAME is already there: a server
   * holding a regular file of this size and hash under NAME answers `done` with `existed` and no
   * data moves; any other file under NAME is still ALREADY_EXISTS (without `overwrite`).
   */
  sha256: sha256.optional(),
});
/** Download request; `offset` + `prefixSha256` when the client holds a partial copy. */
const get = z.object({
  op: z.literal("get"),
  v: z.literal(PROTOCOL_VERSION),
  token,
  name,
  offset: size.default(0),
  prefixSha256: sha256.optional(),
  verify: z.boolean().default(true),
});
/**
 * Directory listing request; `prefix` (a folder's name) lists only the files under it. A server
 * from before `prefix` ignores it and lists everything, so clients filter the reply too.
 */
const list = z.object({
  op: z.literal("list"),
  v: z.literal(PROTOCOL_VERSION),
  token,
  prefix: name.optional(),
});
/** Upload, after `accept`: raw bytes from `offset` to the announced size follow this header. */
const data = z.object({ op: z.literal("data"), offset: size });
/** Sent after the raw bytes of a file, by whichever side sent them. */
const end = z.object({ op: z.literal("end"), sha256: sha256.optional() });

/** Server reply to `put`: what it already holds (a resumable `.part`), so the client can check the prefix. */
const accept = z.object({ op: z.literal("accept"), offset: size, prefixSha256: sha256.optional() });
/** Server reply to `get`: raw bytes from `offset` to `size` follow, then an `end` header. */
const file = z.object({ op: z.literal("file"), name, size, offset: size, mtimeMs });
/**
 * Server reply once an upload is verified, synced and visible under its name; `existed` when the
 * identical file (size and the `put`'s SHA-256) was already there, so nothing was sent.
 */
const done = z.object({
  op: z.literal("done"),
  name,
  size,
  sha256: sha256.optional(),
  existed: z.boolean().default(false),
});
/** One file in a listing. */
export const entrySchema = z.object({ name, size, mtimeMs });
/** Part of a listing; several may follow one another, then `listed`. */
const entries = z.object({ op: z.literal("entries"), entries: z.array(entrySchema) });
const listed = z.object({ op: z.literal("listed"), count: size, truncated: z.boolean() });
/** A failure, with a TransferErrorCode. After it the connection may carry the next request. */
const error = z.object({
  op: z.literal("error"),
  code: z.string(),
  message: z.string(),
  hint: z.string().optional(),
});

/** Every header, either direction. */
export const headerSchema = z.discriminatedUnion("op", [
  put,
  get,
  list,
  data,
  end,
  accept,
  file,
  done,
  entries,
  listed,
  error,
]);

/** A decoded header. */
export type Header = z.output<typeof headerSchema>;
/** A header as written (defaults may be left out). */
export type HeaderInput = z.input<typeof headerSchema>;
/** One header of the given op. */
export type HeaderOf<K extends Header["op"]> = Extract<Header, { op: K }>;
/** A file in a listing: name relative to the served folder, size in bytes, modification time. */
export type Entry = z.output<typeof entrySchema>;

const framing = lengthPrefixed({ maxFrameBytes: MAX_HEADER_BYTES });
const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * One header as bytes: a u32 big-endian length, then UTF-8 JSON.
 * @example socket.write(encodeHeader({ op: "list", v: 1 }))
 */
export function encodeHeader(header: HeaderInput): Uint8Array {
  return framing.encode(encoder.encode(JSON.stringify(header)));
}

/** Parses and validates one header frame's payload; BAD_REQUEST with the reason otherwise. */
export function parseHeader(payload: Uint8Array): Header {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch (cause) {
    throw new TransferError("BAD_REQUEST", `bad header: not UTF-8 JSON (${(cause as Error).message})`, {
      cause,
      hint: "both sides must speak the netlab transfer protocol (see docs/PROTOCOL.md)",
    });
  }
  const result = headerSchema.safeParse(value);
  if (!result.success) {
    throw new TransferError("BAD_REQUEST", `bad header: ${formatIssues(result.error.issues)}`, {
      hint: "both sides must speak the netlab transfer protocol (see docs/PROTOCOL.md)",
    });
  }
  return result.data;
}

/** A decoder of length-prefixed header frames into validated headers (what both wires read with). */
export function headerDecoder(): Decoder<Header> {
  return mapDecoder(lengthPrefixed({ maxFrameBytes: MAX_HEADER_BYTES }), parseHeader);
}

/**
 * What a header read throws, as a TransferError: a header cut short by the end of the stream is a
 * lost connection, any other framing error (a length over MAX_HEADER_BYTES) a bad request.
 */
export function headerError(err: unknown): unknown {
  if (!(err instanceof ProtocolError)) return err;
  if (err.code === "TRUNCATED") {
    return new TransferError("CONNECTION_LOST", "connection closed in the middle of a header", {
      cause: err,
    });
  }
  return new TransferError("BAD_REQUEST", `bad header: ${err.message}`, {
    cause: err,
    hint: "both sides must speak the netlab transfer protocol (see docs/PROTOCOL.md)",
  });
}
