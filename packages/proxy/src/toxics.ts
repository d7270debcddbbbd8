import { ProxyError } from "./errors.js";

/**
 * The toxic types. The first seven are toxiproxy's, with its names, fields and units, so its docs
 * and clients carry over; the rest are what its users asked for.
 */
export type ToxicType =
  | "latency"
  | "bandwidth"
  | "slow_close"
  | "timeout"
  | "reset_peer"
  | "slicer"
  | "limit_data"
  | "limit_time"
  | "corrupt"
  | "blackhole"
  | "line_latency"
  | "line_split";

/** Which way a toxic acts: `upstream` is client → server, `downstream` server → client (toxiproxy's words). */
export type Stream = "upstream" | "downstream";

/** A toxic's attributes: numbers in the units of {@link TOXIC_KINDS}, plus `shared` on bandwidth. */
export type ToxicAttributes = Record<string, number | boolean>;

/**
 * A toxic as toxiproxy's API shows it, plus two optional targets (toxiproxy #244): `client`, a
 * host or host:port that a connection's client must match, and `connection`, one connection id.
 */
export interface Toxic {
  name: string;
  type: ToxicType;
  stream: Stream;
  /** Chance, 0–1, that a given connection is affected; decided once per connection from the seed. */
  toxicity: number;
  attributes: ToxicAttributes;
  /** Only connections from this client (`127.0.0.1` or `127.0.0.1:50412`). */
  client?: string;
  /** Only the connection with this id (ids count from 1 in accept order). */
  connection?: number;
}

/** A toxic as written by a caller: everything but `type` may be left out. */
export interface ToxicSpec {
  name?: string;
  type: string;
  stream?: string;
  toxicity?: number;
  attributes?: Record<string, unknown>;
  client?: string;
  connection?: number;
}

/** One attribute of a toxic type: its unit, default and bounds. */
export interface AttributeKind {
  unit: "ms" | "µs" | "bytes" | "KB/s" | "probability" | "boolean";
  default: number | boolean;
  /** Smallest allowed value; `minExclusive` makes it strictly greater. */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  integer?: boolean;
  /** Extra words for the error when the value is out of range. */
  hint?: string;
  description: string;
}

/** What every toxic type takes. `primary` is the attribute `--toxic TYPE=VALUE` sets. */
export interface ToxicKind {
  description: string;
  primary: string;
  attributes: Record<string, AttributeKind>;
}

/** Longest time attribute accepted, ms (one hour: a lab, not a tarpit). */
export const MAX_TOXIC_MS = 3_600_000;

const ms = (description: string, extra: Partial<AttributeKind> = {}): AttributeKind => ({
  unit: "ms",
  default: 0,
  min: 0,
  max: MAX_TOXIC_MS,
  description,
  ...extra,
});
const bytes = (description: string, extra: Partial<AttributeKind> = {}): AttributeKind => ({
  unit: "bytes",
  default: 0,
  min: 0,
  max: Number.MAX_SAFE_INTEGER,
  integer: true,
  description,
  ...extra,
});
const micros = (description: string): AttributeKind => ({
  unit: "µs",
  default: 0,
  min: 0,
  max: MAX_TOXIC_MS * 1000,
  description,
});

/**
 * Every toxic type, its attributes, units and defaults: the one table the parser, the validator,
 * the HTTP API and `lab proxy --help` read.
 */
