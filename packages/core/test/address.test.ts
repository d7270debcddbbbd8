import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Address,
  AddressError,
  formatAddress,
  formatPeer,
  MAX_UNIX_PATH_BYTES,
  parseAddress,
  parseHost,
  parsePortText,
  socketPath,
  socketTarget,
} from "../src/index.js";

function refusal(fn: () => unknown): AddressError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AddressError) return err;
    throw err;
  }
  throw new Error("expected an AddressError");
}

describe("parseAddress", () => {
  it("reads HOST:PORT, [IPv6]:PORT with a zone id, :PORT, unix:/path and @abstract", () => {
    expect(parseAddress("127.0.0.1:5001")).toEqual({ kind: "host", host: "127.0.0.1", port: 5001 });
    expect(parseAddress("localhost:80")).toEqual({ kind: "host", host: "localhost", port: 80 });
    expect(parseAddress("[::1]:5001")).toEqual({ kind: "host", host: "::1", port: 5001 });
    expect(parseAddress("[fe80::1%eth0]:80")).toEqual({ kind: "host", host: "fe80::1%eth0", port: 80 });
    expect(parseAddress(":5001")).toEqual({ kind: "host", host: "127.0.0.1", port: 5001 });
    expect(parseAddress(":5001", { defaultHost: "::1" })).toEqual({ kind: "host", host: "::1", port: 5001 });
    expect(parseAddress("unix:/tmp/chat.sock")).toEqual({ kind: "unix", path: "/tmp/chat.sock" });
    expect(parseAddress("unix:rel.sock")).toEqual({ kind: "unix", path: "rel.sock" });
    expect(parseAddress("@netlab-chat")).toEqual({ kind: "abstract", name: "netlab-chat" });
    expect(parseAddress("unix:@netlab-chat")).toEqual({ kind: "abstract", name: "netlab-chat" });
  });

  it("takes the default port for a bare host or [IPv6], and requires one otherwise", () => {
    expect(parseAddress("[::1]", { defaultPort: 5001 })).toEqual({ kind: "host", host: "::1", port: 5001 });
    expect(parseAddress("example.test", { defaultPort: 7 })).toEqual({
      kind: "host",
      host: "example.test",
      port: 7,
    });
    expect(refusal(() => parseAddress("localhost")).message).toMatch(/has no port/);
  });

  it("refuses a bare IPv6 address with a port, with a hint to bracket it", () => {
    const e = refusal(() => parseAddress("::1:5001"));
    expect(e.code).toBe("INVALID_ADDRESS");
    expect(e.message).toBe('"::1:5001" is ambiguous: an IPv6 address with a port needs brackets');
    expect(e.hint).toBe("write it as [::1]:5001");
    expect(refusal(() => parseAddress("fe80::1%eth0:80")).hint).toBe("write it as [fe80::1%eth0]:80");
  });

  it("refuses a port out of range, port 0 unless asked, and a port that is not a number", () => {
    expect(refusal(() => parseAddress("127.0.0.1:65536")).code).toBe("INVALID_PORT");
    expect(refusal(() => parseAddress("127.0.0.1:0")).message).toBe(
      'port must be a number from 1 to 65535, got "0"',
    );
    expect(parseAddress("127.0.0.1:0", { allowZeroPort: true })).toMatchObject({ port: 0 });
    expect(refusal(() => parseAddress("[::1]:http")).code).toBe("INVALID_PORT");
    expect(refusal(() => parsePortText("-1")).code).toBe("INVALID_PORT");
  });

  it("refuses brackets around something that is not IPv6, a host with spaces, a bare path", () => {
    expect(refusal(() => parseAddress("[127.0.0.1]:80")).code).toBe("INVALID_ADDRESS");
    expect(refusal(() => parseAddress("[::1:80")).code).toBe("INVALID_ADDRESS");
    expect(refusal(() => parseAddress("my host:80")).code).toBe("INVALID_ADDRESS");
    expect(refusal(() => parseAddress("/tmp/x.sock")).hint).toBe("for a Unix socket write unix:/tmp/x.sock");
  });

  it("refuses a number alone as a host (a resolver would read 5003 as 0.0.19.139), with the spelling of a port", () => {
    const e = refusal(() => parseAddress("5003", { defaultPort: 5003 }));
    expect(e.code).toBe("INVALID_ADDRESS");
    expect(e.message).toBe('"5003" is a port number, not a host');
    expect(e.hint).toBe("write :5003 (the default host) or HOST:5003, such as 127.0.0.1:5003");
    expect(refusal(() => parseAddress("5003")).hint).toBe(
      "write :5003 (the default host) or HOST:5003, such as 127.0.0.1:5003",
    );
    expect(refusal(() => parseHost("5001")).hint).toBe("a port goes in --port: --port 5001");
    expect(parseAddress("127.1:80")).toEqual({ kind: "host", host: "127.1", port: 80 });
  });

  it(`refuses a Unix path over ${MAX_UNIX_PATH_BYTES} bytes, and accepts one exactly at it`, () => {
    const at = `/tmp/${"a".repeat(MAX_UNIX_PATH_BYTES - 5)}`;
    expect(parseAddress(`unix:${at}`)).toEqual({ kind: "unix", path: at });
    const e = refusal(() => parseAddress(`unix:${at}b`));
    expect(e.code).toBe("PATH_TOO_LONG");
    expect(e.message).toMatch(/^Unix socket path is 108 bytes, over the kernel's 107/);
    // Bytes, not characters: é is two.
    expect(refusal(() => parseAddress(`unix:/tmp/${"é".repeat(52)}`)).code).toBe("PATH_TOO_LONG");
    expect(refusal(() => parseAddress(`@${"n".repeat(108)}`)).code).toBe("PATH_TOO_LONG");
    expect(refusal(() => parseAddress("unix:")).code).toBe("INVALID_ADDRESS");
    expect(refusal(() => parseAddress("@")).code).toBe("INVALID_ADDRESS");
  });
});

describe("parseHost", () => {
  it("takes names, IPv4, and IPv6 bare or bracketed", () => {
    expect(parseHost("[::1]")).toBe("::1");
    expect(parseHost("::1")).toBe("::1");
    expect(parseHost("::")).toBe("::");
    expect(parseHost("[fe80::1%eth0]")).toBe("fe80::1%eth0");
    expect(parseHost("localhost")).toBe("localhost");
    expect(parseHost("0.0.0.0")).toBe("0.0.0.0");
  });

  it("refuses a port inside --host", () => {
    expect(refusal(() => parseHost("127.0.0.1:5001")).hint).toMatch(/--port/);
    expect(refusal(() => parseHost("[::1]:5001")).code).toBe("INVALID_ADDRESS");
  });

  it("says how to split a HOST:PORT given to --host, and only that (lab transfer takes no address argument)", () => {
    expect(refusal(() => parseHost("[::1]:5001")).hint).toBe("write it as --host ::1 --port 5001");
    expect(refusal(() => parseHost("localhost:5002")).hint).toBe("write it as --host localhost --port 5002");
  });
});

describe("formatAddress and formatPeer", () => {
  it("bracket IPv6 and show IPv4-mapped peers as IPv4", () => {
    expect(formatAddress({ kind: "host", host: "::1", port: 5001 })).toBe("[::1]:5001");
    expect(formatAddress({ kind: "host", host: "fe80::1%eth0", port: 80 })).toBe("[fe80::1%eth0]:80");
    expect(formatAddress({ kind: "unix", path: "/tmp/a.sock" })).toBe("unix:/tmp/a.sock");
    expect(formatAddress({ kind: "abstract", name: "chat" })).toBe("@chat");
    expect(formatPeer({ address: "::ffff:127.0.0.1", port: 40000, family: "IPv6" })).toBe("127.0.0.1:40000");
    expect(formatPeer({ address: "::1", port: 1, family: "IPv6" })).toBe("[::1]:1");
    expect(formatPeer({ address: "", port: 0, family: "unix" })).toBe("unix socket");
    expect(formatPeer({ address: "\0chat", port: 0, family: "unix" })).toBe("@chat");
    expect(formatPeer(undefined)).toBe("?");
  });

  it("give Node's net the path of a Unix or abstract address", () => {
    expect(socketPath({ kind: "abstract", name: "chat" })).toBe("\0chat");
    expect(socketTarget(parseAddress("unix:/tmp/a.sock"))).toEqual({ path: "/tmp/a.sock" });
    expect(socketTarget(parseAddress("[::1]:9"))).toEqual({ host: "::1", port: 9 });
  });
});

const hex = fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16));
const ipv4 = fc
  .tuple(...Array.from({ length: 4 }, () => fc.integer({ min: 0, max: 255 })))
  .map((p) => p.join("."));
