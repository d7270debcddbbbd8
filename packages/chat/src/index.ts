export {
  type BackendSink,
  type CatchUp,
  type ChatBackend,
  compareStreamIds,
  type DeliveredEvent,
  type NickToken,
  type NodeInfo,
  type PrivateEvent,
  type ReclaimedNick,
  type RoomEvent,
} from "./backend.js";
export { type ChatWireEvent, chatChannel } from "./channel.js";
export { ChatClient } from "./client.js";
export type { ChatClientOptions, ClientMode, ClientState, Reconnected, WireChunk } from "./client-options.js";
export { skeleton } from "./confusables.js";
export { ChatError, type ChatErrorCode } from "./errors.js";
export { FLOOD_DEFAULTS, FloodControl, type FloodOptions, type FloodVerdict } from "./flood.js";
export { clockTime, type FormatOptions, formatEvent } from "./format.js";
export { History } from "./history.js";
export { ChatHub, HUB_DEFAULTS, type HubOptions, type Link, type PeerSnapshot, Session } from "./hub.js";
export { isReservedNick, lookalikeKey, NickRegistry, RESERVED_NICKS } from "./nicks.js";
export { MAX_RECLAIM_TOKEN_CHARS } from "./reclaim.js";
export {
  CHAT_ALPN,
  type Command,
  checkNick,
  checkRoom,
  DEFAULT_ROOM,
  HELP_LINES,
  MAX_NICK_CHARS,
  nickKey,
  PROTOCOL_TAG,
  PROTOCOL_VERSION,
  parseInput,
} from "./rules.js";
export {
  type ChatEvent,
  type ChatEventOf,
  type ClientMessage,
  chatEventSchema,
  clientMessageSchema,
  type Hello,
} from "./schema.js";
export { ChatServer, type ChatServerOptions } from "./server.js";
export { textLine } from "./text-mode.js";
