export { type Address, formatAddress, isLoop, parseAddress } from "./address.js";
export { API_DEFAULTS, API_VERSION, ProxyApi, type ProxyApiOptions } from "./api.js";
export { BusyPoll, DEFAULT_BUSY_POLL_US, MAX_BUSY_POLL_US, requireBusyPollUs } from "./busy-poll.js";
export { ProxyError, type ProxyErrorCode } from "./errors.js";
export {
  LINK_DEFAULTS,
  type LinkClose,
  type LinkInfo,
  type LinkOptions,
  linkSockets,
  ToxicLink,
  type ToxicLinkEvents,
} from "./link.js";
export { type ChunkEvent, PIPELINE_DEFAULTS, Pipeline, type PipelineOptions } from "./pipeline.js";
export { isAffected, type Random, randomSeed, seededRandom, toxicRandom } from "./random.js";
export {
  adoptWithReusedBuffer,
  FREE_READ_BYTES,
  type OnRead,
  READS_DEFAULTS,
  ReadBudget,
  type ReadConsumer,
  ReusedReads,
} from "./reads.js";
export {
  type Chunk,
  createStage,
  MAX_PENDING_LINE_BYTES,
  type Next,
  Stage,
  type StageHost,
  sleepUntil,
} from "./stages.js";
export {
  type ProxyJson,
  TCP_PROXY_DEFAULTS,
  TcpProxy,
  type TcpProxyEvents,
  type TcpProxyOptions,
} from "./tcp-proxy.js";
export { ToxicSet, type ToxicSetEvents } from "./toxic-set.js";
export {
  type AttributeKind,
  DEFAULT_STREAM,
  isToxicType,
  MAX_TOXIC_MS,
  normalizeToxic,
  parseToxicSpec,
  type Stream,
  TOXIC_KINDS,
  type Toxic,
  type ToxicAttributes,
  type ToxicKind,
  type ToxicSpec,
  type ToxicType,
} from "./toxics.js";
export {
  UDP_PROXY_DEFAULTS,
  UdpProxy,
  type UdpProxyDatagram,
  type UdpProxyEvents,
  type UdpProxyOptions,
} from "./udp-proxy.js";
