import { formatBytes, formatRate, parseRate, parseSize } from "@netlab/core/units";
import { type Command, Option } from "commander";
import { UsageError } from "./run.js";

/** Bounds for {@link parseNumber}. `max` defaults to no upper bound. */
export interface NumberBounds {
  min: number;
  max?: number;
  integer?: boolean;
  hint?: string;
}

const WHOLE_NUMBER = /^\s*[+-]?\d+(\.0*)?\s*$/;
const DECIMAL_NUMBER = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

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
  // Decimal only: Number() also reads 0x1389 (so --port 0x1389 was 5001), 0b11 and 1e2.
  const notation = integer ? WHOLE_NUMBER : DECIMAL_NUMBER;
  const ok = notation.test(text) && Number.isFinite(value) && (!integer || Number.isInteger(value));
  if (!ok || value < min || value > upper) {
    const kind = integer ? "a whole number" : "a number";
    // "N or more" for an unbounded option, unless the value is over the bound all the same.
    const isOver = ok && value > upper;
    const range = upper >= Number.MAX_SAFE_INTEGER && !isOver ? `${min} or more` : `from ${min} to ${upper}`;
    throw new UsageError(`${flag} must be ${kind} ${range}, got ${JSON.stringify(text)}`, hint);
  }
  return value;
}

/**
 * Reads a size option (`64KiB`, `1M`, `2GB`, or a bare number of bytes, as {@link parseSize} reads
 * them) and returns bytes, or throws a usage error that names the flag, the range and what was given:
 * `--read-buffer-bytes must be a size from 1.0 KiB to 64.0 MiB (64KiB, 1MiB; bare numbers are bytes), got "10"`.
 * @example parseByteSize("--max-buffer-bytes", "1MiB", { min: 1024 }) // 1048576
 */
export function parseByteSize(
  flag: string,
  text: string,
  { min, max, hint }: Omit<NumberBounds, "integer">,
): number {
  const value = parseSize(text);
  const upper = max ?? Number.MAX_SAFE_INTEGER;
  if (value === undefined || value < min || value > upper) {
    const range =
      upper >= Number.MAX_SAFE_INTEGER
        ? `of ${formatBytes(min)} or more`
        : `from ${formatBytes(min)} to ${formatBytes(upper)}`;
    throw new UsageError(
      `${flag} must be a size ${range} (64KiB, 1MiB; bare numbers are bytes), got ${JSON.stringify(text)}`,
      hint,
    );
  }
  return value;
}

/**
 * curl's `--speed-limit RATE` and `--speed-time TIME`: give up when the peer moves less than RATE
 * on average over TIME. RATE as {@link parseRate} reads it (`1KiB/s`, `10K`, a bare number is bytes
 * per second), 0 for no limit; TIME as {@link parseDuration}. Usage errors name the flag.
 * @example speedLimits("1KiB/s", "60s") // { minBytesPerSecond: 1024, lowSpeedTimeMs: 60000 }
 */
export function speedLimits(
  rate: string,
  time: string,
): { minBytesPerSecond: number; lowSpeedTimeMs: number } {
  const minBytesPerSecond = /^\s*0+\s*$/.test(rate) ? 0 : parseRate(rate);
  if (minBytesPerSecond === undefined) {
    throw new UsageError(
      `--speed-limit must be a rate such as 1KiB/s or 10K (a bare number is bytes per second; 0 = no limit), got ${JSON.stringify(rate)}`,
    );
  }
  const lowSpeedTimeMs = parseDuration("--speed-time", time, { minMs: 1, maxMs: 2_000_000_000 });
  return { minBytesPerSecond, lowSpeedTimeMs };
}

/**
 * Reads a rate option (`1MiB/s`, `500K`, `2MB/s`; a bare number is bytes per second) as every rate
 * of lab's does, through @netlab/core's one parser, or throws a usage error naming the flag.
 * @example parseRateOption("--limit-rate", "1MiB/s") // 1048576
 */
export function parseRateOption(flag: string, text: string): number {
  const rate = parseRate(text);
  if (rate === undefined) {
    throw new UsageError(
      `${flag} must be a rate such as 1MiB/s or 500K (a bare number is bytes per second), got ${JSON.stringify(text)}`,
    );
  }
  return rate;
}

/** A TCP/UDP port; servers may ask for 0 (any free port), clients may not. */
export function parsePort(text: string, { flag = "--port", allowZero = false } = {}): number {
  return parseNumber(flag, text, { min: allowZero ? 0 : 1, max: 65_535, integer: true });
}

/** Milliseconds per unit a time option accepts; a bare number is seconds, as in ping, nc and timeout. */
const TIME_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Bounds for {@link parseDuration}, in milliseconds. `maxMs` defaults to no upper bound. */
export interface DurationBounds {
  minMs: number;
  maxMs?: number;
  hint?: string;
}

/**
 * Reads a time option (`500ms`, `2s`, `1.5m`, `1h`, or a bare number of seconds) and returns it
 * in milliseconds, or throws a usage error that names the flag, the range and what was given:
 * `--wait must be a time from 0s to 1h (500ms, 2s, 1m; bare numbers are seconds), got "soon"`.
 * @example parseDuration("--wait", "500ms", { minMs: 0 }) // 500
 */
export function parseDuration(flag: string, text: string, { minMs, maxMs, hint }: DurationBounds): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)?\s*$/i.exec(text);
  const ms = m ? Number(m[1]) * (TIME_UNITS[(m[2] ?? "s").toLowerCase()] ?? 1000) : Number.NaN;
  checkTime(flag, text, ms, { minMs, maxMs, hint }, "500ms, 2s, 1m");
  return Math.round(ms);
}

