import { describe, expect, it } from "vitest";
import { closest, formatBytes, formatRate } from "../src/index.js";

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
});

describe("closest", () => {
  it("#20: picks the nearest name for a did-you-mean, or none", () => {
    expect(closest("hwo", ["who", "help"])).toBe("who");
    expect(closest("jion", ["nick", "join"])).toBe("join");
    expect(closest("frobnicate", ["who", "help"])).toBeUndefined();
    expect(closest("x", ["me"])).toBeUndefined();
  });
});
