export {
  type HostPort,
  parseHostPort,
  parsePort,
  parseUdpHost,
  type ResolvedAddress,
  resolveHost,
} from "./address.js";
export { BLAST_DEFAULTS, type BlastOptions, type BlastResult, blast } from "./blast.js";
export {
  type EchoCounters,
  type EchoDatagram,
  type UdpEchoEvents,
  type UdpEchoOptions,
  UdpEchoServer,
} from "./echo-server.js";
export {
  EMULATOR_DEFAULTS,
  type EmulatorOptions,
  type Fate,
  MAX_EMULATED_DELAY_MS,
  NetworkEmulator,
} from "./emulator.js";
export {
  formatHostPort,
  MAX_UDP_PAYLOAD_BYTES,
  toUdpError,
  UdpError,
  type UdpErrorCode,
  type UdpErrorContext,
} from "./errors.js";
export { formatDatagram, type PayloadView, viewPayload } from "./format.js";
export { type ReceivedDatagram, UdpListener, type UdpListenerOptions } from "./listener.js";
export {
  MAX_TRACKED_PROBES,
  MIN_INTERVAL_MS,
  PING_DEFAULTS,
  type PingEvent,
  Pinger,
  type PingerEvents,
  type PingIgnored,
  type PingOptions,
  type PingReply,
  type PingTimeout,
  type PingUnreachable,
  ping,
} from "./pinger.js";
export {
  decodeProbe,
  encodeProbe,
  type NotAProbe,
  PROBE_HEADER_BYTES,
  PROBE_MAGIC,
  type Probe,
} from "./probe.js";
export { type Random, randomSeed, seededRandom } from "./random.js";
export {
  REPLY_HEADER_BYTES,
  REPLY_LIMIT_DEFAULTS,
  ReplyLimiter,
  type ReplyLimitOptions,
} from "./reply-limit.js";
export { type SendOptions, type SendResult, sendDatagram } from "./send.js";
export {
  formatPercent,
  formatRtt,
  formatSummary,
  lossPercent,
  type PingSummary,
  RttAccumulator,
  type RttStats,
} from "./stats.js";
