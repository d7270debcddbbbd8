import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isIP, connect as netConnect } from "node:net";
import { Duplex } from "node:stream";
import { type ConnectionOptions, connect, type PeerCertificate, type TLSSocket } from "node:tls";
import { requireMs, TlsError } from "./errors.js";
import { fingerprint, parsePin, pinMatches } from "./fingerprint.js";
import { type KnownHostsOptions, type KnownHostsProblem, trustOnFirstUse } from "./known-hosts.js";

/** How a client decides to trust a server. */
export type TrustMode =
  /** Trust on first use (default): the first fingerprint seen is stored, a later different one refused. */
  | "tofu"
  /** `--tls-pin`: the certificate must have this SHA-256 fingerprint. */
  | "pin"
  /** `--tls-ca`: the chain must lead to the given CA and the certificate must name the host. */
  | "ca"
  /** `--tls-insecure`: anything is accepted; the caller warns on every connect. */
  | "insecure";

/** Options of {@link clientTrust}; at most one of `pin`, `caFile`, `insecure`. */
export interface ClientTrustOptions {
  /** A SHA-256 fingerprint in any form {@link parsePin} takes. */
  pin?: string;
  /** A PEM file of one or more CA certificates. */
  caFile?: string;
  /** Accept any certificate. */
  insecure?: boolean;
  /** Where trust on first use keeps fingerprints, and its limits. */
  knownHosts?: KnownHostsOptions;
}

/** What a verified connection is known to be talking to. */
export interface PeerCheck {
  mode: TrustMode;
  /** The server certificate's `SHA256:…` fingerprint. */
  fingerprint: string;
  /** TOFU only: whether this connection stored the fingerprint (first use). */
  stored: boolean;
  /** Insecure mode: the warning the caller must print on every connect. */
  warning?: string;
  /** TOFU only: malformed known-hosts lines, for the caller to warn about. */
  problems: KnownHostsProblem[];
}

/** What `tls.connect` needs for a trust mode, and the check to run before any application byte. */
export interface ClientTrust {
  mode: TrustMode;
  /** Spread into `tls.connect` options. */
  connectOptions: Pick<ConnectionOptions, "rejectUnauthorized" | "ca" | "checkServerIdentity">;
  /**
   * Checks the server's certificate once `secureConnect` fired; throws IDENTITY_CHANGED,
   * PIN_MISMATCH or CERT_UNTRUSTED. The caller must not write before it resolves.
   */
  verify(socket: TLSSocket, host: string, port: number): Promise<PeerCheck>;
}

/** The warning insecure mode hands the caller for every connection. */
export const INSECURE_WARNING =
  "the server's TLS certificate is not checked (--tls-insecure): anyone on the path can read and change this connection";

/**
 * The settings and check for one trust mode. TOFU, pin and insecure accept self-signed
 * certificates at the handshake (`rejectUnauthorized: false`: Node skips `checkServerIdentity` when
 * the chain fails, so the fingerprint is checked after the handshake by `verify`, before the
 * caller sends anything); CA mode lets OpenSSL and Node check the chain and the host name.
 * Throws INVALID_OPTION for two modes at once or a malformed pin, BAD_CERT_FILE for a bad CA file.
 * @example const trust = await clientTrust({ pin: "SHA256:…" }); const { socket } = await connectTls({ host, port, trust });
 */
