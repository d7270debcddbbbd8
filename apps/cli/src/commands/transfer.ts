import { escapeControls } from "@netlab/core/terminal";
import type { TransferClient, TransferResult } from "@netlab/transfer";
import type { Command } from "commander";
import {
  ADDRESS_HELP,
  type AddressFlags,
  addFamilyOptions,
  addressArgs,
  type ConnectAddress,
  connectAddress,
  formatWhere,
  refuseTlsOverUnix,
} from "../address.js";
import { parseDuration, parseNumber, parseRateOption, requireFileName, speedLimits } from "../options.js";
import { action, ExitCode, reportError, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt } from "../signals.js";
import { addClientTlsOptions, type ClientTlsFlags, clientTls } from "../tls-options.js";
import { addClientTokenOptions, canPrompt, clientToken, promptToken, type TokenOpts } from "../token.js";
import { minorGc } from "./files.js";
import {
  type Batch,
  type BatchItem,
  baseName,
  describe,
  FOLDER_LIMITS,
  planUploads,
  resultJson,
  round,
  runBatch,
  type UploadPlan,
  uploadBatch,
} from "./transfer-folder.js";
import { alreadyThere, ProgressBar, resumeLine } from "./transfer-progress.js";

interface TransferOpts extends TokenOpts, ClientTlsFlags, AddressFlags {
  get?: boolean;
  list?: boolean;
  output?: string;
  name?: string;
  namePrefix?: string;
  host: string;
  port: string;
  ipv4?: boolean;
  ipv6?: boolean;
  resume?: boolean;
  overwrite?: boolean;
  verify: boolean;
  json?: boolean;
  raw?: boolean;
  limitRate?: string;
  maxSize?: string;
  connectTimeout: string;
  stallTimeout: string;
  headerTimeout: string;
  speedLimit: string;
  speedTime: string;
  fsync: boolean;
  maxFiles: string;
  maxDepth: string;
}

