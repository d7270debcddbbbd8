export { type TransferWireEvent, transferChannel } from "./channel.js";
export { TransferClient } from "./client.js";
export {
  type FetchItem,
  type FolderFetch,
  type FolderFetchOptions,
  planFolderFetch,
} from "./client-folder.js";
export {
  CLIENT_DEFAULTS,
  type ClientOptions,
  DEFAULT_PORT,
  type DownloadOptions,
  type Progress,
  type ResumeInfo,
  TRANSFER_ALPN,
  type TransferOptions,
  type TransferResult,
} from "./client-options.js";
export type { UploadOptions } from "./client-upload.js";
export { commitPart } from "./commit.js";
export {
  fsError,
  isTransferErrorCode,
  RemoteTransferError,
  TransferError,
  type TransferErrorCode,
} from "./errors.js";
export {
  FOLDER_DEFAULTS,
  type FolderFile,
  type FolderSkip,
  type FolderWalk,
  type FolderWalkOptions,
  walkFolder,
} from "./folder.js";
export {
  type Entry,
  encodeHeader,
  type Header,
  type HeaderInput,
  headerDecoder,
  headerSchema,
  MAX_HEADER_BYTES,
  PROTOCOL_VERSION,
  parseHeader,
} from "./header.js";
export { checkSegment, isWithin, MAX_NAME_DEPTH, type NameRules, PART_SUFFIX, splitName } from "./names.js";
export {
  RawFileServer,
  type RawFileServerOptions,
  type RawGetOptions,
  type RawGetResult,
  type RawSent,
  rawGet,
} from "./raw.js";
export { ServedDir, ServedRoot, type ServedRootOptions, type UploadTarget } from "./root.js";
export { FILE_SERVER_DEFAULTS, FileServer, type FileServerOptions, TransferHandler } from "./server.js";
export {
  listFiles,
  MAX_ERROR_TEXT_CHARS,
  type ServerTransfer,
  type ServerTransferError,
  serveConnection,
} from "./session.js";
export { formatBytes, formatRate, megabytesPerSecond, parseSize } from "./size.js";
export {
  hashPrefix,
  receiveRange,
  STREAM_DEFAULTS,
  type StreamOptions,
  sendRange,
  type WriteFn,
  writeAll,
} from "./stream.js";
export { SocketWire, type SocketWireOptions, WIRE_DEFAULTS, type Wire } from "./wire.js";