export const TOXIC_KINDS: Readonly<Record<ToxicType, ToxicKind>> = {
  latency: {
    description: "delay each chunk by latency ± jitter ms (measured from when it arrived)",
    primary: "latency",
    attributes: { latency: ms("added delay, ms"), jitter: ms("uniform variation ±, ms") },
  },
  bandwidth: {
    description:
      "limit the rate to `rate` KB/s (1 KB = 1000 bytes, as toxiproxy); `shared` pools it across connections",
    primary: "rate",
    attributes: {
      rate: {
        unit: "KB/s",
        default: 1,
        min: 0,
        minExclusive: true,
        max: 10_000_000,
        hint: "to stop data altogether, use the timeout toxic",
        description: "rate in KB/s",
      },
      shared: { unit: "boolean", default: false, description: "one rate for all connections together" },
    },
  },
  slow_close: {
    description: "delay the FIN by `delay` ms",
    primary: "delay",
    attributes: { delay: ms("delay before the FIN passes, ms") },
  },
  timeout: {
    description:
      "hold all data; close the connection after `timeout` ms (0: hold until the toxic is removed)",
    primary: "timeout",
    attributes: { timeout: ms("close after this long, ms; 0 never") },
  },
  reset_peer: {
    description: "reset the connection (RST) after `timeout` ms",
    primary: "timeout",
    attributes: { timeout: ms("reset after this long, ms") },
  },
  slicer: {
    description: "slice data into pieces of average_size ± size_variation bytes, `delay` µs apart",
    primary: "average_size",
    attributes: {
      average_size: bytes("average slice, bytes", { default: 1, min: 1 }),
      size_variation: bytes("variation ±, bytes (less than average_size)"),
      delay: micros("pause between slices, µs"),
    },
  },
  limit_data: {
    description: "pass `bytes` bytes, then close the connection",
    primary: "bytes",
    attributes: { bytes: bytes("bytes to pass before closing") },
  },
  limit_time: {
    description: "close the connection `time` ms after it opened (or the toxic was added)",
    primary: "time",
    attributes: { time: ms("lifetime, ms") },
  },
  corrupt: {
    description: "flip one random bit in each byte with chance `probability`",
    primary: "probability",
    attributes: {
      probability: { unit: "probability", default: 0, min: 0, max: 1, description: "chance per byte, 0–1" },
    },
  },
  blackhole: {
    description: "once `bytes` bytes have passed and `time` ms have gone by, silently drop everything",
    primary: "bytes",
    attributes: { bytes: bytes("bytes passed before the hole opens"), time: ms("ms before the hole opens") },
  },
  line_latency: {
    description: "delay each whole line by latency ± jitter ms from when its newline arrived",
    primary: "latency",
    attributes: { latency: ms("added delay per line, ms"), jitter: ms("uniform variation ±, ms") },
  },
  line_split: {
    description:
      "write each line on its own, `delay` µs apart (undoes coalescing; a partial line waits for its newline)",
    primary: "delay",
    attributes: { delay: micros("pause between lines, µs") },
  },
};

/** The stream a toxic acts on when none is given: toxiproxy's default. */
export const DEFAULT_STREAM: Stream = "downstream";

const STREAMS: readonly Stream[] = ["upstream", "downstream"];

/** Whether `type` is a toxic type this proxy knows. */
export function isToxicType(type: string): type is ToxicType {
  return Object.hasOwn(TOXIC_KINDS, type);
}

/**
 * Checks a toxic spec and fills in the defaults: name `TYPE_STREAM`, stream downstream, toxicity 1,
 * every attribute's default. Throws INVALID_TOXIC (unknown type, stream or attribute) or
 * INVALID_OPTION (a value out of range), naming what was wrong.
 * @example normalizeToxic({ type: "latency", attributes: { latency: 100 } })
 *   // { name: "latency_downstream", type: "latency", stream: "downstream", toxicity: 1, attributes: { latency: 100, jitter: 0 } }
 */
export function normalizeToxic(spec: ToxicSpec): Toxic {
  const type = spec.type;
  if (typeof type !== "string" || !isToxicType(type)) {
    throw new ProxyError("INVALID_TOXIC", `unknown toxic type '${String(type)}'`, {
      hint: `known types: ${Object.keys(TOXIC_KINDS).join(", ")}`,
    });
  }
  const stream = spec.stream ?? DEFAULT_STREAM;
  if (!STREAMS.includes(stream as Stream)) {
    throw new ProxyError("INVALID_TOXIC", `unknown stream '${String(stream)}' for toxic ${type}`, {
      hint: "stream is upstream (client → server) or downstream (server → client)",
    });
  }
  const name = spec.name ?? `${type}_${stream}`;
  if (typeof name !== "string" || !/^[\w.-]{1,64}$/.test(name)) {
    throw new ProxyError(
      "INVALID_TOXIC",
      `toxic name '${String(name)}' is not 1–64 letters, digits, _ . or -`,
    );
  }
  const toxicity = spec.toxicity ?? 1;
  if (typeof toxicity !== "number" || Number.isNaN(toxicity) || toxicity < 0 || toxicity > 1) {
    throw new ProxyError(
      "INVALID_OPTION",
      `toxicity of ${name} must be between 0 and 1, got ${JSON.stringify(toxicity) ?? String(toxicity)}`,
      {
        hint: "toxicity is the chance a connection is affected: 0 none, 1 all",
      },
    );
  }
  const kind = TOXIC_KINDS[type];
  const given = spec.attributes ?? {};
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(kind.attributes, key)) {
      throw new ProxyError("INVALID_TOXIC", `toxic ${type} has no attribute '${key}'`, {
        hint: `its attributes: ${Object.keys(kind.attributes).join(", ")}`,
      });
    }
  }
  const attributes: ToxicAttributes = {};
  for (const [key, a] of Object.entries(kind.attributes)) {
    attributes[key] = checkAttribute(name, key, a, given[key] ?? a.default);
  }
  if (type === "slicer" && (attributes.size_variation as number) >= (attributes.average_size as number)) {
    throw new ProxyError(
      "INVALID_OPTION",
      `size_variation of ${name} must be less than average_size (${String(attributes.average_size)}), got ${String(attributes.size_variation)}`,
    );
  }
  const toxic: Toxic = { name, type, stream: stream as Stream, toxicity, attributes };
  if (spec.client !== undefined) {
    if (typeof spec.client !== "string" || spec.client === "") {
      throw new ProxyError("INVALID_TOXIC", `client of ${name} must be a host or host:port`);
    }
    toxic.client = spec.client;
  }
  if (spec.connection !== undefined) {
    if (!Number.isSafeInteger(spec.connection) || spec.connection < 1) {
      throw new ProxyError(
        "INVALID_OPTION",
        `connection of ${name} must be a connection id ≥ 1, got ${JSON.stringify(spec.connection) ?? String(spec.connection)}`,
      );
    }
    toxic.connection = spec.connection;
  }
  return toxic;
}

