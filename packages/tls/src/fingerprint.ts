import { createHash, timingSafeEqual, X509Certificate } from "node:crypto";
import { TlsError } from "./errors.js";

/** A certificate as DER bytes or PEM text (the first certificate in the text is used). */
export type CertificateInput = Uint8Array | string;

/** The DER bytes of `cert`; PEM is parsed with Node's own X.509 parser. */
export function certificateDer(cert: CertificateInput): Buffer {
  if (typeof cert !== "string") return Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength);
  try {
    return new X509Certificate(cert).raw;
  } catch (cause) {
    throw new TlsError("BAD_CERT_FILE", "not a PEM certificate", {
      hint: "give a file that starts with -----BEGIN CERTIFICATE-----",
      cause,
    });
  }
}

/** The SHA-256 digest of the certificate's DER bytes: what every fingerprint form here encodes. */
export function certificateDigest(cert: CertificateInput): Buffer {
  return createHash("sha256").update(certificateDer(cert)).digest();
}

/**
 * The certificate's fingerprint as OpenSSH prints a key's: `SHA256:` and the base64 of the SHA-256
 * of the DER bytes, without `=` padding.
 * @example fingerprint(pem) // "SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM"
 */
export function fingerprint(cert: CertificateInput): string {
  return formatFingerprint(certificateDigest(cert));
}

/** A 32-byte SHA-256 digest in the OpenSSH form `SHA256:<base64 without padding>`. */
export function formatFingerprint(digest: Uint8Array): string {
  return `SHA256:${Buffer.from(digest).toString("base64").replace(/=+$/, "")}`;
}

const HEX_PLAIN = /^[0-9a-f]{64}$/i;
const HEX_COLONS = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/i;
const BASE64 = /^[A-Za-z0-9+/]{43}=?$/;

/**
 * The 32-byte digest a `--tls-pin` value names. Accepted forms, after an optional `sha256:` prefix
 * (any case): 64 hex digits, 32 hex pairs joined by colons (as `openssl x509 -fingerprint -sha256`
 * prints them), both in any case, or the OpenSSH base64 form (43 characters, optional `=`; base64
 * is case-sensitive). Throws INVALID_OPTION for anything else.
 * @example parsePin("sha256:AB:CD:…") ; parsePin("SHA256:p2QAMXNIC1TJYWeIOttrVc98/R1BUFWu3/LiyKgUfQM")
 */
export function parsePin(pin: string): Buffer {
  const body = pin.trim().replace(/^sha256:/i, "");
  if (HEX_PLAIN.test(body) || HEX_COLONS.test(body)) return Buffer.from(body.replaceAll(":", ""), "hex");
  if (BASE64.test(body)) {
    const digest = Buffer.from(body, "base64");
    // Node's base64 decoder ignores stray bits; a pin must round-trip to be the one the user meant.
    if (digest.length === 32 && formatFingerprint(digest) === `SHA256:${body.replace(/=$/, "")}`) {
      return digest;
    }
  }
  throw new TlsError("INVALID_OPTION", `--tls-pin ${JSON.stringify(pin)} is not a SHA-256 fingerprint`, {
    hint: "give the server's fingerprint as printed on its start (SHA256:…), or as sha256: and 64 hex digits",
  });
}

/**
 * Whether `cert` has the fingerprint `pin` names (any form {@link parsePin} takes), compared in
 * constant time.
 * @example pinMatches("sha256:" + hex, peer.raw) // true
 */
export function pinMatches(pin: string | Uint8Array, cert: CertificateInput): boolean {
  const want = typeof pin === "string" ? parsePin(pin) : Buffer.from(pin);
  const got = certificateDigest(cert);
  return want.length === got.length && timingSafeEqual(want, got);
}
