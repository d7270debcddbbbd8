export { UrlError, type UrlErrorCode } from "./errors.js";
export {
  DECOMPRESSION_RATIO_FLOOR_BYTES,
  HTTP_DEFAULTS,
  HTTPError,
  type HttpResponse,
  type RequestOptions,
  staticLookup,
  URLError,
  type URLErrorCode,
  type URLErrorOptions,
  urlopen,
} from "./http.js";
export { isIPv4, isIPv6 } from "./ip-address.js";
export {
  type ParseParts,
  ParseResult,
  type SplitOptions,
  type SplitParts,
  SplitResult,
  USES_NETLOC,
  USES_PARAMS,
  USES_RELATIVE,
  urldefrag,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
} from "./parse.js";
export { type PyValue, pyRepr, pyStr } from "./py.js";
export {
  type ParseQsOptions,
  parseQs,
  parseQsl,
  type QuoteVia,
  type UrlencodeInput,
  type UrlencodeOptions,
  urlencode,
} from "./query.js";
export {
  type QuoteOptions,
  quote,
  quoteFromBytes,
  quotePlus,
  unquote,
  unquotePlus,
  unquoteToBytes,
} from "./quote.js";
export { type WhatwgView, whatwg } from "./whatwg.js";
