export { DECOMPRESSION_RATIO_FLOOR_BYTES } from "./body.js";
export { UrlError, type UrlErrorCode } from "./errors.js";
export { HTTP_DEFAULTS, type HttpResponse, type RequestOptions, urlopen } from "./http.js";
export { HTTPError, URLError, type URLErrorCode, type URLErrorOptions } from "./http-errors.js";
export { isIPv4, isIPv6 } from "./ip-address.js";
export { staticLookup } from "./lookup.js";
export { type FormPart, multipartForm } from "./multipart.js";
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