export async function clientTrust(options: ClientTrustOptions = {}): Promise<ClientTrust> {
  const chosen = [
    options.pin && "--tls-pin",
    options.caFile && "--tls-ca",
    options.insecure && "--tls-insecure",
  ];
  const given = chosen.filter(Boolean);
  if (given.length > 1) {
    throw new TlsError("INVALID_OPTION", `${given.join(" and ")} cannot be used together`, {
      hint: "choose one way to trust the server",
    });
  }
  const peerPrint = (socket: TLSSocket): string => fingerprint(peerCertificate(socket).raw);

  if (options.pin) {
    const pin = parsePin(options.pin);
    return {
      mode: "pin",
      connectOptions: { rejectUnauthorized: false },
      async verify(socket, host, port) {
        const cert = peerCertificate(socket);
        if (!pinMatches(pin, cert.raw)) {
          throw new TlsError(
            "PIN_MISMATCH",
            `the server at ${host}:${port} shows ${fingerprint(cert.raw)}, not the pinned one`,
            {
              hint: "check the fingerprint the server printed on start; if the server made a new certificate, pin the new one",
            },
          );
        }
        return { mode: "pin", fingerprint: fingerprint(cert.raw), stored: false, problems: [] };
      },
    };
  }
  if (options.caFile) {
    const ca = await readCa(options.caFile);
    return {
      mode: "ca",
      connectOptions: { rejectUnauthorized: true, ca },
      async verify(socket, host, port) {
        if (!socket.authorized) throw untrusted(host, port, socket.authorizationError);
        return { mode: "ca", fingerprint: peerPrint(socket), stored: false, problems: [] };
      },
    };
  }
  if (options.insecure) {
    return {
      mode: "insecure",
      connectOptions: { rejectUnauthorized: false },
      async verify(socket) {
        return {
          mode: "insecure",
          fingerprint: peerPrint(socket),
          stored: false,
          warning: INSECURE_WARNING,
          problems: [],
        };
      },
    };
  }
  return {
    mode: "tofu",
    connectOptions: { rejectUnauthorized: false },
    async verify(socket, host, port) {
      const presented = peerPrint(socket);
      const result = await trustOnFirstUse(host, port, presented, options.knownHosts);
      return {
        mode: "tofu",
        fingerprint: presented,
        stored: result.status === "stored",
        problems: result.problems,
      };
    },
  };
}

/** Defaults of {@link connectTls}. */
export const CONNECT_DEFAULTS = {
  /** The longest the TCP connect plus TLS handshake may take, in ms (Node's own default is 120 s). */
  handshakeTimeoutMs: 10_000,
} as const;

/** Options of {@link connectTls}. */
export interface ConnectTlsOptions {
  host: string;
  port: number;
  trust: ClientTrust;
  /** Default {@link CONNECT_DEFAULTS}.handshakeTimeoutMs. */
  handshakeTimeoutMs?: number;
  /** ALPN protocols to offer, such as `["netlab-chat/1"]`. */
  alpnProtocols?: string[];
  /**
   * Sees every chunk of TLS records as it crosses the TCP socket (ciphertext, handshake included),
   * for a wire view; the TLS layer then reads through a JS stream, which costs some speed.
   */
  tap?: (direction: "in" | "out", bytes: Uint8Array) => void;
}

/**
 * Connects, completes the handshake and runs the trust check, resolving only when the server is
 * trusted: until then nothing has been written, so a refused server saw zero application bytes.
 * A failed handshake is HANDSHAKE_FAILED (exit 35), a refused certificate IDENTITY_CHANGED,
 * PIN_MISMATCH or CERT_UNTRUSTED (exit 60); socket errors before TLS (ECONNREFUSED…) pass through.
 * @example const { socket, peer } = await connectTls({ host: "localhost", port, trust: await clientTrust() });
 */
export async function connectTls(
  options: ConnectTlsOptions,
): Promise<{ socket: TLSSocket; peer: PeerCheck }> {
  const { host, port, trust } = options;
  const timeoutMs = options.handshakeTimeoutMs ?? CONNECT_DEFAULTS.handshakeTimeoutMs;
  requireMs("handshakeTimeoutMs", timeoutMs);
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  const socket = connect({
    ...(options.tap ? { socket: tappedConnection(bare, port, options.tap) } : { host: bare, port }),
    // SNI carries names only (RFC 6066); Node warns when given an IP address.
    ...(isIP(bare) === 0 ? { servername: bare } : {}),
    ...(options.alpnProtocols ? { ALPNProtocols: options.alpnProtocols } : {}),
    ...trust.connectOptions,
  });
  try {
    await handshake(socket, host, port, timeoutMs);
    return { socket, peer: await trust.verify(socket, host, port) };
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function handshake(socket: TLSSocket, host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish();
      reject(
        new TlsError(
          "HANDSHAKE_FAILED",
          `no TLS handshake with ${host}:${port} in ${timeoutMs / 1000} s (handshake timeout)`,
          {
            // lab's commands give the handshake their --connect-timeout.
            hint: "the server may not speak TLS, or is overloaded; try without --tls, or raise --connect-timeout",
          },
        ),
      );
    }, timeoutMs);
    const onSecure = (): void => {
      finish();
      resolve();
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      finish();
      reject(handshakeError(err, host, port));
    };
    const onClose = (): void => {
      finish();
      reject(
        new TlsError("HANDSHAKE_FAILED", `${host}:${port} closed the connection during the TLS handshake`, {
          hint: "the server may not speak TLS: try without --tls",
        }),
      );
    };
    const finish = (): void => {
      clearTimeout(timer);
      socket.off("secureConnect", onSecure).off("error", onError).off("close", onClose);
    };
    socket.once("secureConnect", onSecure).once("error", onError).once("close", onClose);
  });
}

