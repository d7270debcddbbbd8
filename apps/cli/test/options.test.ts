import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, parseMicroseconds, parseNumber } from "../src/options.js";

describe("parseDuration (every time option of lab)", () => {
  it("#20: reads ms, s, m and h, and a bare number as seconds", () => {
    const at = (text: string) => parseDuration("--wait", text, { minMs: 0 });
    expect(at("500ms")).toBe(500);
    expect(at("2s")).toBe(2000);
    expect(at("1m")).toBe(60_000);
    expect(at("1h")).toBe(3_600_000);
    expect(at("1.5")).toBe(1500);
    expect(at(".25s")).toBe(250);
    expect(at("0")).toBe(0);
    expect(at(" 2 S ")).toBe(2000);
  });

  it("#20: refuses what is not a time, or out of range, naming the flag, the range and the text", () => {
    expect(() => parseDuration("--wait", "soon", { minMs: 0, maxMs: 3_600_000 })).toThrow(
      '--wait must be a time from 0s to 1h (500ms, 2s, 1m; bare numbers are seconds), got "soon"',
    );
    expect(() => parseDuration("-W", "0ms", { minMs: 1 })).toThrow("-W must be a time of 1ms or more");
    for (const bad of ["", "-1", "1d", "1e3", "ms", "1 2s"]) {
      expect(() => parseDuration("--x", bad, { minMs: 0 }), bad).toThrow(/--x must be a time/);
    }
  });

  it("parseMicroseconds reads us, µs, ms and seconds, in whole microseconds, within bounds", () => {
    const at = (text: string) => parseMicroseconds("--busy-poll", text, { minMs: 0, maxMs: 1 });
    expect(["50us", "50µs", " 50 US ", "0.2ms", "1ms", "0", "0.0005"].map(at)).toEqual([
      50, 50, 50, 200, 1000, 0, 500,
    ]);
    for (const bad of ["1001us", "2ms", "1", "-1us", "fast", "1m", ""]) {
      expect(() => at(bad), bad).toThrow(
        `--busy-poll must be a time from 0s to 1ms (50us, 0.2ms; bare numbers are seconds), got ${JSON.stringify(bad)}`,
      );
    }
  });

  it("formats durations as people write them", () => {
    expect([0, 1, 500, 1000, 1500, 30_000, 60_000, 600_000, 3_600_000].map(formatDuration)).toEqual([
      "0s",
      "1ms",
      "500ms",
      "1s",
      "1500ms",
      "30s",
      "1m",
      "10m",
      "1h",
    ]);
  });
});

describe("parseNumber (every numeric option of lab)", () => {
  const port = (text: string) => parseNumber("--port", text, { min: 0, max: 65_535, integer: true });
  it("reads decimal whole numbers, with spaces and a sign around them", () => {
    expect(port("5001")).toBe(5001);
    expect(port(" 80 ")).toBe(80);
    expect(port("+0")).toBe(0);
    expect(port("08080")).toBe(8080);
    expect(parseNumber("--loss", "0.25", { min: 0, max: 1 })).toBe(0.25);
    expect(parseNumber("--loss", ".5", { min: 0, max: 1 })).toBe(0.5);
    expect(parseNumber("--loss", "1e-3", { min: 0, max: 1 })).toBe(0.001);
  });

  // Number() reads them, so --port 0x1389 was port 5001 and --max-clients 1e2 was 100, where the
  // address grammar's HOST:PORT takes decimal digits only.
  it.each(["0x1389", "0b11", "0o17", "1e2", "1_000", ""])("refuses %j for a whole number", (text) => {
    expect(() => port(text)).toThrow(
      `--port must be a whole number from 0 to 65535, got ${JSON.stringify(text)}`,
    );
  });

  it.each(["0x1", "Infinity", "1,5"])("refuses %j for a number", (text) => {
    expect(() => parseNumber("--loss", text, { min: 0, max: 1 })).toThrow(
      `--loss must be a number from 0 to 1, got ${JSON.stringify(text)}`,
    );
  });
});

describe("parseNumber past Number.MAX_SAFE_INTEGER", () => {
  // "-c must be a whole number 1 or more, got 99999999999999999999" said the number was too small.
  it("names the largest value it takes when the number is over it", () => {
    expect(() =>
      parseNumber("-c", "99999999999999999999", { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true }),
    ).toThrow('-c must be a whole number from 1 to 9007199254740991, got "99999999999999999999"');
    expect(() => parseNumber("-c", "0", { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true })).toThrow(
      '-c must be a whole number 1 or more, got "0"',
    );
  });
});
