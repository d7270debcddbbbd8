// The --tls* flags shared by `lab server`, `lab files` (server side) and `lab client`, `lab transfer`
// (client side). @netlab/tls is imported only when --tls is given, so plaintext runs never load it.
import type { ClientTlsOptions } from "@netlab/tls";
import type { Command } from "commander";
import { parseDuration } from "./options.js";
import { UsageError } from "./run.js";

/** The server-side flags, as commander parses them. */
export interface ServerTlsFlags {
  tls?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tlsNewCert?: boolean;
  tlsSan?: string[];
  tlsHandshakeTimeout?: string;
}

/** The client-side flags, as commander parses them. */
export interface ClientTlsFlags {
  tls?: boolean;
  tlsPin?: string;
  tlsCa?: string;
  tlsInsecure?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds --tls, --tls-cert, --tls-key, --tls-new-cert, --tls-san to a server command. */
export function addServerTlsOptions(command: Command): Command {
  return command
    .option("--tls", "speak TLS; without --tls-cert, netlab's own certificate (made on first use) is used")
    .option("--tls-cert <file>", "with --tls: the certificate (PEM) to present instead of netlab's own")
    .option("--tls-key <file>", "with --tls-cert: its private key (PEM, unencrypted)")
    .option(
      "--tls-new-cert",
      "with --tls: make a new certificate and key (clients will see a changed identity)",
    )
    .option(
      "--tls-san <name>",
      "with --tls: another host name or IP the certificate names (repeatable)",
      collect,
    )
    .option(
      "--tls-handshake-timeout <time>",
      "with --tls: close a connection whose handshake is not done within this long (default: 10s)",
    );
}

/** Adds --tls, --tls-pin, --tls-ca, --tls-insecure to a client command. */
export function addClientTlsOptions(command: Command): Command {
  return command
    .option("--tls", "speak TLS; trust the server on first use (its fingerprint is stored in known_hosts)")
    .option("--tls-pin <sha256>", "with --tls: trust only the certificate with this SHA-256 fingerprint")
    .option("--tls-ca <file>", "with --tls: trust certificates signed by this CA (PEM) that name the host")
    .option("--tls-insecure", "with --tls: accept any certificate (warns on every connect)");
}

/** What a server needs: the options for `ServerOptions.tls`, and the lines to log once listening. */
export interface ServerTlsSetup {
  tls: import("@netlab/socketserver").ServerTlsOptions;
  /** `TLS identity SHA256:… (…)` and any warnings, for the log. */
  lines: string[];
}

/**
 * Loads (or on first use makes) the server's identity for --tls; undefined without --tls. A --tls-*
 * flag without --tls is a usage error, as is --tls-cert without --tls-key.
 */
export async function serverTls(
  flags: ServerTlsFlags,
  plaintextReply: string,
): Promise<ServerTlsSetup | undefined> {
  const given = [
    flags.tlsCert !== undefined && "--tls-cert",
    flags.tlsKey !== undefined && "--tls-key",
    flags.tlsNewCert && "--tls-new-cert",
    flags.tlsSan !== undefined && "--tls-san",
    flags.tlsHandshakeTimeout !== undefined && "--tls-handshake-timeout",
  ].filter(Boolean);
  if (!flags.tls) {
    if (given.length > 0) throw new UsageError(`${given[0]} needs --tls`, `add --tls`);
    return undefined;
  }
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new UsageError(
      flags.tlsCert === undefined ? "--tls-key needs --tls-cert" : "--tls-cert needs --tls-key",
      "give the certificate and its key together: --tls-cert FILE --tls-key FILE",
    );
  }
  if (flags.tlsCert !== undefined && (flags.tlsNewCert || flags.tlsSan)) {
    throw new UsageError(
      `${flags.tlsNewCert ? "--tls-new-cert" : "--tls-san"} is for netlab's own certificate, not --tls-cert`,
      "drop it, or drop --tls-cert/--tls-key",
    );
  }
  const handshakeTimeoutMs =
    flags.tlsHandshakeTimeout === undefined
      ? undefined
      : parseDuration("--tls-handshake-timeout", flags.tlsHandshakeTimeout, { minMs: 100, maxMs: 3_600_000 });
  const t = await import("@netlab/tls");
  const identity =
    flags.tlsCert !== undefined
      ? await t.loadIdentity(flags.tlsCert, flags.tlsKey!)
      : await t.loadOrCreateIdentity({ sans: flags.tlsSan, rotate: flags.tlsNewCert });
  const origin = identity.created ? `new, saved in ${identity.certFile}` : identity.certFile;
  return {
    tls: { cert: identity.cert, key: identity.key, plaintextReply, handshakeTimeoutMs },
    lines: [
      `TLS identity ${identity.fingerprint} (${origin})`,
      ...identity.warnings.map((w) => `warning: ${w}`),
    ],
  };
}

/**
 * The client's TLS options for --tls; undefined without it. Every connect tells the user what it
 * did (stderr): insecure mode warns each time, first use says where the fingerprint went.
 */
export async function clientTls(
  flags: ClientTlsFlags,
  log: (line: string) => void,
): Promise<ClientTlsOptions | undefined> {
  const given = [
    flags.tlsPin !== undefined && "--tls-pin",
    flags.tlsCa !== undefined && "--tls-ca",
    flags.tlsInsecure && "--tls-insecure",
  ].filter(Boolean);
  if (!flags.tls) {
    if (given.length > 0) throw new UsageError(`${given[0]} needs --tls`, "add --tls");
    return undefined;
  }
  if (given.length > 1) {
    throw new UsageError(
      `${given.join(" and ")} cannot be used together`,
      "choose one way to trust the server",
    );
  }
  const t = await import("@netlab/tls");
  let trust: import("@netlab/tls").ClientTrust;
  try {
    trust = await t.clientTrust({ pin: flags.tlsPin, caFile: flags.tlsCa, insecure: flags.tlsInsecure });
  } catch (err) {
    if (err instanceof t.TlsError && err.code === "INVALID_OPTION")
      throw new UsageError(err.message, err.hint);
    throw err;
  }
  const file = t.defaultKnownHostsFile();
  return {
    trust,
    onPeer(peer) {
      if (peer.warning) log(`warning: ${peer.warning}`);
      for (const p of peer.problems) log(`warning: ${file} line ${p.line}: ${p.reason} (line ignored)`);
      if (peer.stored) log(`tls: first connection to this server: stored ${peer.fingerprint} in ${file}`);
    },
  };
}
