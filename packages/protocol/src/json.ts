import type { Codec } from "./codec.js";
import { ProtocolError } from "./errors.js";
import { LINE_DEFAULTS, type LineOptions, lines } from "./lines.js";
import { mapDecoder } from "./map-decoder.js";

/** An issue a schema reports: where in the message, and what is wrong. */
export interface SchemaIssue {
  path?: ReadonlyArray<PropertyKey | { key: PropertyKey }>;
  message: string;
}

/**
 * Anything with zod's `safeParse` shape (zod 4 schemas fit as they are).
 * @example json(z.object({ type: z.literal("hello") }))
 */
export interface Schema<T> {
  safeParse(
    value: unknown,
  ): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<SchemaIssue> } };
}

/** A schema, or a function that returns the typed value or throws with the reason. */
export type Validator<T> = Schema<T> | ((value: unknown) => T);

/** Options for {@link json}: those of the underlying {@link lines}. */
export type JsonOptions = Partial<LineOptions>;

/**
 * NDJSON: one JSON value per line, each incoming one checked by `validate`. A line that is not JSON
 * or fails validation is a recoverable BAD_MESSAGE with the reason; the next line decodes.
 * `validate` that is neither a schema nor a synchronous function throws INVALID_OPTION here.
 * @example const codec = json(z.object({ type: z.literal("ping") }));
 */
export function json<T>(validate: Validator<T>, opts: JsonOptions = {}): Codec<T> {
  requireValidator(validate);
  const framing = lines({ ...LINE_DEFAULTS, ...opts });
  const check = toCheck(validate);
  const decoder = mapDecoder(framing, (line: string): T => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (cause) {
      throw badMessage(`not JSON: ${(cause as Error).message}`, cause);
    }
    return check(value);
  });
  return {
    decode: (buf) => decoder.decode(buf),
    decodeEof: (buf) => decoder.decodeEof(buf),
    encode: (value: T) => framing.encode(JSON.stringify(value)),
  };
}

/**
 * Checked when the codec is made: `json(42)` would otherwise fail only when the first message
 * arrives, as a BAD_MESSAGE blamed on the peer, and an async function would pass every message on
 * as a Promise.
 */
function requireValidator(validate: unknown): void {
  const isFunction = typeof validate === "function";
  if (isFunction && validate.constructor.name !== "AsyncFunction") return;
  if (!isFunction && isSchema(validate)) return;
  throw new ProtocolError(
    "INVALID_OPTION",
    `json() takes a schema (an object with safeParse, such as a zod schema) or a validating function, got ${describeValue(validate)}`,
    {
      hint: isFunction
        ? "validation is synchronous: return the value or throw"
        : "pass a zod schema, or (value) => value after checking it",
    },
  );
}

function isSchema(value: unknown): boolean {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as { safeParse?: unknown }).safeParse === "function"
  );
}

function describeValue(value: unknown): string {
  if (typeof value === "function") return "an async function";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object without safeParse";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

function toCheck<T>(validate: Validator<T>): (value: unknown) => T {
  if (typeof validate === "function") {
    return (value) => {
      try {
        return validate(value);
      } catch (cause) {
        if (cause instanceof ProtocolError) throw cause;
        throw badMessage(cause instanceof Error ? cause.message : String(cause), cause);
      }
    };
  }
  return (value) => {
    const result = validate.safeParse(value);
    if (result.success) return result.data;
    throw badMessage(formatIssues(result.error.issues));
  };
}

/** One line naming each issue and where it is, e.g. `nick: Too small; type: Invalid input`. */
export function formatIssues(issues: ReadonlyArray<SchemaIssue>): string {
  if (issues.length === 0) return "invalid message";
  return issues
    .map((issue) => {
      const path = (issue.path ?? [])
        .map((p) => (typeof p === "object" && p !== null ? String(p.key) : String(p)))
        .join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

function badMessage(reason: string, cause?: unknown): ProtocolError {
  return new ProtocolError("BAD_MESSAGE", `bad message: ${reason}`, { recoverable: true, cause });
}
