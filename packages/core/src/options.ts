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

/** A package's error class, to throw INVALID_OPTION as (`UdpError`, `NetworkError`…). */
export type OptionErrorClass = new (code: "INVALID_OPTION", message: string) => Error;

/** The option validators; each throws INVALID_OPTION, naming the option and the value it got. */
export interface OptionChecks {
  /**
   * Throws unless `value` is an integer in [min, max] (or Infinity when allowed).
   * @example requireInt("port", port, { min: 1, max: 65_535 })
   */
  requireInt(name: string, value: number, bounds?: IntBounds): void;
  /** Throws unless `value` is a positive integer (or Infinity where allowed). */
  requirePositiveInt(name: string, value: number, options?: { allowInfinity?: boolean }): void;
  /** Throws unless `value` is a number (not NaN) in [min, max]; Infinity passes when max is. */
  requireRange(name: string, value: number, min: number, max: number): void;
  /** Throws unless `value` is a number of ms ≥ 0 (Infinity, meaning no limit, allowed). */
  requireMs(name: string, value: number): void;
}

/**
 * The one set of option validators, throwing INVALID_OPTION as `ErrorClass` so that a package's
 * callers catch its own error type. Without a class they throw {@link OptionError}.
 * @example export const { requireInt, requireRange } = optionChecks(UdpError);
 */
export function optionChecks(ErrorClass: OptionErrorClass = OptionError): OptionChecks {
  const fail = (message: string): never => {
    throw new ErrorClass("INVALID_OPTION", message);
  };
  return {
    requireInt(name, value, { min = 0, max = Number.MAX_SAFE_INTEGER, allowInfinity = false } = {}) {
      if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
      if (Number.isSafeInteger(value) && value >= min && value <= max) return;
      const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
      fail(`${name} must be an integer ${range}${allowInfinity ? " or Infinity" : ""}, got ${String(value)}`);
    },
    requirePositiveInt(name, value, { allowInfinity = false } = {}) {
      if (allowInfinity && value === Number.POSITIVE_INFINITY) return;
      if (!Number.isSafeInteger(value) || value <= 0) {
        fail(`${name} must be a positive integer, got ${String(value)}`);
      }
    },
    requireRange(name, value, min, max) {
      if (typeof value !== "number" || Number.isNaN(value) || value < min || value > max) {
        fail(`${name} must be between ${min} and ${max}, got ${String(value)}`);
      }
    },
    requireMs(name, value) {
      if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
        fail(`${name} must be a number of ms ≥ 0, got ${String(value)}`);
      }
    },
  };
}

/** The validators throwing {@link OptionError}, for code without an error class of its own. */
export const { requireInt, requirePositiveInt, requireRange, requireMs } = optionChecks();
