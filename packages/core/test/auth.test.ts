import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  AuthBackoff,
  addressKey,
  loadTokenFile,
  parseTokenFile,
  requireSafeAuth,
  TokenGate,
  TokenSet,
} from "../src/index.js";

const dir = await mkdtemp(path.join(tmpdir(), "netlab-auth-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("parseTokenFile", () => {
  it("reads tokens, names and access; skips comments and blank lines", () => {
    const text =
      "# tokens\n\n  plain-token-0123456789  \nalice:alice-token-0123456:ro\nbob:bob-token-012345678:rw\nro-only-token-0123:ro\r\n";
    expect(parseTokenFile(text)).toEqual([
      { token: "plain-token-0123456789", name: undefined, access: "rw", line: 3 },
      { token: "alice-token-0123456", name: "alice", access: "ro", line: 4 },
      { token: "bob-token-012345678", name: "bob", access: "rw", line: 5 },
      { token: "ro-only-token-0123", name: undefined, access: "ro", line: 6 },
    ]);
  });

  it("keeps colons inside a named token", () => {
    expect(parseTokenFile("carol:a:b:c")[0]).toMatchObject({ name: "carol", token: "a:b:c", access: "rw" });
  });

  it.each([
    ["alice:", "line 1: empty token"],
    [":ro", "line 1: empty token"],
    ["ok-token\n:rw", "line 2: empty token"],
    [":tok", "empty name"],
    ["two words", "spaces inside"],
    ["same\nsame", "line 2: the same token appears twice"],
    ["# only a comment\n\n", "holds no token"],
  ])("refuses %j with BAD_TOKEN_FILE (%s)", (text, why) => {
    expect(() => parseTokenFile(text)).toThrow(expect.objectContaining({ code: "BAD_TOKEN_FILE" }));
    expect(() => parseTokenFile(text)).toThrow(why);
  });
});

describe("loadTokenFile", () => {
  it("warns when others may read the file, and for short tokens; not for a 0600 file of long ones", async () => {
    const file = path.join(dir, "open.txt");
    await writeFile(file, "short\n");
    await chmod(file, 0o644);
    const loaded = await loadTokenFile(file);
    expect(loaded.warnings.map((w) => w.message).join("\n")).toMatch(
      /readable or writable by other users \(mode 0644\)/,
    );
    expect(loaded.warnings.map((w) => w.message).join("\n")).toMatch(/line 1 shorter than 16/);
    const safe = path.join(dir, "safe.txt");
    await writeFile(safe, "a-long-enough-token-0123456789\n", { mode: 0o600 });
    await chmod(safe, 0o600);
    expect((await loadTokenFile(safe)).warnings).toEqual([]);
  });

  it("says a missing file does not exist, with how to make one", async () => {
    const err = await loadTokenFile(path.join(dir, "nope.txt")).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "BAD_TOKEN_FILE", message: expect.stringMatching(/does not exist/) });
    expect((err as { hint: string }).hint).toMatch(/chmod 600/);
  });

  it("refuses a folder", async () => {
    await expect(loadTokenFile(dir)).rejects.toMatchObject({ code: "BAD_TOKEN_FILE" });
  });
});

describe("TokenSet", () => {
  const set = new TokenSet(parseTokenFile("alice:aaaa-token:ro\nbbbb-token\n"));
  it("matches a known token to its grant and nothing else", () => {
    expect(set.match("aaaa-token")).toEqual({ name: "alice", access: "ro", line: 1 });
    expect(set.match("bbbb-token")).toEqual({ name: undefined, access: "rw", line: 2 });
    expect(set.match("aaaa-toke")).toBeUndefined();
    expect(set.match("aaaa-token-and-more")).toBeUndefined();
    expect(set.match("")).toBeUndefined();
  });
});

