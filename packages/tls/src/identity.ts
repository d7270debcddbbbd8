import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from "node:crypto";
import { mkdtemp, open, rename, rm, stat } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { makeDirectory } from "@netlab/core";
import { TlsError } from "./errors.js";
import { fingerprint } from "./fingerprint.js";
import { checkSan, DEFAULT_SANS, GENERATE_DEFAULTS, generateCertificate } from "./generate.js";
import { configDir } from "./paths.js";

/** A server's certificate and key, read and checked, ready for `tls.createServer({ cert, key })`. */
export interface Identity {
  /** The certificate, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** Where the certificate was read from or written to. */
  certFile: string;
  /** Where the key was read from or written to. */
  keyFile: string;
  /** `SHA256:…`, OpenSSH style: what the server prints on start and clients store. */
  fingerprint: string;
  /** The certificate's last valid moment. */
  notAfter: Date;
  /** Whether this call made the identity (first use or rotation) rather than reading it. */
  created: boolean;
  /** Things the caller should tell the user, such as a key file others can read. */
  warnings: string[];
}

/** Defaults of {@link loadOrCreateIdentity} and {@link loadIdentity}. */
export const IDENTITY_DEFAULTS = {
  /** The largest certificate or key file read, in bytes; a PEM pair is a few KiB. */
  maxPemBytes: 1024 * 1024,
  /** Days a generated certificate is valid. */
  validDays: GENERATE_DEFAULTS.validDays,
} as const;

/** Options of {@link loadOrCreateIdentity}. */
export interface IdentityOptions {
  /** The folder the identity lives in (as `identity/cert.pem` and `identity/key.pem`); default {@link configDir}. */
  dir?: string;
  /** Names the certificate carries besides localhost, 127.0.0.1 and ::1 (`--tls-san`). */
  sans?: readonly string[];
  /** Make a new key and certificate even if one exists (`--tls-new-cert`). */
  rotate?: boolean;
  /** Days a new certificate is valid; default {@link IDENTITY_DEFAULTS}.validDays. */
  validDays?: number;
}

/** The subfolder of `dir` holding the saved identity; it appears whole, by one rename. */
export const IDENTITY_SUBDIR = "identity";

/**
 * The server's own identity: on first use it makes an EC P-256 key and a self-signed SHA-256
 * certificate for localhost, 127.0.0.1, ::1 and `sans`, and saves them in `dir/identity/` (key
 * mode 0600 from creation on, folder 0700); later calls read them back. `rotate` replaces them.
 * Two processes starting at once end up with the same identity: the folder is built aside and
 * renamed into place, and the loser of that rename reads the winner's.
 * @example const id = await loadOrCreateIdentity({ sans: ["lab.local"] }); tls.createServer(id)
 */
export async function loadOrCreateIdentity(options: IdentityOptions = {}): Promise<Identity> {
  const dir = options.dir ?? configDir();
  const sans = [...DEFAULT_SANS, ...(options.sans ?? [])];
  for (const san of sans) checkSan(san);
  const home = join(dir, IDENTITY_SUBDIR);
  if (!options.rotate && (await exists(home))) return loadSaved(home, sans);

  await makeDirectory(dir, 0o700);
  const pair = await generateCertificate({
    sans,
    validDays: options.validDays ?? IDENTITY_DEFAULTS.validDays,
  });
  const staging = await mkdtemp(join(dir, ".identity-new-")); // mkdtemp makes it 0700
  try {
    await writeNew(join(staging, "key.pem"), pair.key, 0o600);
    await writeNew(join(staging, "cert.pem"), pair.cert, 0o644);
    if (options.rotate) await retire(dir, home);
    await rename(staging, home);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    // Another process put its identity in place first: use that one, so both serve the same.
    if (isCode(err, "ENOTEMPTY") || isCode(err, "EEXIST")) return loadSaved(home, sans);
    throw fileError(err, dir, "cannot save the TLS identity in");
  }
  const identity = await loadSaved(home, sans);
  return { ...identity, created: true };
}

/**
 * A certificate and key from the given files (`--tls-cert`, `--tls-key`), checked: both exist and
 * are PEM, the key is not encrypted, the key belongs to the certificate, and the certificate is
 * valid now. Each failure is BAD_CERT_FILE naming the file; a key file others can read is a warning.
 * @example const id = await loadIdentity("server.crt", "server.key");
 */
