import { describe, expect, it } from "vitest";
import { addressArgs } from "../src/address.js";

describe("addressArgs: the options that name the same server in a suggested command", () => {
  it("repeats only what was typed, each a shell word", () => {
    expect(addressArgs({ host: "127.0.0.1", port: "5002" })).toBe("");
    expect(addressArgs({ host: "127.0.0.1", port: "6002", isPortTyped: true })).toBe(" --port 6002");
    expect(addressArgs({ host: "[::1]", port: "6002", isHostTyped: true, ipv6: true })).toBe(
      " --host [::1] -6",
    );
    expect(addressArgs({ host: "unix:/tmp/my files/s.sock", port: "5002", isHostTyped: true })).toBe(
      " --host 'unix:/tmp/my files/s.sock'",
    );
    expect(addressArgs({ host: "unix:/tmp/it's", port: "5002", isHostTyped: true })).toBe(
      ` --host 'unix:/tmp/it'\\''s'`,
    );
  });

  it("never carries a control byte to the terminal", () => {
    expect(addressArgs({ host: "unix:/tmp/\u001b[2Jx", port: "1", isHostTyped: true })).not.toContain(
      "\u001b",
    );
  });
});
