import { describe, expect, it } from "vitest";
import { closest, formatBytes, formatRate, parseRate, parseSize, plural } from "../src/index.js";

describe("formatBytes / formatRate: one unit system", () => {
  it("#20: counts in binary prefixes everywhere, a 16 MiB file included", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(16 * 1024 * 1024)).toBe("16.0 MiB");
    expect(formatBytes(64 * 1024 ** 3)).toBe("64.0 GiB");
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe("unlimited");
    expect(formatRate(65_300_000)).toBe("62.3 MiB/s");
    expect(formatRate(400)).toBe("400 B/s");
  });

  it("moves to the next unit when the shown figure would round up to 1024 of this one", () => {
    expect(formatBytes(1023.6)).toBe("1.0 KiB");
    expect(formatBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
    expect(formatBytes(1024 ** 3 - 1)).toBe("1.0 GiB");
    expect(formatBytes(1024 * 1023.9)).toBe("1023.9 KiB");
    expect(formatBytes(-(1024 * 1024 - 1))).toBe("-1.0 MiB");
  });
});

describe("closest", () => {
  it("#20: picks the nearest name for a did-you-mean, or none", () => {
    expect(closest("hwo", ["who", "help"])).toBe("who");
    expect(closest("jion", ["nick", "join"])).toBe("join");
    expect(closest("frobnicate", ["who", "help"])).toBeUndefined();
    expect(closest("x", ["me"])).toBeUndefined();
  });
});

describe("parseRate", () => {
  it.each([
    ["1MiB/s", 1024 ** 2],
    ["1MiB", 1024 ** 2],
    ["500K/s", 500 * 1024],
    ["2 MB/s", 2e6],
    ["4096", 4096],
    ["4096/s", 4096],
    ["64 KiB / sec", 64 * 1024],
  ])("#20: parses %j as %d bytes per second (a bare number is bytes/s)", (text, bytes) => {
    expect(parseRate(text)).toBe(bytes);
  });

  it.each(["", "0", "0/s", "fast", "1MiB/h", "-5", "/s"])("rejects %j", (text) => {
    expect(parseRate(text)).toBeUndefined();
  });

  it("reads sizes as parseSize does", () => {
    expect(parseRate("1.5GiB/s")).toBe(parseSize("1.5GiB"));
  });
});

describe("plural", () => {
  it('#20: says "1 write", "2 writes", "0 writes", and takes an irregular plural', () => {
    expect(plural(1, "write")).toBe("1 write");
    expect(plural(2, "write")).toBe("2 writes");
    expect(plural(0, "client")).toBe("0 clients");
    expect(plural(1, "entry", "entries")).toBe("1 entry");
    expect(plural(3, "entry", "entries")).toBe("3 entries");
  });
});