export async function loadIdentity(certFile: string, keyFile: string): Promise<Identity> {
  const certText = await readPem(certFile, "certificate");
  const keyText = await readPem(keyFile, "key");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certText);
  } catch (cause) {
    throw new TlsError("BAD_CERT_FILE", `${certFile} is not a PEM certificate`, {
      hint: "give a file that starts with -----BEGIN CERTIFICATE-----",
      cause,
    });
  }
  const key = parseKey(keyText, keyFile);
  if (!cert.checkPrivateKey(key)) {
    throw new TlsError(
      "BAD_CERT_FILE",
      `the key in ${keyFile} does not belong to the certificate in ${certFile}`,
      {
        hint: "give the key the certificate was made for (openssl x509 -noout -pubkey and openssl pkey -pubout match)",
      },
    );
  }
  const notAfter = new Date(cert.validTo);
  const now = Date.now();
  if (notAfter.getTime() < now) {
    throw new TlsError(
      "BAD_CERT_FILE",
      `the certificate in ${certFile} expired on ${notAfter.toISOString()}`,
      {
        hint: "renew it, or drop --tls-cert/--tls-key to use netlab's own",
      },
    );
  }
  if (new Date(cert.validFrom).getTime() > now) {
    throw new TlsError(
      "BAD_CERT_FILE",
      `the certificate in ${certFile} is not valid before ${cert.validFrom}`,
      {
        hint: "check this machine's clock",
      },
    );
  }
  const warnings: string[] = [];
  const keyMode = (await stat(keyFile)).mode & 0o777;
  if ((keyMode & 0o077) !== 0) {
    warnings.push(`${keyFile} can be read by other users (mode ${keyMode.toString(8)}); chmod 600 it`);
  }
  return {
    cert: certText,
    key: keyText,
    certFile,
    keyFile,
    fingerprint: fingerprint(cert.raw),
    notAfter,
    created: false,
    warnings,
  };
}

/** The saved identity in `home`, which must name every one of `sans`. */
async function loadSaved(home: string, sans: readonly string[]): Promise<Identity> {
  let identity: Identity;
  try {
    identity = await loadIdentity(join(home, "cert.pem"), join(home, "key.pem"));
  } catch (err) {
    if (!(err instanceof TlsError)) throw err;
    throw new TlsError(err.code, err.message, { hint: "make a new one with --tls-new-cert", cause: err });
  }
  const cert = new X509Certificate(identity.cert);
  const missing = sans.filter((san) =>
    isIP(san) === 0 ? cert.checkHost(san) === undefined : cert.checkIP(san) === undefined,
  );
  if (missing.length > 0) {
    throw new TlsError(
      "BAD_CERT_FILE",
      `the saved certificate in ${home} does not name ${missing.join(", ")}`,
      {
        hint: "add --tls-new-cert to make one that does (clients that stored the old one will see a changed identity)",
      },
    );
  }
  return identity;
}

/** Moves the current identity aside and removes it; a missing one is fine. */
async function retire(dir: string, home: string): Promise<void> {
  const old = join(dir, `.identity-old-${randomBytes(6).toString("hex")}`);
  try {
    await rename(home, old);
  } catch (err) {
    if (isCode(err, "ENOENT")) return;
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}

/** Creates `file` with O_EXCL and `mode` set at creation, so it is never readable by others. */
async function writeNew(file: string, text: string, mode: number): Promise<void> {
  const handle = await open(file, "wx", mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function readPem(file: string, what: "certificate" | "key"): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch (err) {
    throw fileError(err, file, `cannot read the ${what}`);
  }
  try {
    const { size, isFile } = await handle.stat().then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile)
      throw new TlsError("BAD_CERT_FILE", `${file} is not a file`, { hint: `give the ${what} file` });
    if (size > IDENTITY_DEFAULTS.maxPemBytes) {
      throw new TlsError("BAD_CERT_FILE", `${file} is ${size} bytes, too large for a PEM ${what}`, {
        hint: `give the ${what} file (a few KiB of PEM text)`,
      });
    }
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

function parseKey(text: string, keyFile: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (cause) {
    if (/ENCRYPTED/.test(text) || isCode(cause, "ERR_MISSING_PASSPHRASE")) {
      throw new TlsError("BAD_CERT_FILE", `the key in ${keyFile} is encrypted`, {
        hint: `netlab asks for no passphrase: decrypt it with openssl pkey -in ${keyFile} -out plain.key`,
        cause,
      });
    }
    throw new TlsError("BAD_CERT_FILE", `${keyFile} is not a PEM private key`, {
      hint: "give a file that starts with -----BEGIN PRIVATE KEY----- (or EC/RSA PRIVATE KEY)",
      cause,
    });
  }
}

function fileError(err: unknown, file: string, what: string): TlsError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(err);
  return new TlsError("BAD_CERT_FILE", `${what} ${file}: ${reason}`, {
    hint: code === "ENOENT" ? "check the path" : "check the file's permissions",
    cause: err,
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (isCode(err, "ENOENT")) return false;
    throw err;
  }
}

function isCode(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
