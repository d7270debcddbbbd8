import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { isNetlabError, lockFile, makeDirectory, replaceFileAtomically } from "@netlab/core";
import { requireMs, requirePositiveInt, TlsError } from "./errors.js";
import { defaultKnownHostsFile } from "./paths.js";

/** Limits of the known-hosts store. */
export const KNOWN_HOSTS_DEFAULTS = {
  /** The largest known-hosts file read or written, in bytes (about 10,000 entries). */
  maxBytes: 1024 * 1024,
  /** How long to wait for another process's lock on the file before giving up, in ms. */
  lockTimeoutMs: 2_000,
  /** A lock older than this, in ms, was left by a process that died, and is taken over. */
  staleLockMs: 10_000,
} as const;

/** Options of {@link readKnownHosts} and {@link trustOnFirstUse}. */
export interface KnownHostsOptions {
  /** The known-hosts file; default `$XDG_CONFIG_HOME/netlab/known_hosts`. */
  file?: string;
  /** Default {@link KNOWN_HOSTS_DEFAULTS}.maxBytes. */
  maxBytes?: number;
  /** Default {@link KNOWN_HOSTS_DEFAULTS}.lockTimeoutMs. */
  lockTimeoutMs?: number;
  /** Default {@link KNOWN_HOSTS_DEFAULTS}.staleLockMs. */
  staleLockMs?: number;
}

/** One `host:port fingerprint` line. */
export interface KnownHost {
  /** `host:port`, as {@link hostKey} writes it. */
  host: string;
  /** `SHA256:…`. */
  fingerprint: string;
  /** 1-based line number in the file. */
  line: number;
}

/** A line that is not `host:port SHA256:…`; reported, then skipped (and kept when the file is rewritten). */
export interface KnownHostsProblem {
  /** 1-based line number. */
  line: number;
  /** What is wrong with it; never the line's own text, which may hold anything. */
  reason: string;
}

/** A known-hosts file as read. */
export interface KnownHosts {
  file: string;
  entries: KnownHost[];
  problems: KnownHostsProblem[];
  /** The file's text, kept so that adding a line rewrites everything else byte for byte. */
  text: string;
}

/** What {@link trustOnFirstUse} decided. */
export interface TofuResult {
  /** `stored`: first sight, the fingerprint was saved; `known`: it matches the stored one. */
  status: "stored" | "known";
  file: string;
  /** The line that holds the fingerprint now. */
  line: number;
  /** Malformed lines seen in the file, for the caller to warn about. */
  problems: KnownHostsProblem[];
}

/** The IDENTITY_CHANGED error, carrying both fingerprints and the line to remove. */
export class IdentityChangedError extends TlsError {
  constructor(
    readonly host: string,
    readonly knownFingerprint: string,
    readonly presentedFingerprint: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(
      "IDENTITY_CHANGED",
      `the TLS identity of ${host} has changed: ${file} line ${line} has ${knownFingerprint}, ` +
        `the server now shows ${presentedFingerprint}. Someone may be intercepting this connection ` +
        `(a man-in-the-middle attack), or the server made a new certificate`,
      { hint: `if you expect the change, remove line ${line} of ${file} and connect again` },
    );
  }
}

/**
 * The key a host is stored under: `host:port`, the host lower-cased, an IPv6 address in brackets.
 * @example hostKey("::1", 5001) // "[::1]:5001"
 */
export function hostKey(host: string, port: number): string {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return `${name.includes(":") ? `[${name}]` : name}:${port}`;
}

const ENTRY = /^(\S+:\d{1,5}) (SHA256:[A-Za-z0-9+/]{43})$/;

/** Parses known-hosts text; blank lines and `#` comments are skipped, anything else odd is a problem. */
export function parseKnownHosts(text: string, file = ""): KnownHosts {
  const entries: KnownHost[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, index) => {
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    const match = ENTRY.exec(line.replace(/[ \t]+/g, " "));
    if (match) entries.push({ host: match[1]!, fingerprint: match[2]!, line: index + 1 });
    else problems.push({ line: index + 1, reason: "not `host:port SHA256:…`; skipped" });
  });
  return { file, entries, problems, text };
}

