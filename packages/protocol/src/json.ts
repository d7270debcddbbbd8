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
 * @example const codec = json(z.object({ type: z.literal("ping") }));
 */
export function json<T>(validate: Validator<T>, opts: JsonOptions = {}): Codec<T> {
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
