/** TLS for netlab: a server identity made on first use, fingerprints, trust on first use, pins, CA files. */
export { TlsError, type TlsErrorCode, tlsExitCode } from "./errors.js";
export {
  type CertificateInput,
  certificateDer,
  certificateDigest,
  fingerprint,
  formatFingerprint,
  parsePin,
  pinMatches,
} from "./fingerprint.js";
export {
  CERT_ALGORITHM,
  checkSan,
  DEFAULT_SANS,
  GENERATE_DEFAULTS,
  type GenerateOptions,
  generateCertificate,
  type PemPair,
} from "./generate.js";
export {
  IDENTITY_DEFAULTS,
  IDENTITY_SUBDIR,
  type Identity,
  type IdentityOptions,
  loadIdentity,
  loadOrCreateIdentity,
} from "./identity.js";
export { configDir, defaultKnownHostsFile } from "./paths.js";