describe("AuthBackoff", () => {
  const make = (now: { t: number }, o = {}) =>
    new AuthBackoff({ authDelayMs: 100, maxAuthDelayMs: 1_000, ...o }, () => now.t);

  it("lets 5 failures through at once, then makes the 6th attempt wait, doubling up to the cap", () => {
    const now = { t: 0 };
    const b = make(now);
    for (let i = 0; i < 5; i++) {
      expect(b.admit("10.0.0.1")).toEqual({ waitMs: 0, refused: false });
      b.failed("10.0.0.1");
    }
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const a = b.admit("10.0.0.1");
      waits.push(a.waitMs);
      now.t += a.waitMs;
      b.failed("10.0.0.1");
    }
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("leaves other addresses alone", () => {
    const now = { t: 0 };
    const b = make(now);
    for (let i = 0; i < 8; i++) b.failed("10.0.0.1");
    expect(b.admit("10.0.0.1").waitMs).toBeGreaterThan(0);
    expect(b.admit("10.0.0.2")).toEqual({ waitMs: 0, refused: false });
  });

  it("spaces parallel attempts from one address and refuses one that would wait past the cap", () => {
    const now = { t: 0 };
    const b = make(now);
    for (let i = 0; i < 5; i++) b.failed("10.0.0.1");
    const waits = Array.from({ length: 12 }, () => b.admit("10.0.0.1"));
    expect(waits.slice(0, 3).map((w) => w.waitMs)).toEqual([100, 200, 300]);
    expect(waits.at(-1)).toMatchObject({ refused: true });
    expect(waits.every((w) => w.refused || w.waitMs <= 1_000)).toBe(true);
  });

  it("holds at most maxAuthAddresses, forgetting the one that failed least recently", () => {
    const now = { t: 0 };
    const b = make(now, { maxAuthAddresses: 3, authFailuresAllowed: 1 });
    for (const a of ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) b.failed(a);
    expect(b.size).toBe(3);
    expect(b.admit("10.0.0.1").waitMs).toBe(0);
    expect(b.admit("10.0.0.4").waitMs).toBeGreaterThan(0);
  });

  it("forgets an address after authForgetMs without failures", () => {
    const now = { t: 0 };
    const b = make(now, { authForgetMs: 5_000 });
    for (let i = 0; i < 6; i++) b.failed("10.0.0.1");
    now.t = 10_000;
    expect(b.admit("10.0.0.1").waitMs).toBe(0);
    expect(b.size).toBe(0);
  });

  it("counts IPv6 per /64 and v4-mapped as IPv4", () => {
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe(addressKey("2001:db8:1:2:bbbb::9"));
    expect(addressKey("2001:db8:1:2::1")).not.toBe(addressKey("2001:db8:1:3::1"));
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
    expect(addressKey("::ffff:127.0.0.1")).toBe("127.0.0.1");
  });

  it("refuses bad options with INVALID_OPTION", () => {
    expect(() => new AuthBackoff({ authDelayMs: -1 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTION" }),
    );
    expect(() => new AuthBackoff({ maxAuthAddresses: 0 })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTION" }),
    );
  });
});

describe("TokenGate", () => {
  const gate = () =>
    new TokenGate(new TokenSet(parseTokenFile("alice:good-token-0123456:ro")), { authDelayMs: 1 });
  it("grants a good token, refuses a wrong one, and asks for a missing one", async () => {
    const g = gate();
    await expect(g.check("good-token-0123456", "127.0.0.1")).resolves.toMatchObject({
      name: "alice",
      access: "ro",
    });
    await expect(g.check("bad", "127.0.0.1")).rejects.toMatchObject({
      code: "AUTH_FAILED",
      message: "the server refused the token",
    });
    await expect(g.check(undefined, "127.0.0.1")).rejects.toMatchObject({ code: "AUTH_REQUIRED" });
    expect(g.backoff.size).toBe(1);
  });

  it("ends a wait when the signal aborts", async () => {
    const g = new TokenGate(new TokenSet(parseTokenFile("x-token")), {
      authDelayMs: 60_000,
      maxAuthDelayMs: 60_000,
    });
    for (let i = 0; i < 5; i++) await g.check("wrong", "10.0.0.9").catch(() => {});
    const controller = new AbortController();
    const pending = g.check("x-token", "10.0.0.9", controller.signal);
    controller.abort(new Error("gone"));
    await expect(pending).rejects.toThrow("gone");
  });
});

describe("requireSafeAuth", () => {
  it("refuses tokens over plaintext unless allowed or encrypted", () => {
    expect(() => requireSafeAuth({ hasTokens: true, isEncrypted: false, allowPlaintextAuth: false })).toThrow(
      expect.objectContaining({ code: "PLAINTEXT_AUTH" }),
    );
    requireSafeAuth({ hasTokens: true, isEncrypted: false, allowPlaintextAuth: true });
    requireSafeAuth({ hasTokens: true, isEncrypted: true, allowPlaintextAuth: false });
    requireSafeAuth({ hasTokens: false, isEncrypted: false, allowPlaintextAuth: false });
  });
});
