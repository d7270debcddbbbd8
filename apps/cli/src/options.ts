import { UsageError } from "./run.js";

/** Bounds for {@link parseNumber}. `max` defaults to no upper bound. */
export interface NumberBounds {
  min: number;
  max?: number;
  integer?: boolean;
  hint?: string;
}

/**
 * Reads a numeric option, or throws a usage error (exit 2) that names the flag, the accepted
 * range and what was given: `--port must be a whole number from 1 to 65535, got "70000"`.
 */
export function parseNumber(
  flag: string,
  text: string,
  { min, max, integer = false, hint }: NumberBounds,
): number {
  const value = Number(text);
  const upper = max ?? Number.POSITIVE_INFINITY;
  const ok = text.trim() !== "" && Number.isFinite(value) && (!integer || Number.isInteger(value));
  if (!ok || value < min || value > upper) {
    const kind = integer ? "a whole number" : "a number";
    const range = upper >= Number.MAX_SAFE_INTEGER ? `${min} or more` : `from ${min} to ${upper}`;
    throw new UsageError(`${flag} must be ${kind} ${range}, got ${JSON.stringify(text)}`, hint);
  }
  return value;
}

/** A TCP/UDP port; servers may ask for 0 (any free port), clients may not. */
export function parsePort(text: string, { flag = "--port", allowZero = false } = {}): number {
  return parseNumber(flag, text, { min: allowZero ? 0 : 1, max: 65_535, integer: true });
}