const ipv6 = fc.oneof(
  fc.array(hex, { minLength: 8, maxLength: 8 }).map((g) => g.join(":")),
  fc
    .tuple(fc.array(hex, { maxLength: 3 }), fc.array(hex, { maxLength: 3 }))
    .map(([a, b]) => `${a.join(":")}::${b.join(":")}`),
  fc.constantFrom("::1", "::", "fe80::1%eth0", "fe80::abcd%lo"),
);
// A name of digits alone is not a host (a resolver reads "5003" as the IPv4 address 0.0.19.139).
const name = fc
  .stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?$/)
  .filter((s) => !s.includes("..") && !/^\d+$/.test(s));
const port = fc.integer({ min: 1, max: 65_535 });
const path = fc
  .array(fc.stringMatching(/^[A-Za-z0-9._ -]{1,12}$/), { minLength: 1, maxLength: 6 })
  .map((parts) => `/${parts.join("/")}`);
const address: fc.Arbitrary<Address> = fc.oneof(
  fc.record({ kind: fc.constant("host" as const), host: fc.oneof(ipv4, ipv6, name), port }),
  fc.record({ kind: fc.constant("unix" as const), path }),
  fc.record({ kind: fc.constant("abstract" as const), name: fc.stringMatching(/^[A-Za-z0-9._:@/-]{1,40}$/) }),
);

describe("parse ∘ format", () => {
  it("gives back every address (property)", () => {
    fc.assert(
      fc.property(address, (a) => {
        expect(parseAddress(formatAddress(a))).toEqual(a);
      }),
      { numRuns: 2_000 },
    );
  });

  it("turns every IPv4-mapped peer into the IPv4 address (property)", () => {
    fc.assert(
      fc.property(ipv4, port, (v4, p) => {
        const shown = formatPeer({ address: `::ffff:${v4}`, port: p, family: "IPv6" });
        expect(shown).toBe(`${v4}:${p}`);
        expect(parseAddress(shown)).toEqual({ kind: "host", host: v4, port: p });
      }),
    );
  });
});
