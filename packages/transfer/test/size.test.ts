import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatBytes, parseSize } from "../src/index.js";

describe("parseSize", () => {
  it.each([
    ["0", 0],
    ["1048576", 1048576],
    ["512K", 512 * 1024],
    ["10G", 10 * 1024 ** 3],
    ["10g", 10 * 1024 ** 3],
    ["1.5GiB", 1.5 * 1024 ** 3],
    ["64GiB", 64 * 1024 ** 3],
    ["2GB", 2e9],
    ["3 MB", 3e6],
    ["1T", 1024 ** 4],
    ["100B", 100],
  ])("parses %j as %d bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["", "G", "-1", "1.2.3", "10X", "ten", "1e9", "10 G B"])("rejects %j", (text) => {
    expect(parseSize(text)).toBeUndefined();
  });

  it("round-trips any whole number of bytes written plainly (property)", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        expect(parseSize(String(n))).toBe(n);
      }),
    );
  });
});

describe("formatBytes", () => {
  it("uses binary units with one decimal", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(200 * 1024 ** 2)).toBe("200.0 MiB");
    expect(formatBytes(64 * 1024 ** 3)).toBe("64.0 GiB");
  });
});
