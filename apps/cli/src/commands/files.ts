import { TLS_PLAINTEXT_REPLY } from "@netlab/core/sniff";
import type { ServerTransfer, ServerTransferError } from "@netlab/transfer";
import { type Command, Option } from "commander";
import {
  ADDRESS_HELP,
  addFamilyOptions,
  exposureWarning,
  formatBound,
  listenAddress,
  refuseTlsOverUnix,
} from "../address.js";
import { addLogOptions, createLogger, type LogOpts, logConnections } from "../log.js";
import { formatDuration, parseDuration, parseNumber, requireFileName } from "../options.js";
import { action, UsageError } from "../run.js";
import { onInterrupt } from "../signals.js";
import { addServerTlsOptions, type ServerTlsFlags, serverTls } from "../tls-options.js";
import { addServerTokenOptions, serverTokens, type TokenOpts } from "../token.js";

interface FilesOpts extends TokenOpts, ServerTlsFlags, LogOpts {
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  maxSize: string;
  readOnly?: boolean;
  raw?: string;
  fsync: boolean;
  dotfiles?: boolean;
  maxDepth: string;
  maxClients: string;
  idleTimeout: string;
  headerTimeout: string;
}

/** `lab files [DIR]`: serve a folder for `lab transfer` (or one file, raw, for nc). */
export function registerFiles(program: Command): void {
  const cmd = program
    .command("files")
    .description("serve a folder for lab transfer: verified, resumable uploads into it and downloads from it")
    .argument("[dir]", "the folder to serve", ".")
    .option(
      "--host <host>",
      "address to bind (0.0.0.0 or :: to accept other machines; unix:/path or @name for a Unix socket)",
      "127.0.0.1",
    )
    .option("-p, --port <port>", "port to listen on (0 = any free port)", "5002");
  addFamilyOptions(cmd, "listen")
    .option("--max-size <bytes>", "largest upload accepted, e.g. 500M, 10G, 1.5GiB, 2GB", "64G")
    .option("--read-only", "refuse uploads; serve downloads and listings only")
    .option("--no-fsync", "do not fsync uploads before renaming them (faster; a crash may lose recent files)")
    .option("--dotfiles", "also serve names starting with '.' (hidden by default: .env, .git/, ...)")
    .option("--max-depth <n>", "most path segments in a name (a/b/c.txt has 3)", "64")
    // python -m http.server's spelling (and a common guess): the folder is the argument here.
    .addOption(new Option("--directory <dir>").hideHelp())
    .addOption(new Option("--dir <dir>").hideHelp())
    .option(
      "--max-clients <n>",
      "connections served at once; the next gets one 'server full' line",
      String(FILES_DEFAULTS.maxClients),
    )
    .option(
      "--idle-timeout <time>",
      "close a connection where no byte moves either way for this long",
      formatDuration(FILES_DEFAULTS.idleTimeoutSeconds * 1000),
    )
    .option(
      "--header-timeout <time>",
      "close a connection whose request header takes longer than this to arrive (slowloris)",
      formatDuration(FILES_DEFAULTS.headerTimeoutSeconds * 1000),
    )
    .option(
      "--raw <file>",
      "instead: send FILE to each client that connects, then close (for nc and classic scripts)",
    );
  addServerTokenOptions(cmd, "TOKEN:rw may upload, TOKEN:ro only list and download");
  addServerTlsOptions(cmd);
  addLogOptions(cmd, "a line per connection and disconnect (peer, bytes, duration, why it closed)");
  cmd
    .addHelpText(
      "after",
      `
Examples:
  lab files ./shared                    serve ./shared on 127.0.0.1:5002
  lab files . --read-only --port 6000   downloads only
  lab files --max-size 10G              uploads up to 10 GiB
  lab files --raw test.txt --port 6001  then: nc -d 127.0.0.1 6001 > copy.txt
  lab files . --token-file tokens.txt --allow-plaintext-auth   clients need a token from tokens.txt
  lab files ./shared --tls              TLS; then: lab transfer --tls FILE
  lab files . --host unix:/tmp/files.sock   then: lab transfer --host unix:/tmp/files.sock --list

${ADDRESS_HELP}

Sizes: a number of bytes, or with a suffix: K, M, G, T (and KiB, MiB, GiB, TiB) are powers of 1024;
KB, MB, GB, TB are powers of 1000 (as in dd).
Uploads land as NAME.part, are checked against the sender's SHA-256, fsynced, then renamed into
place; names must stay inside the folder (on Linux every name is opened step by step from the
folder's own descriptor, so even a local user renaming folders into symlinks cannot lead a request
outside). Names starting with '.' are hidden unless --dotfiles. Logs go to stderr: 'serving DIR on
HOST:PORT' once ready, then one line per file; each line is 'UTC-TIME LEVEL MESSAGE' (-v, -q and
--log-format as lab server's; docs/logging.md). Ctrl-C or SIGTERM stops it within a second (exit 0);
partial uploads stay as NAME.part, to resume. With --tls it logs 'TLS identity SHA256:…' after the
ready line (see lab server --help for the certificate).`,
    )
    .action(
      action(async (dir: string, opts: FilesOpts & { directory?: string; dir?: string }) => {
        const named = opts.directory ?? opts.dir;
        if (named !== undefined && dir !== ".") {
          throw new UsageError(
            `two folders to serve: ${dir} and ${named}: give the folder once, as the argument`,
          );
        }
        return runFiles(named ?? dir, opts);
      }),
    );
}