/** `lab transfer`: upload, download and list files on a `lab files` server. */
export function registerTransfer(program: Command): void {
  const cmd = program
    .command("transfer")
    .description("upload files to a lab files server, download (--get) or list (--list) them")
    .argument(
      "[files...]",
      "files or folders to upload (a folder: everything in it); with --get, names to download (NAME/: a folder)",
    )
    .option("--get", "download the named files (a name ending in / : every file under that folder)")
    .option(
      "-o, --output <path>",
      "with --get: where to write (for one folder NAME/: the folder to fill, default ./NAME; for several names: an existing folder)",
    )
    .option("--list", "list the server's files: size, modified, name")
    .option("--name <name>", "name on the server for a single upload (default: the file's base name)")
    .option("--name-prefix <prefix>", "put uploads under this folder on the server, e.g. in/")
    .option("--host <host>", "server address: a name, an IP, [::1], unix:/path or @name", "127.0.0.1")
    .option("-p, --port <port>", "server port", "5002");
  addFamilyOptions(cmd, "connect")
    .option(
      "--resume",
      "continue an interrupted transfer from its .part (checked by SHA-256 first); the default",
    )
    .option("--no-resume", "start over even when a .part (the server's, or ours for --get) matches")
    .option("--overwrite", "replace an existing file (atomically)")
    .option("--no-verify", "skip the SHA-256 check (faster on slow CPUs; not recommended)")
    .option("--no-fsync", "with --get: do not fsync before renaming (faster; a crash may lose the file)")
    .option("--limit-rate <rate>", "at most this many bytes per second, e.g. 500K, 20M or 1MiB/s")
    .option(
      "--max-size <bytes>",
      "with --get: refuse a file larger than this (--raw: stop receiving), e.g. 2G (default: the space free on the disk)",
    )
    .option("--connect-timeout <time>", "give up connecting after this long", "10s")
    .option(
      "--stall-timeout <time>",
      "give up when no byte moves either way for this long while waiting on the server",
      "30s",
    )
    .option(
      "--header-timeout <time>",
      "give up when the server has sent part of a header and not the rest for this long (a trickle)",
      "30s",
    )
    .option(
      "--speed-limit <rate>",
      "give up when file data moves slower than this on average over --speed-time (a trickling server), e.g. 10K; 0 = no limit",
      "1KiB/s",
    )
    .option("--speed-time <time>", "the time --speed-limit is averaged over (as curl's)", "60s")
    .option(
      "--max-files <n>",
      "a folder send holding more entries (files, folders, things skipped), or a folder fetch listing more files, is refused before anything moves",
      String(FOLDER_LIMITS.maxFiles),
    )
    .option(
      "--max-depth <n>",
      "a folder send or fetch nesting more folders deep than this is refused before anything moves",
      String(FOLDER_LIMITS.maxDepth),
    )
    .option("--json", "print a JSON summary on stdout (name, bytes, sha256, seconds, mbps)")
    .option(
      "--raw",
      "with --get: send a greeting line, save everything until the server closes (nc, lab files --raw)",
    );
  addClientTokenOptions(cmd);
  addClientTlsOptions(cmd);
  cmd
    .addHelpText(
      "after",
      `
Examples:
  lab transfer test.txt                         upload to 127.0.0.1:5002
  lab transfer a.bin b.bin --name-prefix in/    several files, into in/ on the server
  lab transfer photos/                          a folder, recursively, as photos/... on the server
  lab transfer --get test.txt -o recv.txt       download
  lab transfer --get photos/                    a folder from the server, recursively, into ./photos
  lab transfer --list                           what the server has
  lab transfer --get big.iso                    run again after an interruption: goes on from big.iso.part
  lab transfer --get --raw --port 6001 -o out   from lab files --raw, or nc -N -l 6001 < file
  lab transfer --tls test.txt                   over TLS to lab files --tls (trust on first use)
  lab transfer --host unix:/tmp/files.sock --list   a lab files on a Unix socket

${ADDRESS_HELP}

A server started with --token-file wants a token: from --token-file FILE, else $LAB_TOKEN, else
(on a terminal) a prompt that does not echo. Never on the command line.

Every file is checked by SHA-256 on arrival and only then appears under its name (NAME.part until
then). A transfer run again goes on from the .part (the server's for an upload, the local one for
--get) when its SHA-256 prefix matches (one line says so; a partial that does not match is
replaced; --no-resume always starts over), and a file the other side already has, byte for byte, is
not sent again. A folder sends its regular files; symlinks, FIFOs, sockets and devices are skipped
and empty folders are not created (each listed in the summary). A folder fetch (--get NAME/) checks
the server's listing first (no '..', absolute or odd names, within --max-files and --max-depth) and
never writes outside its folder nor through a symlink found there. With a folder or several files,
a file that fails is named and the rest still go, and one summary ends the run. On a terminal a
progress bar per file goes to stderr; piped, one summary line. Exit 0 when every file arrived, 1 on
a failure (the message says how to resume), 2 for a usage error, 130 when interrupted by Ctrl-C or
SIGTERM (the .part is kept); with --tls, 35 when the handshake fails, 60 when the server's
certificate is not trusted (nothing was sent to it).`,
    )
    .action(action(async (files: string[], opts: TransferOpts) => runTransfer(files, opts)));
}

