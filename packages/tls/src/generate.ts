import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from "node:crypto";
import { isIP } from "node:net";
import * as der from "./der.js";
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
  /** Days the certificate is valid from now (it also starts one hour back, for clock skew: validity is validDays + 1 h). */
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
  /** The first valid moment; default one hour ago (clock skew). Tests use a past date for an expired certificate. */
  notBefore?: Date;
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
 * Written with Node's own crypto and a small DER encoder (der.ts): no certificate library to load,
 * so the first `lab server --tls` is ready a few ms after a plaintext one.
 * @example const { cert, key } = await generateCertificate({ sans: ["localhost", "127.0.0.1"] });
 */
export async function generateCertificate(options: GenerateOptions = {}): Promise<PemPair> {
  const { commonName = "netlab", sans = DEFAULT_SANS, validDays = GENERATE_DEFAULTS.validDays } = options;
  requirePositiveInt("validDays", validDays);
  for (const san of sans) checkSan(san);
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: CERT_ALGORITHM.namedCurve });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const subject = name(commonName);

  let issuerName = subject;
  let signingKey: KeyObject = privateKey;
  let authorityKeyId: Buffer | undefined;
  if (options.issuer) {
    const issuerCert = new X509Certificate(options.issuer.cert);
    issuerName = subjectOf(issuerCert.raw);
    signingKey = createPrivateKey(options.issuer.key);
    authorityKeyId = keyId(issuerCert.publicKey.export({ type: "spki", format: "der" }));
  }

  const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000);
  const notAfter = new Date(notBefore.getTime() + 3_600_000 + validDays * 86_400_000);
  const extensions = [
    extension(OID.basicConstraints, true, options.isCa ? der.sequence(der.booleanTrue()) : der.sequence()),
    // keyUsage bits, RFC 5280 §4.2.1.3: digitalSignature (0) for a server; keyCertSign (5), cRLSign (6) for a CA.
    extension(
      OID.keyUsage,
      true,
      options.isCa ? der.bitString(Buffer.from([0x06]), 1) : der.bitString(Buffer.from([0x80]), 7),
    ),
    extension(OID.subjectKeyIdentifier, false, der.octetString(keyId(spki))),
  ];
  if (!options.isCa) {
    extensions.push(extension(OID.extKeyUsage, false, der.sequence(der.oid(OID.serverAuth))));
    extensions.push(extension(OID.subjectAltName, false, der.sequence(...sans.map(generalName))));
  }
  if (authorityKeyId) {
    extensions.push(
      extension(OID.authorityKeyIdentifier, false, der.sequence(der.tlv(0x80, authorityKeyId))),
    );
  }
  const signatureAlgorithm = der.sequence(der.oid(OID.ecdsaWithSha256));
  const tbs = der.sequence(
    der.explicit(0, der.unsignedInteger(Buffer.from([2]))), // v3
    der.unsignedInteger(randomSerial()),
    signatureAlgorithm,
    issuerName,
    der.sequence(der.time(notBefore), der.time(notAfter)),
    subject,
    spki,
    der.explicit(3, der.sequence(...extensions)),
  );
  const signature = sign(CERT_ALGORITHM.hash.replace("-", "").toLowerCase(), tbs, {
    key: signingKey,
    dsaEncoding: "der",
  });
  const cert = der.sequence(tbs, signatureAlgorithm, der.bitString(signature));
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
  return { cert: toPem("CERTIFICATE", cert), key: toPem("PRIVATE KEY", pkcs8) };
}

/** Object identifiers used above (RFC 5280, RFC 5758). */
const OID = {
  commonName: "2.5.4.3",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  serverAuth: "1.3.6.1.5.5.7.3.1",
} as const;

/** A Name of one RDN, `CN=commonName`; characters that would need escaping in a DN string are dropped. */
function name(commonName: string): Buffer {
  const cn = commonName.replace(/[,+="\\<>;#]/g, "");
  return der.sequence(der.set(der.sequence(der.oid(OID.commonName), der.utf8String(cn))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return der.sequence(der.oid(id), ...(critical ? [der.booleanTrue()] : []), der.octetString(value));
}

/** A SAN entry: dNSName `[2]` or iPAddress `[7]` (4 or 16 bytes). */
function generalName(san: string): Buffer {
  const family = isIP(san);
  if (family === 0) return der.tlv(0x82, Buffer.from(san.toLowerCase(), "ascii"));
  return der.tlv(0x87, family === 4 ? Buffer.from(san.split(".").map(Number)) : ipv6Bytes(san));
}

/** The 16 bytes of an IPv6 address (`::1`, `fe80::1`, `::ffff:192.0.2.1`); isIP has checked it. */
function ipv6Bytes(address: string): Buffer {
  let text = address.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split(".").map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(g, i * 2);
  return out;
}

/** The key identifier of RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function keyId(spki: Buffer): Buffer {
  const [, bits] = der.children(der.children(spki)[0]!.contents);
  // A BIT STRING's first content byte counts unused bits (0 for a key).
  return createHash("sha1").update(bits!.contents.subarray(1)).digest();
}

/** The subject Name of a certificate, exactly as encoded: what a child's issuer must equal. */
function subjectOf(certDer: Buffer): Buffer {
  const [tbs] = der.children(der.children(certDer)[0]!.contents);
  const fields = der.children(tbs!.contents);
  // version [0] (present in v3), serial, signature, issuer, validity, subject.
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0;
  return fields[offset + 4]!.whole;
}

/** 16 random bytes, the top bits 01: a positive serial of full length, unique without bookkeeping. */
function randomSerial(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x3f) | 0x40;
  return serial;
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