/** A TCP connection wrapped in a Duplex that shows `tap` each chunk both ways, for tls.connect({ socket }). */
function tappedConnection(host: string, port: number, tap: NonNullable<ConnectTlsOptions["tap"]>): Duplex {
  const raw = netConnect({ host, port, noDelay: true });
  const duplex = new Duplex({
    read() {
      raw.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      tap("out", chunk);
      raw.write(chunk, callback);
    },
    final(callback) {
      raw.end(callback);
    },
    destroy(err, callback) {
      raw.destroy();
      callback(err);
    },
  });
  raw.on("data", (chunk: Buffer) => {
    tap("in", chunk);
    if (!duplex.push(chunk)) raw.pause();
  });
  raw.on("end", () => duplex.push(null));
  raw.on("error", (err) => duplex.destroy(err));
  raw.on("close", () => duplex.destroy());
  return duplex;
}

/** Certificate verification codes OpenSSL and Node report for a chain or name that fails (exit 60). */
const UNTRUSTED = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ISSUER|ALTNAME|CHAIN/;

function handshakeError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const code = err.code ?? "";
  if (UNTRUSTED.test(code)) return untrusted(host, port, code, err);
  if (code === "ECONNRESET" || code.startsWith("ERR_SSL") || /ssl|tls/i.test(err.message)) {
    const plaintext = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|UNEXPECTED_EOF|HTTP_REQUEST/.test(code);
    // OpenSSL's own text leads with an address and a source path; its `reason` is the readable part.
    const reason = (err as { reason?: string }).reason ?? err.message;
    const message = plaintext
      ? `${host}:${port} does not speak TLS: the handshake failed (${reason})`
      : `TLS handshake with ${host}:${port} failed: ${reason}`;
    return new TlsError("HANDSHAKE_FAILED", message, {
      hint:
        plaintext || code === "ECONNRESET"
          ? "the server may not speak TLS: try without --tls"
          : "check that both sides speak TLS 1.2 or later",
      cause: err,
    });
  }
  return err;
}

function untrusted(host: string, port: number, reason: unknown, cause?: unknown): TlsError {
  const why = reason instanceof Error ? reason.message : String(reason ?? "unknown reason");
  return new TlsError("CERT_UNTRUSTED", `the certificate of ${host}:${port} is not trusted: ${why}`, {
    hint: "check --tls-ca names the CA that signed the server's certificate, and that the certificate names this host",
    cause,
  });
}

function peerCertificate(socket: TLSSocket): PeerCertificate {
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) {
    throw new TlsError("HANDSHAKE_FAILED", "the server sent no certificate", {
      hint: "the server must present a certificate (anonymous TLS is not supported)",
    });
  }
  return cert;
}

async function readCa(caFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(caFile, "utf8");
  } catch (err) {
    throw new TlsError(
      "BAD_CERT_FILE",
      `cannot read the CA file ${caFile}: ${(err as NodeJS.ErrnoException).code}`,
      {
        hint: "check the --tls-ca path",
        cause: err,
      },
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TlsError("BAD_CERT_FILE", `${caFile} holds no PEM certificate`, {
      hint: "give the CA certificate as PEM (-----BEGIN CERTIFICATE-----)",
    });
  }
  try {
    new X509Certificate(text);
  } catch (cause) {
    throw new TlsError("BAD_CERT_FILE", `${caFile} holds a certificate that does not parse`, {
      hint: "give the CA certificate as PEM (-----BEGIN CERTIFICATE-----)",
      cause,
    });
  }
  return text;
}

/** TLS for a client library (ChatClient, TransferClient): how to trust the server and who hears about it. */
export interface ClientTlsOptions {
  /** From {@link clientTrust}: trust on first use, a pin, a CA file, or insecure. */
  trust: ClientTrust;
  /** Default {@link CONNECT_DEFAULTS}.handshakeTimeoutMs. */
  handshakeTimeoutMs?: number;
  /**
   * Called after each verified handshake, before any application byte is sent: the place to print
   * `peer.warning` (insecure, on every connect), a first-use notice, and `peer.problems`.
   */
  onPeer?: (peer: PeerCheck) => void;
}