async function runTransfer(files: string[], opts: TransferOpts): Promise<void> {
  requireFileName(
    "-o",
    opts.output,
    "give a file or a folder, or leave -o out to save it here under its name",
  );
  const where = connectAddress(opts);
  refuseTlsOverUnix(where, opts);
  if (opts.list && (opts.get || files.length > 0)) throw new UsageError("--list takes no files and no --get");
  if (opts.raw && !opts.get)
    throw new UsageError("--raw works with --get only", "e.g. lab transfer --get --raw -o out.bin");
  if (opts.raw && (files.length > 0 || opts.resume)) {
    throw new UsageError(
      "--get --raw takes no names and cannot --resume",
      "e.g. lab transfer --get --raw -o out.bin",
    );
  }
  if (opts.raw && opts.output === undefined) throw new UsageError("--get --raw needs -o OUT");
  // curl and nc users read `-o -` as stdout; a download must not turn into a file named "-".
  if (opts.output === "-") {
    throw new UsageError(
      "-o - (stdout) is not supported: a download appears only once its SHA-256 matched",
      "save it, then print it: -o FILE && cat FILE (or -o ./- for a file named -)",
    );
  }
  if (!opts.list && !opts.raw && files.length === 0) {
    throw new UsageError(
      opts.get ? "name the files to download" : "name the files to upload",
      opts.get ? "e.g. lab transfer --get test.txt" : "e.g. lab transfer test.txt",
    );
  }
  if (opts.name !== undefined && (opts.get || files.length !== 1)) {
    throw new UsageError("--name is for a single upload", "use --name-prefix for several files");
  }
  if (opts.output !== undefined && !opts.get) throw new UsageError("-o is for downloads (--get)");
  const isFetchBatch = opts.get === true && !opts.raw && (files.length > 1 || files.some(isFolderName));
  if (isFetchBatch && files.length > 1 && opts.output !== undefined && !opts.output.endsWith("/")) {
    const { stat } = await import("node:fs/promises");
    const isDir = await stat(opts.output).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new UsageError(
        "-o must be an existing folder when downloading several names",
        `e.g. -o ./downloads/`,
      );
  }

  const t = await import("@netlab/transfer");
  const rate = opts.limitRate === undefined ? undefined : parseRateOption("--limit-rate", opts.limitRate);
  const maxSizeBytes = opts.maxSize === undefined ? undefined : t.parseSize(opts.maxSize);
  if (opts.maxSize !== undefined && maxSizeBytes === undefined) {
    throw new UsageError(`--max-size must be a size such as 500M or 2G, got ${JSON.stringify(opts.maxSize)}`);
  }
  if (opts.maxSize !== undefined && !opts.get) throw new UsageError("--max-size is for downloads (--get)");
  const maxFiles = parseNumber("--max-files", opts.maxFiles, { min: 1, max: 100_000_000, integer: true });
  const maxDepth = parseNumber("--max-depth", opts.maxDepth, { min: 1, max: 1024, integer: true });
  // Folders are walked before connecting: a folder over the limits sends nothing.
  const plan =
    opts.list || opts.get || opts.raw
      ? undefined
      : await planUploads(t, files, { ...opts, maxFiles, maxDepth });
  if (opts.raw && opts.tls) throw new UsageError("--raw talks to plain nc servers: it has no --tls");
  const tls = await clientTls(opts, (line) => process.stderr.write(`${escapeControls(line)}\n`));
  const connectTimeoutMs = seconds("--connect-timeout", opts.connectTimeout);
  const stallTimeoutMs = seconds("--stall-timeout", opts.stallTimeout);
  const headerTimeoutMs = seconds("--header-timeout", opts.headerTimeout);
  const { minBytesPerSecond, lowSpeedTimeMs } = speedLimits(opts.speedLimit, opts.speedTime);
  let token = await clientToken(opts);
  // Ctrl-C or SIGTERM cuts the connection at once (a download keeps its .part); a second exits.
  const controller = new AbortController();
  const stopSignals = onInterrupt(() => controller.abort());
  try {
    if (opts.raw) {
      const limits = {
        rate,
        connectTimeoutMs,
        stallTimeoutMs,
        minBytesPerSecond,
        lowSpeedTimeMs,
        maxSizeBytes,
      };
      return await runRaw(t, opts, where, limits, controller.signal);
    }
    const releaseMemory = await minorGc();
    const connect = () =>
      t.TransferClient.connect({
        ...where,
        signal: controller.signal,
        connectTimeoutMs,
        stallTimeoutMs,
        headerTimeoutMs,
        minBytesPerSecond,
        lowSpeedTimeMs,
        token,
        tls,
        stream: { releaseMemory, rateBytesPerSecond: rate, fsync: opts.fsync },
      });
    for (let attempt = 0; ; attempt++) {
      const client = await connect();
      // On a terminal, a server that wants a token we did not have gets one asked for, once.
      const askOnAuth = attempt === 0 && token === undefined && canPrompt();
      try {
        if (opts.list) return await runList(t, client, opts);
        if (isFetchBatch) {
          const limits = { maxFiles, maxDepth, maxSizeBytes };
          const { batch, close } = await fetchBatch(t, client, files, { ...opts, ...limits });
          try {
            await runFolder(t, client, batch, { ...opts, askOnAuth }, controller.signal, connect);
          } finally {
            await close();
          }
          return;
        }
        if (plan !== undefined && (plan.isBatch || plan.items.length > 1)) {
          const batch = uploadBatch(plan, {
            resume: opts.resume ?? true,
            overwrite: opts.overwrite ?? false,
            verify: opts.verify,
          });
          await runFolder(t, client, batch, { ...opts, askOnAuth }, controller.signal, connect);
          return;
        }
        await runFiles(t, client, files, { ...opts, maxSizeBytes, askOnAuth, plan }, controller.signal);
        return;
      } catch (err) {
        // A listing (--list, or the first step of a folder fetch) is the connection's first request.
        const listedFirst = opts.list || isFetchBatch;
        const needsToken = err instanceof AuthRequired || (askOnAuth && listedFirst && isAuthRequired(err));
        if (!needsToken) throw err;
        token = await promptToken(`token for ${formatWhere(where)}: `);
        if (token === undefined) throw err instanceof AuthRequired ? err.cause : err;
      } finally {
        await client.close();
      }
    }
  } catch (err) {
    if (err instanceof ExitCode || err instanceof UsageError) throw err; // a report is out already
    const failure = controller.signal.aborted
      ? interrupted(opts.list ? "listing" : opts.raw ? opts.output! : files[0]!, opts)
      : err;
    // --json promises one object on stdout, also when the run failed before any report (the
    // server is not running, the listing was refused): scripts read `ok` instead of nothing.
    if (opts.json)
      process.stdout.write(`${JSON.stringify({ ok: false, files: [], error: describe(failure) })}\n`);
    if (!controller.signal.aborted) throw listHint(err, opts);
    reportError(failure);
    throw new ExitCode(EXIT_INTERRUPTED);
  } finally {
    stopSignals();
  }
}