function checkAttribute(name: string, key: string, a: AttributeKind, value: unknown): number | boolean {
  if (a.unit === "boolean") {
    if (typeof value !== "boolean") {
      throw new ProxyError("INVALID_OPTION", `${key} of ${name} must be true or false, got ${String(value)}`);
    }
    return value;
  }
  const min = a.min ?? 0;
  const max = a.max ?? Number.MAX_SAFE_INTEGER;
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (a.minExclusive ? value > min : value >= min) &&
    value <= max &&
    (!a.integer || Number.isInteger(value));
  if (!ok) {
    const kind = a.integer ? "a whole number" : "a number";
    const range = a.minExclusive ? `above ${min}` : `from ${min}`;
    const upto = max >= Number.MAX_SAFE_INTEGER ? "" : ` to ${max}`;
    throw new ProxyError(
      "INVALID_OPTION",
      `${key} of ${name} must be ${kind} ${range}${upto} (${a.unit}), got ${JSON.stringify(value) ?? String(value)}`,
      a.hint === undefined ? {} : { hint: a.hint },
    );
  }
  return value as number;
}

/**
 * Reads a toxic from the command line: `TYPE[=VALUE][,KEY=VALUE]...`, where VALUE sets the type's
 * primary attribute and KEY is an attribute or one of name, stream, toxicity, client, connection.
 * Returns a spec; pass it to {@link normalizeToxic}.
 * @example parseToxicSpec("latency=100,jitter=10,stream=upstream")
 *   // { type: "latency", stream: "upstream", attributes: { latency: 100, jitter: 10 } }
 */
export function parseToxicSpec(text: string): ToxicSpec {
  const [head = "", ...rest] = text.split(",");
  const eq = head.indexOf("=");
  const type = (eq < 0 ? head : head.slice(0, eq)).trim();
  if (!isToxicType(type)) {
    throw new ProxyError("INVALID_TOXIC", `unknown toxic type '${type}' in '${text}'`, {
      hint: `known types: ${Object.keys(TOXIC_KINDS).join(", ")}`,
    });
  }
  const kind = TOXIC_KINDS[type];
  const spec: ToxicSpec = { type, attributes: {} };
  const attributes = spec.attributes as Record<string, unknown>;
  const pairs: Array<[string, string]> = [];
  if (eq >= 0) pairs.push([kind.primary, head.slice(eq + 1)]);
  for (const part of rest) {
    const i = part.indexOf("=");
    if (i < 0) throw new ProxyError("INVALID_TOXIC", `'${part}' in '${text}' is not KEY=VALUE`);
    pairs.push([part.slice(0, i).trim(), part.slice(i + 1).trim()]);
  }
  for (const [key, value] of pairs) {
    switch (key) {
      case "name":
      case "stream":
      case "client":
        spec[key] = value;
        break;
      case "toxicity":
      case "connection":
        // Not a number stays the text typed: normalizeToxic refuses it and quotes it.
        spec[key] = toNumber(value) as number;
        break;
      default:
        attributes[key] = kind.attributes[key]?.unit === "boolean" ? toBoolean(value) : toNumber(value);
    }
  }
  return spec;
}

/** `text` as a number, or `text` itself when it is not one (so an error can quote it, not NaN). */
function toNumber(text: string): number | string {
  const n = text.trim() === "" ? Number.NaN : Number(text);
  return Number.isNaN(n) ? text : n;
}

function toBoolean(text: string): boolean | string {
  return text === "true" || text === "1" || text === ""
    ? true
    : text === "false" || text === "0"
      ? false
      : text;
}
