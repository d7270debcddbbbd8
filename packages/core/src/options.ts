import { OptionError } from "./errors.js";

/**
 * The options in force: `options` over `defaults`, where an `undefined` value keeps the default
 * (so `{ timeoutMs: flags.timeout }` with the flag absent means "the default", not "none").
 * @example const o = withDefaults(LINE_DEFAULTS, opts); requirePositiveInt("maxLineBytes", o.maxLineBytes);
 */
export function withDefaults<D extends object, O extends object = Partial<D>>(
  defaults: D,
  options: O | undefined = undefined,
): D & O {
  const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  if (options) {
    for (const [key, value] of Object.entries(options)) if (value !== undefined) merged[key] = value;
  }
  return merged as D & O;
}

/** Bounds for {@link requireInt}. */
export interface IntBounds {
  /** Smallest value allowed; default 0. */
  min?: number;
  /** Largest value allowed; default Number.MAX_SAFE_INTEGER. */
  max?: number;
  /** Whether `Infinity` (spelled out, meaning "no limit") is allowed; default false. */
  allowInfinity?: boolean;
}

/**
 * Throws INVALID_OPTION unless `value` is an integer in [min, max] (or Infinity when allowed).
 * @example requireInt("port", port, { min: 1, max: 65_535 })
 */
export function requireInt(name: string, value: number, bounds: IntBounds = {}): void {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, allowInfinity = false } = bounds;
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
  if (Number.isSafeInteger(value) && value >= min && value <= max) return;
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  throw new OptionError(
    `${name} must be an integer ${range}${allowInfinity ? " or Infinity" : ""}, got ${String(value)}`,
  );
}

/** Throws INVALID_OPTION unless `value` is a positive integer (or Infinity where allowed). */
export function requirePositiveInt(name: string, value: number, { allowInfinity = false } = {}): void {
  if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new OptionError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

/** Throws INVALID_OPTION unless `value` is a number (not NaN) in [min, max]; Infinity passes when max is. */
export function requireRange(name: string, value: number, min: number, max: number): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
    throw new OptionError(`${name} must be between ${min} and ${max}, got ${String(value)}`);
  }
}

/** Throws INVALID_OPTION unless `value` is a number of ms ≥ 0 (Infinity, meaning no limit, allowed). */
export function requireMs(name: string, value: number): void {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new OptionError(`${name} must be a number of ms ≥ 0, got ${String(value)}`);
  }
}
