import { NetlabError, type NetlabErrorOptions, optionChecks } from "@netlab/core";

/** Codes the TLS package fails with. Callers branch on these, never on the message. */
export type TlsErrorCode =
  /** The handshake did not complete: the peer speaks plaintext, reset, timed out, or sent an alert (curl exit 35). */
  | "HANDSHAKE_FAILED"
  /** Trust on first use: the server's certificate is not the one stored for that host:port (exit 60). */
  | "IDENTITY_CHANGED"
  /** The server's certificate does not have the fingerprint given with `--tls-pin` (exit 60). */
  | "PIN_MISMATCH"
  /** CA mode: the chain does not lead to the given CA, is expired, or does not name the host (exit 60). */
  | "CERT_UNTRUSTED"
  /** A certificate or key file is missing, not PEM, encrypted, expired, or the key does not match the cert. */
  | "BAD_CERT_FILE"
  /** The known-hosts file cannot be used: too large, not a regular file, unreadable, or locked too long. */
  | "BAD_KNOWN_HOSTS"
  /** An option is out of range or malformed (a pin that is no SHA-256 fingerprint, a bad SAN). */
  | "INVALID_OPTION";

/**
 * A TLS failure said in one line, with a hint. The CLI maps {@link tlsExitCode} to its exit status.
 * @example throw new TlsError("PIN_MISMATCH", "server at localhost:5001 is SHA256:abc…, not the pinned SHA256:def…")
 */
export class TlsError extends NetlabError<TlsErrorCode> {
  /** The exit status a command ends with on this error: {@link tlsExitCode}. */
  get exitCode(): number {
    return tlsExitCode(this);
  }
}

/** Builds a TlsError; a short form for the many throw sites. */
export function tlsError(code: TlsErrorCode, message: string, options: NetlabErrorOptions = {}): TlsError {
  return new TlsError(code, message, options);
}

/**
 * The exit status a command ends with on `err`, as curl's: 35 for a failed handshake, 60 for a
 * certificate that is not trusted (changed identity, pin mismatch, untrusted chain), otherwise 1.
 * @example process.exitCode = tlsExitCode(err) // 60 after IDENTITY_CHANGED
 */
export function tlsExitCode(err: unknown): number {
  if (!(err instanceof TlsError)) return 1;
  switch (err.code) {
    case "HANDSHAKE_FAILED":
      return 35;
    case "IDENTITY_CHANGED":
    case "PIN_MISMATCH":
    case "CERT_UNTRUSTED":
      return 60;
    default:
      return 1;
  }
}

/** The option validators, throwing INVALID_OPTION as a TlsError. */
export const { requireInt, requireMs, requirePositiveInt } = optionChecks(TlsError);
