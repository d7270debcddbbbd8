import { randomBytes, webcrypto } from "node:crypto";
import { isIP } from "node:net";
import { requirePositiveInt, TlsError } from "./errors.js";

/**
 * The key and signature every certificate made here uses, stated rather than left to a library's
 * defaults (`selfsigned` signs with SHA-1/RSA unless told otherwise): ECDSA on P-256 with SHA-256.
 */
export const CERT_ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** The names every generated server certificate carries, before any extra `sans`. */
export const DEFAULT_SANS: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** Defaults of {@link generateCertificate}. */
export const GENERATE_DEFAULTS = {
  /** Days the certificate is valid from now (it also starts one hour back, for clock skew). */
  validDays: 825,
} as const;

/** A certificate and its private key, both PEM. */
export interface PemPair {
  /** The certificate, `-----BEGIN CERTIFICATE-----`. */
  cert: string;
  /** The PKCS#8 private key, `-----BEGIN PRIVATE KEY-----`, unencrypted. */
  key: string;
}

/** What {@link generateCertificate} makes. */
export interface GenerateOptions {
  /** The subject's common name; default `netlab`. */
  commonName?: string;
  /** Host names and IP addresses for the subjectAltName; default {@link DEFAULT_SANS}. */
  sans?: readonly string[];
  /** Days of validity; default {@link GENERATE_DEFAULTS}.validDays. */
  validDays?: number;
  /** Make a CA certificate (basicConstraints cA, keyCertSign) instead of a server one. */
  isCa?: boolean;
  /** The CA that signs it; default: the certificate signs itself. */
  issuer?: PemPair;
}

const LABEL = /^(\*|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)$/i;

/**
 * Throws INVALID_OPTION unless `san` is an IP address or a DNS name (labels of letters, digits and
 * inner hyphens, a leading `*` label allowed, 253 characters at most).
 */
export function checkSan(san: string): void {
  if (isIP(san) !== 0) return;
  const labels = san.split(".");
  const ok = san.length <= 253 && labels.every((l, i) => LABEL.test(l) && (l !== "*" || i === 0));
  if (!ok) {
    throw new TlsError(
      "INVALID_OPTION",
      `--tls-san ${JSON.stringify(san)} is neither a host name nor an IP`,
      {
        hint: "give a DNS name (lab.example) or an IP address (192.0.2.7)",
      },
    );
  }
}

/**
 * Makes a certificate and a fresh ECDSA P-256 key, signed with SHA-256 by `issuer` or by itself.
 * Loads `@peculiar/x509` on first call only, so processes that only read saved files never pay
 * for it.
 * @example const { cert, key } = await generateCertificate({ sans: ["localhost", "127.0.0.1"] });
 */
export async function generateCertificate(options: GenerateOptions = {}): Promise<PemPair> {
  const { commonName = "netlab", sans = DEFAULT_SANS, validDays = GENERATE_DEFAULTS.validDays } = options;
  requirePositiveInt("validDays", validDays);
  for (const san of sans) checkSan(san);
  const x509 = await loadX509();
  const subtle = webcrypto.subtle;
  const keys = await subtle.generateKey(CERT_ALGORITHM, true, ["sign", "verify"]);

  const signer = options.issuer
    ? {
        name: new x509.X509Certificate(options.issuer.cert).subject,
        key: await subtle.importKey("pkcs8", pemBody(options.issuer.key), CERT_ALGORITHM, false, ["sign"]),
        publicKey: new x509.X509Certificate(options.issuer.cert).publicKey,
      }
    : undefined;
  const now = Date.now();
  const extensions: InstanceType<X509Module["Extension"]>[] = [
    new x509.BasicConstraintsExtension(options.isCa === true, undefined, true),
    new x509.KeyUsagesExtension(
      options.isCa
        ? x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign
        : x509.KeyUsageFlags.digitalSignature,
      true,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (!options.isCa) {
    extensions.push(new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]));
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        sans.map((san) => ({ type: isIP(san) === 0 ? "dns" : "ip", value: san })),
      ),
    );
  }
  if (signer) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(signer.publicKey));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${commonName.replace(/[,+="\\<>;#]/g, "")}`,
    issuer: signer?.name ?? `CN=${commonName.replace(/[,+="\\<>;#]/g, "")}`,
    notBefore: new Date(now - 3_600_000),
    notAfter: new Date(now + validDays * 86_400_000),
    signingAlgorithm: CERT_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: signer?.key ?? keys.privateKey,
    extensions,
  });
  const pkcs8 = Buffer.from(await subtle.exportKey("pkcs8", keys.privateKey));
  return { cert: cert.toString("pem"), key: toPem("PRIVATE KEY", pkcs8) };
}

type X509Module = typeof import("@peculiar/x509");
let x509Module: Promise<X509Module> | undefined;

/** `@peculiar/x509`, set to Node's WebCrypto; its DI container needs the Reflect metadata polyfill first. */
function loadX509(): Promise<X509Module> {
  x509Module ??= (async () => {
    await import("reflect-metadata");
    const x509 = await import("@peculiar/x509");
    // Its type is the DOM's Crypto, which this Node-only build does not load; Node's webcrypto is one.
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return x509Module;
}

/** 16 random bytes with the top bit clear: a positive serial, unique without bookkeeping. */
function randomSerial(): string {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  return serial.toString("hex");
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, ""), "base64");
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