/** Defaults of `lab files`' limits (those of FileServer, in the units the flags use). */
export const FILES_DEFAULTS = { maxClients: 256, idleTimeoutSeconds: 300, headerTimeoutSeconds: 10 } as const;

async function runFiles(dir: string, opts: FilesOpts): Promise<void> {
  const log = createLogger(opts);
  const where = listenAddress(opts);
  refuseTlsOverUnix(where, opts);
  const maxConnections = parseNumber("--max-clients", opts.maxClients, {
    min: 1,
    max: 1_000_000,
    integer: true,
  });
  const maxDepth = parseNumber("--max-depth", opts.maxDepth, { min: 1, max: 1024, integer: true });
  const seconds = (flag: string, text: string) =>
    parseDuration(flag, text, { minMs: 1, maxMs: 86_400_000 * 365 });
  const idleTimeoutMs = seconds("--idle-timeout", opts.idleTimeout);
  const headerTimeoutMs = seconds("--header-timeout", opts.headerTimeout);
  const t = await import("@netlab/transfer");
  const maxSizeBytes = t.parseSize(opts.maxSize);
  if (maxSizeBytes === undefined) {
    throw new UsageError(
      `--max-size must be a size such as 500M, 10G or 1048576, got ${JSON.stringify(opts.maxSize)}`,
      "suffixes: K, M, G, T (powers of 1024), KB, MB, GB, TB (powers of 1000)",
    );
  }
  const stream = { releaseMemory: await minorGc(), fsync: opts.fsync };
  requireFileName("--raw", opts.raw, "give the file to send to each client");
  if (opts.raw === "-") {
    throw new UsageError(
      "--raw - would send stdin, which can be read only once, and each client gets the whole file",
      "save it to a file first (cat > FILE), then --raw FILE",
    );
  }
  if (opts.tls && opts.raw !== undefined) {
    throw new UsageError("--raw serves plain nc clients: it has no --tls", "drop --tls, or --raw");
  }
  if (opts.raw !== undefined && opts.tokenFile !== undefined) {
    throw new UsageError("--token-file does not work with --raw", "a raw client (nc) cannot send a token");
  }
  // Only reached when nobody listens to `error`; logConnections does, so this is a safety net.
  const serverLog = (line: string) => log.error(line);
  const tlsSetup = await serverTls(
    opts,
    `${TLS_PLAINTEXT_REPLY}; try: lab transfer --tls --port ${where.port === 0 ? "PORT" : where.port} …\n`,
  );
  const { tokens, authDelayMs } = await serverTokens(opts);
  let server: import("@netlab/socketserver").TCPServer;
  let what: string;
  if (opts.raw !== undefined) {
    if (dir !== ".") throw new UsageError("--raw FILE serves one file: drop the folder argument");
    // Its clients send nothing while the file flows, so the bytes-in idle timeout does not apply.
    const raw = new t.RawFileServer({ file: opts.raw, ...where, maxConnections, stream, log: serverLog });
    raw.on("sent", (s: import("@netlab/transfer").RawSent) =>
      log.info(
        `sent ${opts.raw} (${t.formatBytes(s.bytes)}, sha256 ${s.sha256.slice(0, 16)}…) to ${s.peer}`,
        {
          event: "sent",
          name: opts.raw,
          bytes: s.bytes,
          sha256: s.sha256,
          peer: s.peer,
        },
      ),
    );
    server = raw;
    what = `${opts.raw} (raw)`;
  } else {
    const files = new t.FileServer({
      root: dir,
      ...where,
      maxSizeBytes,
      readOnly: opts.readOnly ?? false,
      dotfiles: opts.dotfiles ?? false,
      maxDepth,
      maxConnections,
      idleTimeoutMs,
      headerTimeoutMs,
      stream,
      tls: tlsSetup?.tls,
      write: await faultInjection(t),
      log: serverLog,
      tokens,
      authBackoff: { authDelayMs },
      allowPlaintextAuth: opts.allowPlaintextAuth ?? false,
    });
    files.on("transfer", (e: ServerTransfer) => {
      const verb = e.op === "put" ? "received" : "sent";
      const dirn = e.op === "put" ? "from" : "to";
      const resumed = e.offset > 0 ? `, resumed at ${t.formatBytes(e.offset)}` : "";
      const sha = e.sha256 ? `, sha256 ${e.sha256.slice(0, 16)}…` : ", unverified";
      log.info(
        `${verb} ${e.name} (${t.formatBytes(e.size)}${resumed}${sha}) ${dirn} ${e.peer} in ${e.seconds.toFixed(2)} s`,
        {
          event: e.op === "put" ? "received" : "sent",
          name: e.name,
          bytes: e.size,
          offset: e.offset,
          sha256: e.sha256,
          peer: e.peer,
          durationMs: Math.round(e.seconds * 1000),
        },
      );
    });
    files.on("transferError", (e: ServerTransferError) => {
      const op =
        e.op === "put"
          ? "upload of"
          : e.op === "get"
            ? "download of"
            : e.op === "?"
              ? "request"
              : `${e.op} request`;
      // A peer's mistake or departure is a warning; the server's own failure (disk full, I/O) an error.
      // "Already exists" is how every re-run of a transfer starts (the client then asks whether it is
      // the same file), so it is news, not a warning.
      const level =
        e.error.code === "NO_SPACE" || e.error.code === "IO_ERROR"
          ? "error"
          : e.error.code === "ALREADY_EXISTS"
            ? "info"
            : "warn";
      log.log(
        level,
        `${e.error.code === "CONNECTION_LOST" ? "lost" : "refused"} ${op}${e.name === undefined ? "" : ` ${e.name}`} from ${e.peer}: ${e.error.message}`,
        { event: "transferError", op: e.op, name: e.name, peer: e.peer, code: e.error.code },
      );
    });
    server = files;
    what = dir;
    if (tokens !== undefined) {
      const ro = tokens.grants().filter((g) => g.access === "ro").length;
      log.info(`tokens: ${tokens.size} required (${tokens.size - ro} rw, ${ro} ro)`);
    }
  }
  // One line per file is this server's access log; connections are detail, for -v.
  logConnections(server, log, "debug");
  await server.listen();
  const stopSignals = onInterrupt(
    () => {
      log.info(
        opts.raw === undefined
          ? "shutting down (partial uploads stay as NAME.part, to resume)"
          : "shutting down",
      );
      void server.shutdown();
    },
    { onAgain: (signal) => log.warn(`${signal} again: exiting without waiting`) },
  );
  // Only now say we are ready: a test (or script) may send SIGINT the moment it reads this line.
  log.ready(`serving ${what} on ${formatBound(server.address)}`, {
    event: "listening",
    address: formatBound(server.address),
  });
  for (const line of tlsSetup?.lines ?? []) log.ready(line);
  const bound = { ...where, host: server.address.host };
  // --raw takes no token (nc sends none): whoever connects is sent the file.
  const exposed =
    opts.raw !== undefined
      ? exposureWarning(bound, `download ${opts.raw}`, "")
      : tokens === undefined
        ? exposureWarning(
            bound,
            opts.readOnly ? "list and download files" : "list, download and upload files",
          )
        : undefined;
  if (exposed) log.warn(exposed, { event: "exposed" });
  try {
    await server.serveForever();
  } finally {
    stopSignals();
  }
  log.info("stopped");
}

/**
 * Test hook: NETLAB_TRANSFER_FAULT=enospc@BYTES makes writes past BYTES of any upload fail with
 * ENOSPC, so the disk-full path (message, `.part` removed) can be tested without filling a disk.
 */
async function faultInjection(t: typeof import("@netlab/transfer")) {
  const spec = process.env.NETLAB_TRANSFER_FAULT;
  const m = spec ? /^enospc@(\d+)$/.exec(spec) : null;
  if (!m) return undefined;
  const limit = Number(m[1]);
  return async (fh: import("node:fs/promises").FileHandle, buffers: Uint8Array[], position: number) => {
    const size = buffers.reduce((n, b) => n + b.length, 0);
    if (position + size > limit)
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    await t.writeAll(fh, buffers, position);
  };
}

/**
 * A minor GC every few MiB received. Each socket read allocates a fresh buffer; left alone, V8
 * lets ~64 MiB of them pile up before collecting, which is most of a transfer's peak RSS.
 */
export async function minorGc(): Promise<(() => void) | undefined> {
  try {
    const v8 = await import("node:v8");
    const vm = await import("node:vm");
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as (opts?: { type: "minor" | "major" }) => void;
    return () => gc({ type: "minor" });
  } catch {
    return undefined;
  }
}