/**
 * Reads a time option that may be shorter than a millisecond (`50us`, `50µs`, `0.2ms`, `0`) and
 * returns it in whole microseconds, or throws a usage error as {@link parseDuration} does.
 * @example parseMicroseconds("--busy-poll", "50us", { minMs: 0, maxMs: 1 }) // 50
 */
export function parseMicroseconds(flag: string, text: string, bounds: DurationBounds): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(us|µs|ms|s)?\s*$/i.exec(text);
  const unit = (m?.[2] ?? "s").toLowerCase();
  const ms = m
    ? Number(m[1]) * (unit === "us" || unit === "µs" ? 0.001 : (TIME_UNITS[unit] ?? 1000))
    : Number.NaN;
  checkTime(flag, text, ms, bounds, "50us, 0.2ms");
  return Math.round(ms * 1000);
}

function checkTime(
  flag: string,
  text: string,
  ms: number,
  { minMs, maxMs, hint }: DurationBounds,
  examples: string,
): void {
  const upper = maxMs ?? Number.POSITIVE_INFINITY;
  if (Number.isFinite(ms) && ms >= minMs && ms <= upper) return;
  const range = Number.isFinite(upper)
    ? `from ${formatDuration(minMs)} to ${formatDuration(upper)}`
    : `of ${formatDuration(minMs)} or more`;
  throw new UsageError(
    `${flag} must be a time ${range} (${examples}; bare numbers are seconds), got ${JSON.stringify(text)}`,
    hint,
  );
}

/**
 * A duration as people write one, in the largest unit that divides it: `500ms`, `10s`, `10m`, `1h`;
 * what --help shows as a time option's default and what range errors quote.
 */
export function formatDuration(ms: number): string {
  for (const unit of ["h", "m", "s"] as const) {
    const per = TIME_UNITS[unit]!;
    if (ms >= per && ms % per === 0) return `${ms / per}${unit}`;
  }
  return ms === 0 ? "0s" : `${ms}ms`;
}

/**
 * What a short flag means in every lab command that has it (curl's meanings, from lab get; -v and
 * -q also on every server). A command whose own long option would want one of them spells that
 * option long only, and takes the short flag hidden, to answer it with {@link refuseShortFlags}.
 */
export const SHORT_FLAG_MEANINGS = {
  "-f": "--fail",
  "-i": "--include",
  "-q": "--quiet",
  "-s": "--silent",
  "-v": "--verbose",
} as const;

/** `short → the long option this command uses instead`, e.g. `{ "-i": "--interval" }` for lab udp ping. */
export type ShortFlagSpellings = Partial<Record<keyof typeof SHORT_FLAG_MEANINGS, string>>;

/** Takes each short flag hidden (with a value), so {@link refuseShortFlags} can say what to write. */
export function addRefusedShortFlags(cmd: Command, spellings: ShortFlagSpellings): Command {
  for (const flag of Object.keys(spellings)) cmd.addOption(new Option(`${flag} <value>`).hideHelp());
  return cmd;
}

/**
 * A usage error for a short flag this command does not use (another habit's: ping's -i, a
 * form's -f), naming what it means in lab and the spelling to use here.
 * @example refuseShortFlags("lab udp ping", opts, { "-i": "--interval" })
 */
export function refuseShortFlags(
  command: string,
  opts: Record<string, unknown>,
  spellings: ShortFlagSpellings,
): void {
  for (const [flag, long] of Object.entries(spellings) as [keyof typeof SHORT_FLAG_MEANINGS, string][]) {
    const value = opts[flag.slice(1)];
    if (value === undefined) continue;
    throw new UsageError(
      `${flag} is not an option of ${command} (in lab, ${flag} is ${SHORT_FLAG_MEANINGS[flag]}, as in curl)`,
      `write ${flag} ${String(value)} as ${long} ${String(value)}`,
    );
  }
}

/**
 * Refuses an empty file name (`--pcap ''`, `--record=`), which would otherwise fail later as a
 * file error about a file with no name ("cannot write : …").
 * @example requireFileName("--pcap", opts.pcap, "give a file, such as --pcap session.pcap")
 */
export function requireFileName(flag: string, text: string | undefined, hint: string): void {
  if (text === "") throw new UsageError(`${flag} needs a file name, got ""`, hint);
}

/** Commander's accumulator for a repeatable option (`--node A --node B` → ["A", "B"]). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--reply-rate` (lab udp echo, lab proxy --udp): bytes per second as {@link parseRate} reads them
 * (`256KiB/s`, `1M`, a bare number), or `unlimited` (Infinity); `example` is the hint's command.
 * @example parseReplyRate("1MiB/s", "lab udp echo --reply-rate 1MiB/s") // 1048576
 */
export function parseReplyRate(text: string, example: string): number {
  if (/^\s*unlimited\s*$/i.test(text)) return Number.POSITIVE_INFINITY;
  const rate = parseRate(text);
  if (rate === undefined || !Number.isSafeInteger(rate)) {
    throw new UsageError(
      `--reply-rate must be a rate such as 256KiB/s or 1M (a bare number is bytes per second), or unlimited, got ${JSON.stringify(text)}`,
      example,
    );
  }
  return rate;
}

/**
 * The reply limit as an exposure warning says it, after "aim … at any address": `at most
 * 256.0 KiB/s at each (--reply-rate)`, or `at any rate (--reply-rate unlimited)`.
 */
export function replyLimitText(o: { maxReplyBytesPerSecond: number }): string {
  return o.maxReplyBytesPerSecond === Number.POSITIVE_INFINITY
    ? "at any rate (--reply-rate unlimited)"
    : `at most ${formatRate(o.maxReplyBytesPerSecond)} at each (--reply-rate)`;
}
