import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it, onTestFinished } from "vitest";
import * as der from "../src/der.ts";
import { generateCertificate, loadIdentity, TlsError } from "../src/index.ts";

const run = promisify(execFile);

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "netlab-tls-gen-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function hasOpenssl(): Promise<boolean> {
  return run("openssl", ["version"]).then(
    () => true,
    () => false,
  );
}

describe("the DER encoder", () => {
  it("writes short and long lengths, minimal INTEGERs and multi-byte OID arcs", () => {
    expect(der.tlv(0x04, Buffer.alloc(3)).subarray(0, 2)).toEqual(Buffer.from([0x04, 3]));
    expect(der.tlv(0x04, Buffer.alloc(200)).subarray(0, 3)).toEqual(Buffer.from([0x04, 0x81, 200]));
    expect(der.tlv(0x04, Buffer.alloc(300)).subarray(0, 4)).toEqual(Buffer.from([0x04, 0x82, 1, 44]));
    expect(der.unsignedInteger(Buffer.from([0, 0, 0x80]))).toEqual(Buffer.from([0x02, 2, 0, 0x80]));
    expect(der.unsignedInteger(Buffer.from([0, 0x7f]))).toEqual(Buffer.from([0x02, 1, 0x7f]));
    expect(der.oid("1.2.840.10045.4.3.2")).toEqual(
      Buffer.from([0x06, 8, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
    );
  });

  it("reads back what it wrote, and refuses a length past the end", () => {
    const value = der.sequence(der.oid("2.5.4.3"), der.utf8String("é".repeat(100)));
    const [outer] = der.children(value);
    expect(der.children(outer!.contents).map((e) => e.tag)).toEqual([0x06, 0x0c]);
    expect(() => der.children(Buffer.from([0x30, 0x05, 0x01]))).toThrow(RangeError);
  });

  it("writes UTCTime before 2050 and GeneralizedTime from 2050 on", () => {
    expect(der.time(new Date("2049-12-31T23:59:59Z")).toString("latin1", 2)).toBe("491231235959Z");
    expect(der.time(new Date("2050-01-01T00:00:00Z")).toString("latin1", 2)).toBe("20500101000000Z");
  });
});

describe("generateCertificate (Node crypto, no certificate library)", () => {
  it("names IPv4, IPv6 (also v4-mapped) and DNS SANs that Node checks", async () => {
    const sans = ["localhost", "127.0.0.1", "::1", "fe80::1:2", "::ffff:192.0.2.1", "lab.example"];
    const cert = new X509Certificate((await generateCertificate({ sans })).cert);
    expect(cert.checkIP("::1")).toBe("::1");
    expect(cert.checkIP("fe80::1:2")).toBe("fe80::1:2");
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(cert.checkHost("lab.example")).toBe("lab.example");
    expect(cert.subjectAltName).toContain("IP Address:0:0:0:0:0:FFFF:C000:201");
    expect(cert.checkIP("10.0.0.1")).toBeUndefined();
  });

  it("a certificate made with notBefore two years back and 1 day of validity is refused as expired", async () => {
    const dir = await tempDir();
    const pair = await generateCertificate({
      notBefore: new Date(Date.now() - 2 * 365 * 86_400_000),
      validDays: 1,
    });
    await writeFile(join(dir, "c.pem"), pair.cert);
    await writeFile(join(dir, "k.pem"), pair.key, { mode: 0o600 });
    const err = await loadIdentity(join(dir, "c.pem"), join(dir, "k.pem")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TlsError);
    expect((err as TlsError).message).toMatch(/expired/);
  });

  it("openssl verifies a server certificate against the CA that signed it, and parses the extensions", async (ctx) => {
    if (!(await hasOpenssl())) ctx.skip("openssl is not on PATH (apt package: openssl)");
    const dir = await tempDir();
    const ca = await generateCertificate({ isCa: true, commonName: "netlab test CA" });
    const leaf = await generateCertificate({ issuer: ca, sans: ["localhost"] });
    await writeFile(join(dir, "ca.pem"), ca.cert);
    await writeFile(join(dir, "leaf.pem"), leaf.cert);
    const verified = await run("openssl", ["verify", "-CAfile", join(dir, "ca.pem"), join(dir, "leaf.pem")]);
    expect(verified.stdout).toContain("OK");
    const { stdout } = await run("openssl", ["x509", "-noout", "-text", "-in", join(dir, "leaf.pem")]);
    expect(stdout).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(stdout).toContain("Issuer: CN = netlab test CA");
    expect(stdout).toContain("TLS Web Server Authentication");
    expect(stdout).toContain("X509v3 Authority Key Identifier");
    const caText = await run("openssl", ["x509", "-noout", "-text", "-in", join(dir, "ca.pem")]);
    expect(caText.stdout).toContain("CA:TRUE");
    expect(caText.stdout).toContain("Certificate Sign, CRL Sign");
  });
});
