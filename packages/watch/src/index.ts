export { cannotWrite, WatchError, type WatchErrorCode } from "./errors.js";
export { clockTime, formatEndpoint, HEXDUMP_BYTES_PER_LINE, hexLines } from "./hexdump.js";
export { PCAP_SEGMENT_BYTES, sessionToPcap } from "./pcap.js";
export {
  checkReplayOptions,
  maskJsonFields,
  REPLAY_ACCEPT_WAIT_MS,
  REPLAY_DEFAULTS,
  REPLAY_EXTRA_BYTES,
  REPLAY_PACES,
  type ReplayDifference,
  type ReplayOptions,
  type ReplayPace,
  type ReplayResult,
  type ReplayServerOptions,
  type ReplaySilence,
  replay,
  replayAsServer,
} from "./replay.js";
export {
  EVENT_NAMES,
  EVENTS_VERSION,
  type EventLine,
  eventLineSchema,
  eventsJsonSchema,
  SESSION_VERSION,
  type SessionHeader,
  type SessionRecord,
  sessionHeaderSchema,
  sessionJsonSchema,
  sessionRecordSchema,
} from "./schema.js";
export { restoreSessionSecrets, type SessionSecrets } from "./secrets.js";
export {
  connectionsOf,
  parseSession,
  type ReadSessionOptions,
  readSession,
  SESSION_MAX_BYTES,
  type Session,
  type SessionConnection,
} from "./session.js";
export { LineSink, type LineSinkOptions, SINK_MAX_QUEUED_ITEMS } from "./sink.js";
export { formatHexEvent, startWatch, type Watch, type WatchOptions, type WatchOutput } from "./watch.js";
