export {
  type AbstractAddress,
  type Address,
  AddressError,
  type AddressErrorCode,
  formatAddress,
  formatHost,
  formatHostPort,
  formatPeer,
  formatSocketPath,
  type HostAddress,
  MAX_UNIX_PATH_BYTES,
  type ParseAddressOptions,
  type PeerLike,
  parseAddress,
  parseHost,
  parsePortText,
  parseSocketPath,
  type SocketTarget,
  socketPath,
  socketTarget,
  type UnixAddress,
  unmapIPv4,
} from "./address.js";
export {
  AUTH_BACKOFF_DEFAULTS,
  AuthBackoff,
  type AuthBackoffOptions,
  AuthError,
  type AuthErrorCode,
  addressKey,
  type LoadedTokenFile,
  loadTokenFile,
  MIN_TOKEN_CHARS,
  parseTokenFile,
  requireSafeAuth,
  type TokenAccess,
  type TokenFileEntry,
  TokenGate,
  type TokenGrant,
  TokenSet,
  tokenRefused,
} from "./auth.js";

export {
  describeErrno,
  type ErrnoContext,
  type ErrnoDescription,
  type ErrnoErrorCode,
  errnoCode,
  errnoOf,
} from "./errno.js";
export { isNetlabError, NetlabError, type NetlabErrorOptions, OptionError } from "./errors.js";
export { FILE_LOCK_DEFAULTS, lockFile, makeDirectory, replaceFileAtomically } from "./files.js";
export { LOW_SPEED_DEFAULTS, LowSpeedClock, type LowSpeedOptions } from "./low-speed.js";
export {
  type IntBounds,
  type OptionChecks,
  type OptionErrorClass,
  optionChecks,
  requireInt,
  requireMs,
  requirePositiveInt,
  requireRange,
  withDefaults,
} from "./options.js";
export {
  describeBytes,
  SNIFF_EXCERPT_CHARS,
  type SniffedProtocol,
  sniffProtocol,
  startsTlsRecord,
  TLS_PLAINTEXT_REPLY,
} from "./sniff.js";
export { closest } from "./suggest.js";
export {
  type EscapeOptions,
  escapeControls,
  fitColumns,
  hasControls,
  safeJson,
  safeLine,
  showControl,
  UNSAFE_TEXT,
} from "./terminal.js";
export { formatBytes, formatRate, parseRate, parseSize, plural } from "./units.js";
