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
  formatHost,
} from "./errno.js";
export { isNetlabError, NetlabError, type NetlabErrorOptions, OptionError } from "./errors.js";
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
  type EscapeOptions,
  escapeControls,
  hasControls,
  safeLine,
  showControl,
  UNSAFE_TEXT,
} from "./terminal.js";
