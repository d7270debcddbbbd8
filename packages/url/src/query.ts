import { UrlError } from "./errors.js";
import { type PyValue, pyRepr, pyStr } from "./py.js";
import { quotePlus, unquote } from "./quote.js";

/** Options for {@link parseQsl} and {@link parseQs}. */
export interface ParseQsOptions {
  /** Keep `a=` and a bare `a` as empty values. Default false: they are dropped. */
  keepBlankValues?: boolean;
  /** Throw UrlError BAD_QUERY_FIELD for a field without `=` (and for an empty field). Default false. */
  strictParsing?: boolean;
  /** Throw UrlError TOO_MANY_FIELDS when the query has more fields. Default Infinity (no limit). */
  maxNumFields?: number;
  /** What separates fields. Default "&". */
  separator?: string;
}

/**
 * Parses a query string into `[name, value]` pairs in order, as Python's `parse_qsl`: `+` is a
 * space, escapes are decoded as UTF-8 (U+FFFD for invalid bytes), blank values are dropped unless
 * `keepBlankValues`.
 * @example parseQsl("a=1&b=2+3&a=") // [["a", "1"], ["b", "2 3"]]
 */
export function parseQsl(qs: string, opts: ParseQsOptions = {}): Array<[string, string]> {
  const keepBlank = opts.keepBlankValues ?? false;
  const strict = opts.strictParsing ?? false;
  const separator = opts.separator ?? "&";
  const maxNumFields = opts.maxNumFields ?? Number.POSITIVE_INFINITY;
  if (typeof separator !== "string" || separator === "") {
    throw new UrlError("INVALID_SEPARATOR", "Separator must be of type string or bytes.", {
      hint: 'pass a non-empty separator such as "&" or ";"',
    });
  }
  if (maxNumFields !== Number.POSITIVE_INFINITY) {
    const fields = qs ? qs.split(separator).length : 0;
    if (maxNumFields < fields) {
      throw new UrlError("TOO_MANY_FIELDS", "Max number of fields exceeded", {
        hint: `the query has ${fields} fields; maxNumFields is ${maxNumFields}`,
      });
    }
  }
  const pairs: Array<[string, string]> = [];
  for (const field of qs ? qs.split(separator) : []) {
    if (!field && !strict) continue;
    const eq = field.indexOf("=");
    let name: string;
    let value: string;
    if (eq < 0) {
      if (strict) {
        throw new UrlError("BAD_QUERY_FIELD", `bad query field: ${pyRepr(field)}`, {
          hint: "every field must look like name=value",
        });
      }
      if (!keepBlank) continue;
      name = field;
      value = "";
    } else {
      name = field.slice(0, eq);
      value = field.slice(eq + 1);
    }
    if (value.length > 0 || keepBlank) {
      pairs.push([unquote(name.replaceAll("+", " ")), unquote(value.replaceAll("+", " "))]);
    }
  }
  return pairs;
}

/**
 * Parses a query string into a Map from each name to all of its values, as Python's `parse_qs`.
 * A Map, not an object: it keeps Python's order (an object would move `"1"` first) and takes any
 * name, `__proto__` included.
 * @example parseQs("a=1&b=2&a=3").get("a") // ["1", "3"]
 */
export function parseQs(qs: string, opts: ParseQsOptions = {}): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of parseQsl(qs, opts)) {
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/** How `urlencode` quotes each name and value: `quotePlus` (default) or `quote`. */
export type QuoteVia = (value: string | Uint8Array, opts: { safe?: string | Uint8Array }) => string;

/** Options for {@link urlencode}. */
export interface UrlencodeOptions {
  /** Expand a list value into one `name=value` per element. Default false (the list's Python `str()`). */
  doseq?: boolean;
  /** Characters `quoteVia` leaves as they are. Default "". */
  safe?: string;
  /** Default quotePlus (spaces as `+`); pass `quote` for `%20`. */
  quoteVia?: QuoteVia;
}

/** What `urlencode` accepts: pairs in order, a Map, or a plain object (its own keys in order). */
export type UrlencodeInput =
  | ReadonlyArray<readonly [PyValue, PyValue]>
  | ReadonlyMap<PyValue, PyValue>
  | Readonly<Record<string, PyValue>>;

/**
 * Encodes pairs as a query string, as Python's `urlencode`. Values that are not strings are turned
 * into text as Python's `str()` would (`true` → `True`, `null` → `None`); with `doseq`, a list
 * value gives one field per element.
 * @example urlencode({ q: "a b", n: 1 }) // "q=a+b&n=1"
 * @example urlencode([["k", ["x", "y"]]], { doseq: true }) // "k=x&k=y"
 */
export function urlencode(query: UrlencodeInput, opts: UrlencodeOptions = {}): string {
  const quoteVia = opts.quoteVia ?? quotePlus;
  const safe = opts.safe ?? "";
  const pairs: Iterable<readonly [PyValue, PyValue]> = Array.isArray(query)
    ? query
    : query instanceof Map
      ? query.entries()
      : Object.entries(query as Record<string, PyValue>);
  const q = (v: PyValue): string => quoteVia(v instanceof Uint8Array ? v : pyStr(v), { safe });
  const out: string[] = [];
  for (const [k, v] of pairs) {
    const key = q(k);
    if (opts.doseq && Array.isArray(v)) {
      for (const element of v as PyValue[]) out.push(`${key}=${q(element)}`);
    } else {
      out.push(`${key}=${q(v)}`);
    }
  }
  return out.join("&");
}
