/**
 * Runs one case of the Python differential corpus (packages/url/scripts/snapshot.py) through
 * @netlab/url and returns it in the shape Python produced, so a test can compare the two with
 * `toEqual`. Shared by the snapshot test and the live interop test.
 */
import {
  type ParseParts,
  type PyValue,
  parseQs,
  parseQsl,
  quote,
  quotePlus,
  UrlError,
  unquote,
  unquotePlus,
  urldefrag,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunparse,
  urlunsplit,
} from "@netlab/url";

/** One corpus case: the call, and Python's result or error. */
export interface PythonCase {
  fn: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  result?: unknown;
  error?: { type: string; message: string };
}

/** The snapshot file: which Python produced it, and every case. */
export interface PythonSnapshot {
  python: string;
  urls: number;
  cases: PythonCase[];
}

type Outcome = { result: unknown } | { error: { type: string; message: string } };

function fromJson(v: unknown): PyValue {
  if (v && typeof v === "object" && !Array.isArray(v) && "$bytes" in v) {
    return Uint8Array.from(Buffer.from(String((v as { $bytes: string }).$bytes), "hex"));
  }
  if (Array.isArray(v)) return v.map(fromJson);
  return v as PyValue;
}

// Python's exception class for each of our codes.
function pythonType(err: UrlError): string {
  return err.code === "ENCODE_ERROR" ? "UnicodeEncodeError" : "ValueError";
}

function attempt(fn: () => unknown): Outcome {
  try {
    return { result: fn() };
  } catch (err) {
    if (err instanceof UrlError) return { error: { type: pythonType(err), message: err.message } };
    throw err;
  }
}

function netlocAttrs(r: {
  username: string | null;
  password: string | null;
  hostname: string | null;
  port: number | null;
}) {
  const port = attempt(() => r.port);
  return {
    username: r.username,
    password: r.password,
    hostname: r.hostname,
    port: "error" in port ? { error: port.error } : port.result,
  };
}

function splitOpts(kw: Record<string, unknown>) {
  return {
    ...(kw.scheme !== undefined ? { scheme: String(kw.scheme) } : {}),
    ...(kw.allow_fragments !== undefined ? { allowFragments: Boolean(kw.allow_fragments) } : {}),
  };
}

function qsOpts(kw: Record<string, unknown>) {
  return {
    ...(kw.keep_blank_values !== undefined ? { keepBlankValues: Boolean(kw.keep_blank_values) } : {}),
    ...(kw.strict_parsing !== undefined ? { strictParsing: Boolean(kw.strict_parsing) } : {}),
    ...(kw.max_num_fields !== undefined ? { maxNumFields: Number(kw.max_num_fields) } : {}),
    ...(kw.separator !== undefined ? { separator: String(kw.separator) } : {}),
  };
}

/** Our answer to `c`, shaped like Python's (`result` or `error`). */
export function runCase(c: PythonCase): Outcome {
  const args = c.args.map(fromJson);
  const kw = c.kwargs;
  const safe = kw.safe === undefined ? {} : { safe: fromJson(kw.safe) as string | Uint8Array };
  switch (c.fn) {
    case "urlsplit":
      return attempt(() => {
        const r = urlsplit(args[0] as string, splitOpts(kw));
        return { parts: r.toArray(), ...netlocAttrs(r), unsplit: urlunsplit(r) };
      });
    case "urlparse":
      return attempt(() => {
        const r = urlparse(args[0] as string, splitOpts(kw));
        return { parts: r.toArray(), ...netlocAttrs(r), unparse: urlunparse(r as ParseParts) };
      });
    case "urldefrag":
      return attempt(() => {
        const r = urldefrag(args[0] as string);
        return [r.url, r.fragment];
      });
    case "urljoin":
      return attempt(() =>
        urljoin(args[0] as string, args[1] as string, {
          ...(kw.allow_fragments !== undefined ? { allowFragments: Boolean(kw.allow_fragments) } : {}),
        }),
      );
    case "quote":
      return attempt(() => quote(args[0] as string | Uint8Array, safe));
    case "quote_plus":
      return attempt(() => quotePlus(args[0] as string | Uint8Array, safe));
    case "unquote":
      return attempt(() => unquote(args[0] as string));
    case "unquote_plus":
      return attempt(() => unquotePlus(args[0] as string));
    case "parse_qsl":
      return attempt(() => parseQsl(args[0] as string, qsOpts(kw)));
    case "parse_qs":
      return attempt(() => [...parseQs(args[0] as string, qsOpts(kw)).entries()]);
    case "urlencode":
      return attempt(() =>
        urlencode(args[0] as Array<[PyValue, PyValue]>, {
          ...(kw.doseq !== undefined ? { doseq: Boolean(kw.doseq) } : {}),
          ...(kw.safe !== undefined ? { safe: String(kw.safe) } : {}),
          ...(kw.quote_via === "quote" ? { quoteVia: quote } : {}),
        }),
      );
    default:
      throw new Error(`the corpus names an unknown function ${c.fn}`);
  }
}

/** Python's answer to `c`, in the same shape as {@link runCase}. */
export function expected(c: PythonCase): Outcome {
  return c.error ? { error: c.error } : { result: c.result };
}

/** A short label for a case in test output. */
export function label(c: PythonCase): string {
  const text = JSON.stringify([...c.args, ...(Object.keys(c.kwargs).length ? [c.kwargs] : [])]);
  return `${c.fn}(${text.length > 90 ? `${text.slice(1, 87)}...` : text.slice(1, -1)})`;
}