type Transfer = typeof import("@netlab/transfer");

/** The first request met AUTH_REQUIRED and a prompt may ask for the token: try again with it. */
class AuthRequired extends Error {}

function isAuthRequired(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "AUTH_REQUIRED";
}

/** A time as given on the command line (`5`, `500ms`, `1m`), in ms. */
function seconds(flag: string, text: string): number {
  return parseDuration(flag, text, { minMs: 1 });
}

async function runList(t: Transfer, client: TransferClient, opts: TransferOpts): Promise<void> {
  const { entries, truncated } = await client.list();
  if (opts.json) {
    // Exact names for scripts; a reader of JSON sees escapes, never live control codes.
    process.stdout.write(`${JSON.stringify({ ok: true, files: entries, truncated })}\n`);
    return;
  }
  for (const e of entries) {
    const when = new Date(e.mtimeMs).toISOString().slice(0, 19).replace("T", " ");
    // Names come from the server: shown, never obeyed (ESC, BEL, CR, bidi overrides as ^[ etc.).
    process.stdout.write(`${t.formatBytes(e.size).padStart(10)}  ${when}  ${escapeControls(e.name)}\n`);
  }
  const total = entries.reduce((n, e) => n + e.size, 0);
  process.stderr.write(
    `${entries.length} file${entries.length === 1 ? "" : "s"}, ${t.formatBytes(total)}${truncated ? " (list cut short by the server)" : ""}\n`,
  );
}

/** Shows progress and resume lines of one connection; returns the bar, if any. */
function watch(t: Transfer, client: TransferClient, bar: ProgressBar | undefined): void {
  if (bar) client.on("progress", (p) => bar.update(p));
  client.on("resume", (r) => process.stderr.write(`${resumeLine(t, r)}\n`));
}

/** Whether a --get name means a folder on the server: it ends in `/`. */
function isFolderName(name: string): boolean {
  return name.endsWith("/");
}

/**
 * The downloads of `--get A B DIR/`: a file is itself; a folder is every file the server lists
 * under it (checked by {@link TransferClient.listFolder} before anything is written), written into
 * a local folder opened once, so its names resolve without leaving it.
 */
