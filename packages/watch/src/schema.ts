import { z } from "zod";

/** Version of the event lines (`v`) this package writes. */
export const EVENTS_VERSION = 1;
/** Version of the session format (the header's `v`) this package writes and reads. */
export const SESSION_VERSION = 1;

const attrValue = z.union([z.string(), z.number(), z.boolean()]);

/** Every event name `--events` writes. */
export const EVENT_NAMES = [
  "server.listen",
  "connection.open",
  "connection.half_close",
  "connection.close",
  "chat.join",
  "chat.leave",
  "chat.nick",
  "chat.message",
  "transfer.start",
  "transfer.progress",
  "transfer.done",
  "transfer.error",
  "events.dropped",
] as const;

/**
 * One `--events` line. `attrs` use OpenTelemetry's names where one exists (`network.transport`,
 * `network.peer.address`, `network.peer.port`, `network.local.address`, `network.local.port`,
 * `server.address`, `server.port`, `network.io.direction`), `netlab.*` otherwise.
 */
export const eventLineSchema = z
  .object({
    v: z.literal(EVENTS_VERSION),
    /** ms since the epoch. */
    ts: z.number(),
    /** Strictly increasing from 1 within one file; a gap is covered by an `events.dropped` line. */
    seq: z.number().int().positive(),
    event: z.enum(EVENT_NAMES),
    attrs: z.record(z.string(), attrValue),
  })
  .strict();

/** A parsed `--events` line. */
export type EventLine = z.infer<typeof eventLineSchema>;

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, "not base64");
const endpoint = z.string();

/** The first line of a session recording. */
export const sessionHeaderSchema = z
  .object({
    netlab: z.literal("session"),
    v: z.literal(SESSION_VERSION),
    /** ms since the epoch when recording began. */
    ts: z.number(),
    /** Which end of the connections this process was. */
    side: z.enum(["client", "server"]),
    command: z.string().optional(),
  })
  .strict();

/** One line after the header: a connection opens, carries bytes, half-closes or closes. `t` is ms since the header's `ts`. */
export const sessionRecordSchema = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("open"),
      t: z.number(),
      conn: z.number().int().positive(),
      transport: z.enum(["tcp", "unix", "udp"]),
      client: endpoint,
      server: endpoint,
    })
    .strict(),
  z
    .object({
      type: z.literal("data"),
      t: z.number(),
      conn: z.number().int().positive(),
      /** Who sent these bytes. */
      from: z.enum(["client", "server"]),
      b64: base64,
    })
    .strict(),
  z
    .object({
      type: z.literal("half_close"),
      t: z.number(),
      conn: z.number().int().positive(),
      from: z.enum(["client", "server"]),
    })
    .strict(),
  z
    .object({
      type: z.literal("close"),
      t: z.number(),
      conn: z.number().int().positive(),
      reason: z.enum(["fin", "rst", "timeout", "error"]),
    })
    .strict(),
]);

/** A parsed session header. */
export type SessionHeader = z.infer<typeof sessionHeaderSchema>;
/** A parsed session line after the header. */
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** The JSON Schema of `--events` lines (published as docs/schema/events.schema.json). */
export function eventsJsonSchema(): object {
  return { title: "netlab --events line", ...z.toJSONSchema(eventLineSchema) };
}

/** The JSON Schema of every session line: the header, then records (docs/schema/session.schema.json). */
export function sessionJsonSchema(): object {
  return {
    title: "netlab session recording line",
    ...z.toJSONSchema(z.union([sessionHeaderSchema, sessionRecordSchema])),
  };
}
