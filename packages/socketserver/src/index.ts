export { BaseRequestHandler } from "./base-handler.js";
export {
  BaseServer,
  type BoundAddress,
  connectionChannel,
  type HandlerClass,
  type ServeOptions,
  type ServerEvents,
  type ServerListener,
  type ServerState,
} from "./base-server.js";
export { EchoHandler, UpperHandler } from "./classic.js";
export { type ConnectOptions, connect } from "./client.js";
export { DatagramRequestHandler } from "./datagram-handler.js";
export { NetworkError, type NetworkErrorCode, type NetworkErrorContext, toNetworkError } from "./errors.js";
export {
  ForkingMixIn,
  type ForkingPolicy,
  ForkingTCPServer,
  ForkingUDPServer,
  ForkingUnixStreamServer,
} from "./forking.js";
export {
  type FrameCallback,
  FramedReader,
  type FramedReaderHooks,
  type FramedReaderOptions,
  READ_HIGH_WATER_BYTES,
  type ReaderState,
  type StreamReader,
} from "./framed-reader.js";
export {
  type Mixed,
  ThreadingMixIn,
  type ThreadingPolicy,
  ThreadingTCPServer,
  ThreadingUDPServer,
  ThreadingUnixDatagramServer,
  ThreadingUnixStreamServer,
} from "./mixins.js";
export { StreamRequestHandler } from "./stream-handler.js";
export {
  isWireWatched,
  tapData,
  tapDatagram,
  tapListen,
  tapOpen,
  type WireCloseReason,
  type WireConnection,
  type WireDataEvent,
  type WireDirection,
  type WireEvent,
  type WireLifecycleEvent,
  type WireSide,
  wireChannel,
  wireDataChannel,
  wireNow,
} from "./tap.js";
export { listenStream, TCPServer, UnixStreamServer } from "./tcp-server.js";
export {
  type ServerTlsOptions,
  TLS_DEFAULTS,
  TLS_HANDSHAKE_BYTE,
  TlsAcceptor,
  type TlsRefusal,
} from "./tls-accept.js";
export {
  type CloseReason,
  type ConnectionInfo,
  type Datagram,
  type PeerAddress,
  SERVER_DEFAULTS,
  type ServerOptions,
  type UnixDatagramSocket,
} from "./types.js";
export { DatagramServer, UDPServer, UnixDatagramServer } from "./udp-server.js";
export type { StreamWriter } from "./writer.js";
