export { ByteQueue } from "./byte-queue.js";
export type { Codec, Decoder, Encoder } from "./codec.js";
export { ProtocolError, type ProtocolErrorCode, type ProtocolErrorOptions } from "./errors.js";
export {
  formatIssues,
  type JsonOptions,
  json,
  type Schema,
  type SchemaIssue,
  type Validator,
} from "./json.js";
export { LENGTH_PREFIXED_DEFAULTS, type LengthPrefixedOptions, lengthPrefixed } from "./length-prefixed.js";
export { LINE_DEFAULTS, type LineOptions, lines } from "./lines.js";
export { mapDecoder } from "./map-decoder.js";
export {
  AUTH_SECRET_FIELD,
  type RedactOptions,
  type RestoredSecrets,
  redactSecrets,
  restoreMaskedSecrets,
  SECRET_JSON_FIELDS,
  SecretRedactor,
  SecretScanner,
  type SecretSpan,
} from "./redact.js";
