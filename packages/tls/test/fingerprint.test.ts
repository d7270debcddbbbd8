import { execFile } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  fingerprint,
  formatFingerprint,
  generateCertificate,
  type PemPair,
  parsePin,
  pinMatches,
} from "../src/index.ts";

let pair: PemPair;
beforeAll(async () => {
  pair = await generateCertificate();
});

describe("fingerprint", () => {
  it("is SHA256: and the unpadded base64 of the SHA-256 of the DER, as OpenSSH prints it", () => {
    const der = new X509Certificate(pair.cert).raw;
    const want = createHash("sha256").update(der).digest("base64").replace(/=+$/, "");
    expect(fingerprint(pair.cert)).toBe(`SHA256:${want}`);
    expect(fingerprint(der)).toBe(`SHA256:${want}`);
    expect(fingerprint(pair.cert)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("agrees with openssl x509 -fingerprint -sha256", async (ctx) => {
    const dir = await mkdtemp(join(tmpdir(), "netlab-fp-"));
    try {
      await writeFile(join(dir, "c.pem"), pair.cert);
      const out = await promisify(execFile)("openssl", [
        "x509",
        "-noout",
        "-fingerprint",
        "-sha256",
        "-in",
        join(dir, "c.pem"),
      ]).catch(() => undefined);
      if (!out) {
        ctx.skip("openssl is not on PATH (apt package: openssl)");
        return;
      }
      const hex = /=([0-9A-F:]+)/.exec(out.stdout)![1]!;
      expect(pinMatches(`sha256:${hex}`, pair.cert)).toBe(true);
      expect(formatFingerprint(Buffer.from(hex.replaceAll(":", ""), "hex"))).toBe(fingerprint(pair.cert));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("parsePin", () => {
  it("reads hex with and without colons, any case, with or without the sha256: prefix", () => {
    const d = createHash("sha256").update(new X509Certificate(pair.cert).raw).digest();
    const hex = d.toString("hex");
    const colons = hex.match(/../g)!.join(":");
    for (const form of [
      hex,
      hex.toUpperCase(),
      `sha256:${hex}`,
      `SHA256:${colons.toUpperCase()}`,
      `Sha256:${colons}`,
    ]) {
      expect(parsePin(form)).toEqual(d);
      expect(pinMatches(form, pair.cert)).toBe(true);
    }
  });

  it("reads the OpenSSH base64 form, with or without a trailing =, prefix in any case", () => {
    const print = fingerprint(pair.cert);
    const b64 = print.slice("SHA256:".length);
    for (const form of [print, `sha256:${b64}`, b64, `${b64}=`])
      expect(pinMatches(form, pair.cert)).toBe(true);
  });

  it("refuses anything that is not 32 bytes of SHA-256", () => {
    for (const bad of [
      "",
      "sha256:",
      "sha1:abcd",
      "ab".repeat(31),
      "ab".repeat(33),
      "zz".repeat(32),
      "SHA256:short",
      "AB:CD",
    ]) {
      expect(() => parsePin(bad), bad).toThrow(expect.objectContaining({ code: "INVALID_OPTION" }));
    }
  });

  it("tells a different certificate apart", async () => {
    const other = await generateCertificate();
    expect(pinMatches(fingerprint(other.cert), pair.cert)).toBe(false);
  });

  it("round-trips any digest through both printed forms", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const d = Buffer.from(bytes);
        expect(parsePin(formatFingerprint(d))).toEqual(d);
        expect(parsePin(`sha256:${d.toString("hex").match(/../g)!.join(":")}`)).toEqual(d);
      }),
    );
  });
});