/** Reads the known-hosts file (a missing one is empty); BAD_KNOWN_HOSTS if it is not a usable file. */
export async function readKnownHosts(options: KnownHostsOptions = {}): Promise<KnownHosts> {
  const file = options.file ?? defaultKnownHostsFile();
  const maxBytes = options.maxBytes ?? KNOWN_HOSTS_DEFAULTS.maxBytes;
  requirePositiveInt("maxBytes", maxBytes);
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return parseKnownHosts("", file);
    throw badFile(file, `cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw badFile(file, "is not a regular file");
    if (info.size > maxBytes) throw badFile(file, `is ${info.size} bytes, over the ${maxBytes}-byte limit`);
    return parseKnownHosts(await handle.readFile("utf8"), file);
  } finally {
    await handle.close();
  }
}

/**
 * SSH's `accept-new`: an unknown `host:port` gets `fingerprint` stored and is accepted; a stored
 * equal fingerprint is accepted; a different one throws {@link IdentityChangedError}
 * (IDENTITY_CHANGED, exit 60). The file is written whole to a temporary file (mode 0600) and
 * renamed over the old one, under a lock file, so concurrent first connections neither corrupt
 * it nor lose each other's lines.
 * @example await trustOnFirstUse("localhost", 5001, fingerprint(peer.raw))
 */
export async function trustOnFirstUse(
  host: string,
  port: number,
  presented: string,
  options: KnownHostsOptions = {},
): Promise<TofuResult> {
  const key = hostKey(host, port);
  const file = options.file ?? defaultKnownHostsFile();
  const opts = { ...options, file };
  const seen = decide(await readKnownHosts(opts), key, presented);
  if (seen) return seen;

  await makeDirectory(dirname(file), 0o700);
  const unlock = await lock(file, options);
  try {
    const current = await readKnownHosts(opts); // another process may have added it meanwhile
    const raced = decide(current, key, presented);
    if (raced) return raced;
    const head = current.text === "" || current.text.endsWith("\n") ? current.text : `${current.text}\n`;
    const text = `${head}${key} ${presented}\n`;
    const maxBytes = options.maxBytes ?? KNOWN_HOSTS_DEFAULTS.maxBytes;
    if (Buffer.byteLength(text) > maxBytes) throw badFile(file, `would grow over the ${maxBytes}-byte limit`);
    await replaceFile(file, text);
    return { status: "stored", file, line: head.split("\n").length, problems: current.problems };
  } finally {
    await unlock();
  }
}

function decide(known: KnownHosts, key: string, presented: string): TofuResult | undefined {
  const mine = known.entries.filter((entry) => entry.host === key);
  const match = mine.find((entry) => entry.fingerprint === presented);
  if (match) return { status: "known", file: known.file, line: match.line, problems: known.problems };
  const old = mine[0];
  if (old) throw new IdentityChangedError(key, old.fingerprint, presented, known.file, old.line);
  return undefined;
}

async function replaceFile(file: string, text: string): Promise<void> {
  try {
    await replaceFileAtomically(file, text);
  } catch (err) {
    throw badFile(file, `cannot write it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  }
}

/** The known-hosts file's lock ({@link lockFile}), its failures said as the file's. */
async function lock(file: string, options: KnownHostsOptions): Promise<() => Promise<void>> {
  const timeoutMs = options.lockTimeoutMs ?? KNOWN_HOSTS_DEFAULTS.lockTimeoutMs;
  const staleMs = options.staleLockMs ?? KNOWN_HOSTS_DEFAULTS.staleLockMs;
  requireMs("lockTimeoutMs", timeoutMs);
  requireMs("staleLockMs", staleMs);
  return lockFile(file, { timeoutMs, staleMs }).catch((err) => {
    if (isNetlabError(err, "LOCK_TIMEOUT"))
      throw new TlsError("BAD_KNOWN_HOSTS", err.message, { hint: err.hint });
    throw badFile(file, `cannot lock it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, err);
  });
}

function badFile(file: string, what: string, cause?: unknown): TlsError {
  return new TlsError("BAD_KNOWN_HOSTS", `the known-hosts file ${file} ${what}`, {
    hint: `fix or remove ${file}; it holds one \`host:port SHA256:…\` line per trusted server`,
    cause,
  });
}
