import { z } from "zod";

const text = z
  .string()
  .min(1)
  .max(64 * 1024);
const name = z.string().min(1).max(64);
const ts = z.number();

/**
 * What a JSON-mode client sends: one object per line. `hello` must be the first line of the
 * connection; every other line is a command. Each line is validated; a bad one gets an `error` event.
 * @example {"type":"hello","proto":1,"nick":"alice"}
 */
export const clientMessageSchema = z.discriminatedUnion("type", [
  // Any string: a nick the server refuses still upgrades the client, joined as a guest with an error.
  z.object({
    type: z.literal("hello"),
    proto: z.number().int(),
    nick: z.string().optional(),
    /** The shared secret, for a server started with a token file; ignored by one without. */
    token: z.string().max(1024).optional(),
    /**
     * A reconnecting client's reclaim token for `nick` (the last `reclaim` event's): takes the nick
     * over at once from a session of ours the server still holds. At most 64 characters (checked by
     * the hub, which answers a longer one with BAD_MESSAGE).
     */
    reclaim: z.string().optional(),
    /** A reconnecting client's room, joined instead of `#lobby` (any server). */
    room: name.optional(),
    /** Cluster mode: the last `streamId` seen in `room`; what was missed since is replayed. */
    since: z
      .string()
      .regex(/^\d{1,20}-\d{1,20}$/)
      .optional(),
  }),
  z.object({ type: z.literal("message"), text }),
  z.object({ type: z.literal("me"), text }),
  z.object({ type: z.literal("nick"), nick: name }),
  z.object({ type: z.literal("join"), room: name }),
  z.object({ type: z.literal("who") }),
  z.object({ type: z.literal("rooms") }),
  z.object({ type: z.literal("nodes") }),
  z.object({ type: z.literal("private"), to: name, text }),
  z.object({ type: z.literal("help") }),
  z.object({ type: z.literal("quit") }),
  z.object({ type: z.literal("ping"), id: z.union([z.string().max(64), z.number()]).optional() }),
]);
/** A JSON-mode message from a client. */
export type ClientMessage = z.infer<typeof clientMessageSchema>;

/** The `hello` a JSON client opens with. */
export type Hello = Extract<ClientMessage, { type: "hello" }>;

/**
 * The events a server sends in JSON mode (NDJSON), and that `ChatClient` emits. Text mode sends the
 * same events as lines, through `formatEvent`.
 */
export const chatEventSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("welcome"),
    proto: z.number(),
    server: z.string(),
    nick: z.string(),
    room: z.string(),
    text: z.string(),
    /** The server's flood limit, so a client can pace itself below it (absent when there is none). */
    limits: z.object({ floodMessages: z.number(), floodWindowMs: z.number() }).optional(),
    /** The token that reclaims `nick` on a reconnect (`hello.reclaim`); see `nick.reclaim`. */
    reclaim: z.string().optional(),
  }),
  z.object({
    type: z.literal("message"),
    id: z.number(),
    room: z.string(),
    from: z.string(),
    text: z.string(),
    ts,
    /** A `/me` action. */
    action: z.boolean().optional(),
    /** Replayed from the room's history on join. */
    history: z.boolean().optional(),
    /** Cluster mode: the message's place in its room's stream, for a reconnect's `hello.since`. */
    streamId: z.string().optional(),
    /** Cluster mode: the node the sender is on. */
    node: z.string().optional(),
  }),
  z.object({ type: z.literal("join"), room: z.string(), nick: z.string(), ts }),
  z.object({
    type: z.literal("leave"),
    room: z.string(),
    nick: z.string(),
    ts,
    reason: z.string().optional(),
  }),
  z.object({
    type: z.literal("nick"),
    from: z.string(),
    to: z.string(),
    ts,
    /**
     * JSON mode, in the welcome and in the client's own nick change only (never to the room): the
     * secret that reclaims the nick on a reconnect (`hello.reclaim`). A new one with each nick
     * granted; `ChatClient` keeps it and takes it out of the events it emits.
     */
    reclaim: z.string().optional(),
  }),
  z.object({ type: z.literal("who"), room: z.string(), nicks: z.array(z.string()) }),
  z.object({
    type: z.literal("rooms"),
    rooms: z.array(z.object({ name: z.string(), clients: z.number() })),
  }),
  z.object({
    type: z.literal("nodes"),
    nodes: z.array(z.object({ id: z.string(), clients: z.number(), self: z.boolean() })),
  }),
  z.object({ type: z.literal("private"), from: z.string(), to: z.string(), text: z.string(), ts }),
  z.object({ type: z.literal("error"), code: z.string(), message: z.string(), hint: z.string().optional() }),
  z.object({
    type: z.literal("notice"),
    /**
     * `operator`: typed at the server console; `shutdown`: the server is stopping; `info`: help and
     * the like; `warning`: flood control and other last warnings; `cluster`: the node lost or got
     * back its link to the cluster (degraded); `gap`: a reconnect's history has a hole.
     */
    kind: z.enum(["operator", "shutdown", "info", "warning", "cluster", "gap"]),
    text: z.string(),
    ts,
  }),
  z.object({ type: z.literal("pong"), id: z.union([z.string(), z.number()]).optional() }),
]);
/** One event from a chat server. */
export type ChatEvent = z.infer<typeof chatEventSchema>;
/** The event of a given `type`. */
export type ChatEventOf<T extends ChatEvent["type"]> = Extract<ChatEvent, { type: T }>;
