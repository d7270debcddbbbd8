import { execFile } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  fingerprint,
  generateCertificate,
  loadIdentity,
  loadOrCreateIdentity,
  TlsError,
} from "../src/index.ts";

const run = promisify(execFile);
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "netlab-tls-id-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function hasOpenssl(): Promise<boolean> {
  try {
    await run("openssl", ["version"]);
    return true;
  } catch {
    return false;
  }
}

async function expectCode(promise: Promise<unknown>, code: string, text: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TlsError);
  expect((err as TlsError).code).toBe(code);
  expect((err as TlsError).message).toMatch(text);
  expect((err as TlsError).hint).toBeTruthy();
}

describe("loadOrCreateIdentity", () => {
  it("makes an EC P-256 key and a SHA-256 self-signed certificate for localhost, 127.0.0.1, ::1 and extra SANs", async () => {
    const started = performance.now();
    const id = await loadOrCreateIdentity({ dir, sans: ["lab.example", "192.0.2.7"] });
    const createMs = performance.now() - started;
    expect(id.created).toBe(true);
    const cert = new X509Certificate(id.cert);
    expect(cert.subjectAltName).toBe(
      "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:lab.example, IP Address:192.0.2.7",
    );
    expect(cert.publicKey.asymmetricKeyType).toBe("ec");
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(createPrivateKey(id.key).asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(id.fingerprint).toBe(fingerprint(cert.raw));
    expect((await stat(id.keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "identity"))).mode & 0o777).toBe(0o700);
    console.log(`identity created in ${createMs.toFixed(0)} ms`);
  });

  it("reuses the saved identity on later calls and replaces it with rotate", async () => {
    const first = await loadOrCreateIdentity({ dir });
    const started = performance.now();
    const again = await loadOrCreateIdentity({ dir });
    console.log(`identity loaded in ${(performance.now() - started).toFixed(1)} ms`);
    expect(again.created).toBe(false);
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(again.key).toBe(first.key);
    const rotated = await loadOrCreateIdentity({ dir, rotate: true });
    expect(rotated.created).toBe(true);
    expect(rotated.fingerprint).not.toBe(first.fingerprint);
    expect((await loadOrCreateIdentity({ dir })).fingerprint).toBe(rotated.fingerprint);
    expect((await stat(rotated.keyFile)).mode & 0o777).toBe(0o600);
  });

  it("gives two processes starting at once the same identity", async () => {
    const ids = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateIdentity({ dir })));
    const prints = new Set(ids.map((id) => id.fingerprint));
    expect(prints.size).toBe(1);
    expect(ids.filter((id) => id.created).length).toBe(1);
    const onDisk = await loadIdentity(ids[0]!.certFile, ids[0]!.keyFile);
    expect(onDisk.fingerprint).toBe(ids[0]!.fingerprint);
  });

  it("refuses a saved certificate that lacks a SAN asked for now, pointing at --tls-new-cert", async () => {
    await loadOrCreateIdentity({ dir });
    const err = await loadOrCreateIdentity({ dir, sans: ["lab.example"] }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "BAD_CERT_FILE" });
    expect((err as TlsError).message).toMatch(/does not name lab\.example/);
    expect((err as TlsError).hint).toMatch(/--tls-new-cert/);
  });

  it("refuses a SAN that is neither a host name nor an IP", async () => {
    await expectCode(loadOrCreateIdentity({ dir, sans: ["bad name!"] }), "INVALID_OPTION", /--tls-san/);
  });

  it("openssl shows prime256v1 and ecdsa-with-SHA256", async (ctx) => {
    if (!(await hasOpenssl())) {
      ctx.skip("openssl is not on PATH (apt package: openssl)");
      return;
    }
    const id = await loadOrCreateIdentity({ dir });
    const { stdout } = await run("openssl", ["x509", "-noout", "-text", "-in", id.certFile]);
    expect(stdout).toContain("ASN1 OID: prime256v1");
    expect(stdout).toContain("Signature Algorithm: ecdsa-with-SHA256");
    expect(stdout).not.toMatch(/sha1|rsaEncryption/i);
  });
});

describe("loadIdentity", () => {
  it("reads a given cert and key", async () => {
    const pair = await generateCertificate();
    await writeFile(join(dir, "c.pem"), pair.cert);
    await writeFile(join(dir, "k.pem"), pair.key, { mode: 0o600 });
    const id = await loadIdentity(join(dir, "c.pem"), join(dir, "k.pem"));
    expect(id.fingerprint).toBe(fingerprint(pair.cert));
    expect(id.warnings).toEqual([]);
  });

  it("names a missing file", async () => {
    const pair = await generateCertificate();
    await writeFile(join(dir, "c.pem"), pair.cert);
    await expectCode(
      loadIdentity(join(dir, "c.pem"), join(dir, "nope.pem")),
      "BAD_CERT_FILE",
      /nope\.pem: no such file/,
    );
  });

  it("refuses a key that does not belong to the certificate", async () => {
    const [a, b] = await Promise.all([generateCertificate(), generateCertificate()]);
    await writeFile(join(dir, "c.pem"), a.cert);
    await writeFile(join(dir, "k.pem"), b.key, { mode: 0o600 });
    await expectCode(
      loadIdentity(join(dir, "c.pem"), join(dir, "k.pem")),
      "BAD_CERT_FILE",
      /does not belong/,
    );
  });

  it("refuses files that are not PEM", async () => {
    const pair = await generateCertificate();
    await writeFile(join(dir, "junk"), "hello\n");
    await writeFile(join(dir, "c.pem"), pair.cert);
    await writeFile(join(dir, "k.pem"), pair.key, { mode: 0o600 });
    await expectCode(
      loadIdentity(join(dir, "junk"), join(dir, "k.pem")),
      "BAD_CERT_FILE",
      /not a PEM certificate/,
    );
    await expectCode(
      loadIdentity(join(dir, "c.pem"), join(dir, "junk")),
      "BAD_CERT_FILE",
      /not a PEM private key/,
    );
    // The key given as the certificate and the other way round.
    await expectCode(
      loadIdentity(join(dir, "k.pem"), join(dir, "c.pem")),
      "BAD_CERT_FILE",
      /not a PEM certificate/,
    );
  });

  it("refuses an encrypted key, saying how to decrypt it", async () => {
    const pair = await generateCertificate();
    const encrypted = createPrivateKey(pair.key).export({
      type: "pkcs8",
      format: "pem",
      cipher: "aes-256-cbc",
      passphrase: "secret",
    });
    await writeFile(join(dir, "c.pem"), pair.cert);
    await writeFile(join(dir, "k.pem"), encrypted, { mode: 0o600 });
    await expectCode(loadIdentity(join(dir, "c.pem"), join(dir, "k.pem")), "BAD_CERT_FILE", /encrypted/);
  });

  it("warns about a key file others can read", async () => {
    const pair = await generateCertificate();
    await writeFile(join(dir, "c.pem"), pair.cert);
    await writeFile(join(dir, "k.pem"), pair.key, { mode: 0o644 });
    const id = await loadIdentity(join(dir, "c.pem"), join(dir, "k.pem"));
    expect(id.warnings.join("\n")).toMatch(/can be read by other users \(mode 644\)/);
  });

  it("refuses a file over maxPemBytes (1 MiB)", async () => {
    await writeFile(join(dir, "big.pem"), Buffer.alloc(1024 * 1024 + 1, 0x41));
    await expectCode(loadIdentity(join(dir, "big.pem"), join(dir, "big.pem")), "BAD_CERT_FILE", /too large/);
  });
});