async function fetchBatch(
  t: Transfer,
  client: TransferClient,
  names: string[],
  opts: Omit<TransferOpts, "maxFiles" | "maxDepth"> & {
    maxFiles: number;
    maxDepth: number;
    maxSizeBytes: number | undefined;
  },
): Promise<{ batch: Batch; close: () => Promise<void> }> {
  const { makeDirectory } = await import("@netlab/core");
  const path = await import("node:path");
  const common = {
    overwrite: opts.overwrite ?? false,
    verify: opts.verify,
    resume: opts.resume ?? true,
    maxSizeBytes: opts.maxSizeBytes,
  };
  const items: BatchItem[] = [];
  const roots: Array<{ close: () => Promise<void> }> = [];
  const close = async () => {
    for (const r of roots) await r.close();
  };
  try {
    for (const name of names) {
      if (!isFolderName(name)) {
        const shown = opts.output === undefined ? baseName(name) : path.join(opts.output, baseName(name));
        items.push({ name, path: shown, run: (c) => c.download(name, opts.output, common) });
        continue;
      }
      const folder = name.replace(/\/+$/, "");
      if (folder === "") {
        throw new UsageError("name a folder on the server to fetch", "e.g. lab transfer --get photos/");
      }
      const fetch = await client.listFolder(folder, { maxFiles: opts.maxFiles, maxDepth: opts.maxDepth });
      const dest =
        names.length === 1 && opts.output !== undefined
          ? opts.output
          : path.join(opts.output ?? ".", baseName(folder));
      await makeDirectory(dest).catch((err) => {
        throw t.fsError(err, `creating ${dest}`, {
          hint: "-o names the folder to fill (made if missing): give a folder's path, not a file's",
        });
      });
      // Dotfiles: the server chose to list them. Depth: the listing was checked against --max-depth.
      const root = await t.ServedRoot.open(dest, { dotfiles: true, maxDepth: opts.maxDepth + 1 });
      roots.push(root);
      for (const f of fetch.items) {
        items.push({
          name: f.name,
          path: path.join(dest, ...f.rel.split("/")),
          run: (c) =>
            c.download(f.name, f.rel, { ...common, into: { root, path: dest }, expectedBytes: f.size }),
        });
      }
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { batch: { direction: "download", items, skipped: [] }, close };
}

/** Several files or a folder, either way: every file goes, failures are noted, one summary at the end. */
async function runFolder(
  t: Transfer,
  client: TransferClient,
  batch: Batch,
  opts: TransferOpts & { askOnAuth?: boolean },
  signal: AbortSignal,
  connect: () => Promise<TransferClient>,
): Promise<void> {
  const bar = process.stderr.isTTY && !opts.json ? new ProgressBar(t) : undefined;
  watch(t, client, bar);
  await runBatch(t, client, batch, { json: opts.json }, signal, {
    reconnect: connect,
    watch: (c) => watch(t, c, bar),
    onDone: (r) => bar?.done(r),
    onFail: () => bar?.clear(),
    isAuthRetry: (err, isFirst) => {
      if (!(opts.askOnAuth && isFirst && isAuthRequired(err))) return false;
      throw new AuthRequired("", { cause: err });
    },
  });
}

/** One file, either way (several go through {@link runBatch}). */
async function runFiles(
  t: Transfer,
  client: TransferClient,
  files: string[],
  opts: TransferOpts & {
    maxSizeBytes: number | undefined;
    askOnAuth?: boolean;
    plan: UploadPlan | undefined;
  },
  signal: AbortSignal,
): Promise<void> {
  const bar = process.stderr.isTTY && !opts.json ? new ProgressBar(t) : undefined;
  watch(t, client, bar);
  const results: TransferResult[] = [];
  const started = performance.now();
  let failure: unknown;
  for (const [i, file] of files.entries()) {
    try {
      const common = { overwrite: opts.overwrite ?? false, verify: opts.verify };
      const item = opts.plan?.items[i];
      const r =
        item === undefined
          ? await client.download(file, opts.output ?? undefined, {
              ...common,
              resume: opts.resume ?? true,
              maxSizeBytes: opts.maxSizeBytes,
            })
          : await client.upload(item.path, {
              ...common,
              name: item.name,
              // croc's habit: a matching .part is continued, and an identical file is not sent again.
              resume: opts.resume ?? true,
              skipIdentical: !common.overwrite,
            });
      bar?.done(r);
      results.push(r);
    } catch (err) {
      bar?.clear();
      if (opts.askOnAuth && results.length === 0 && isAuthRequired(err))
        throw new AuthRequired("", { cause: err });
      failure = signal.aborted
        ? interrupted(file, opts)
        : opts.get
          ? folderHint(t, err, file)
          : missingHint(t, err, file);
      break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const moved = results.filter((r) => !r.existed);
  const bytes = moved.reduce((n, r) => n + r.transferredBytes, 0);
  if (opts.json) {
    const summary = results.map((r) => resultJson(r, false));
    const error = failure === undefined ? undefined : describe(failure);
    process.stdout.write(
      `${JSON.stringify({ ok: failure === undefined, files: summary, ...(error ? { error } : {}) })}\n`,
    );
  } else if (!bar && results.length > 0) {
    for (const r of results) if (r.existed) process.stderr.write(`${alreadyThere(r)}\n`);
  }
  if (!opts.json && !bar && moved.length > 0) {
    const verb = opts.get ? "downloaded" : "uploaded";
    const what = moved.length === 1 ? escapeControls(moved[0]!.name) : `${moved.length} files`;
    const sha = moved.length === 1 && moved[0]!.sha256 ? `, sha256 ${moved[0]!.sha256}` : "";
    process.stderr.write(
      `${verb} ${what} (${t.formatBytes(bytes)}) in ${seconds.toFixed(2)} s, ${t.formatRate(seconds > 0 ? bytes / seconds : 0)}${sha}\n`,
    );
  }
  if (failure !== undefined) {
    const code = reportError(listHint(failure, opts));
    throw new ExitCode(signal.aborted ? EXIT_INTERRUPTED : code);
  }
}

async function runRaw(
  t: Transfer,
  opts: TransferOpts,
  where: ConnectAddress,
  limits: {
    rate: number | undefined;
    connectTimeoutMs: number;
    stallTimeoutMs: number;
    minBytesPerSecond: number;
    lowSpeedTimeMs: number;
    maxSizeBytes: number | undefined;
  },
  signal: AbortSignal,
): Promise<void> {
  const r = await t.rawGet({
    ...where,
    out: opts.output!,
    overwrite: opts.overwrite ?? false,
    connectTimeoutMs: limits.connectTimeoutMs,
    stallTimeoutMs: limits.stallTimeoutMs,
    minBytesPerSecond: limits.minBytesPerSecond,
    lowSpeedTimeMs: limits.lowSpeedTimeMs,
    maxSizeBytes: limits.maxSizeBytes,
    signal,
    stream: { rateBytesPerSecond: limits.rate },
  });
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ ok: true, files: [{ path: r.path, bytes: r.bytes, sha256: r.sha256, seconds: round(r.seconds, 3), mbps: round(r.mbps, 1) }] })}\n`,
    );
  } else {
    process.stderr.write(
      `received ${r.path} (${t.formatBytes(r.bytes)}) in ${r.seconds.toFixed(2)} s, ${t.formatRate(r.mbps * 1e6)}, sha256 ${r.sha256} (raw: not verified)\n`,
    );
  }
}

/**
 * A `--get NAME` that names a folder on the server: say how to fetch a folder. Only the server's
 * refusal: a folder or FIFO on this side (NOT_A_FILE too) keeps its own hint.
 */
function folderHint(t: Transfer, err: unknown, name: string): unknown {
  if (!(err instanceof t.RemoteTransferError) || err.code !== "NOT_A_FILE") return err;
  return Object.assign(err as Error, {
    hint: `to fetch a folder, end its name with a /: lab transfer --get ${escapeControls(name.replace(/\/+$/, ""))}/`,
  });
}

/** An upload of a file that is not here: perhaps a download was meant. */
function missingHint(t: Transfer, err: unknown, file: string): unknown {
  if (!(err instanceof t.TransferError) || err instanceof t.RemoteTransferError || err.code !== "NOT_FOUND")
    return err;
  return Object.assign(err, {
    hint: `lab transfer FILE uploads a file from here; to download it from the server: lab transfer --get ${escapeControls(file)}`,
  });
}

/**
 * A hint that suggests `lab transfer --list` (the server's, for a name it does not have) names the
 * server as this command reached it, so that on another port it lists the same server.
 */
function listHint(err: unknown, opts: TransferOpts): unknown {
  const hint = (err as { hint?: unknown } | undefined)?.hint;
  const args = addressArgs(opts);
  if (args === "" || typeof hint !== "string" || !hint.includes("lab transfer --list")) return err;
  return Object.assign(err as object, {
    hint: hint.replace("lab transfer --list", `lab transfer --list${args}`),
  });
}

function interrupted(file: string, opts: TransferOpts): Error {
  if (opts.list) {
    return Object.assign(new Error("interrupted while listing"), {
      code: "INTERRUPTED",
      hint: "run it again",
    });
  }
  if (opts.raw) {
    return Object.assign(new Error(`interrupted while receiving ${file}`), {
      code: "INTERRUPTED",
      hint: "raw mode cannot resume: run the same command again",
    });
  }
  return Object.assign(new Error(`interrupted while ${opts.get ? "downloading" : "uploading"} ${file}`), {
    code: "INTERRUPTED",
    // Said the same whether or not a byte had moved (a silent server): a hint that fits both.
    hint: opts.get
      ? "whatever arrived is kept in a .part file; run the same command again to continue from there"
      : "the server keeps whatever it received as a .part file; run the same command again to continue from there",
  });
}
