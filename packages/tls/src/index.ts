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
export {
  hostKey,
  IdentityChangedError,
  KNOWN_HOSTS_DEFAULTS,
  type KnownHost,
  type KnownHosts,
  type KnownHostsOptions,
  type KnownHostsProblem,
  parseKnownHosts,
  readKnownHosts,
  type TofuResult,
  trustOnFirstUse,
} from "./known-hosts.js";
export { configDir, defaultKnownHostsFile } from "./paths.js";
export {
  type ClientTlsOptions,
  type ClientTrust,
  type ClientTrustOptions,
  CONNECT_DEFAULTS,
  type ConnectTlsOptions,
  clientTrust,
  connectTls,
  INSECURE_WARNING,
  type PeerCheck,
  type TrustMode,
} from "./trust.js";
