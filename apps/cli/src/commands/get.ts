import { escapeControls } from "@netlab/protocol/terminal";
import type { Command } from "commander";
import { parseNumber } from "../options.js";
import { action, ExitCode, reportError, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt } from "../signals.js";

interface GetOpts {
  request?: string;
  header: string[];
  data?: string;
  form: string[];
  output?: string;
  include?: boolean;
  timeout: string;
  maxTime?: string;
  maxFilesize?: string;
  maxRatio: string;
  maxRedirects: string;
  resolve: string[];
  silent?: boolean;
}

/** curl's exit code for each URLError code; anything else is 1. */
const EXIT_CODES: Record<string, number> = {
  INVALID_URL: 2,
  DNS_FAILURE: 6,
  CONNECTION_REFUSED: 7,
  CONNECTION_FAILED: 7,
  HTTP_ERROR: 22,
  WRITE_FAILED: 23,
  TIMEOUT: 28,
  TLS_FAILURE: 35,
  TOO_MANY_REDIRECTS: 47,
  BAD_CONTENT_ENCODING: 61,
  BODY_TOO_LARGE: 63,
  DECOMPRESSION_BOMB: 63,
  ABORTED: EXIT_INTERRUPTED,
};

/** Bodies at least this large get a progress bar on a terminal. */
const PROGRESS_MIN_BYTES = 1024 * 1024;

/** `lab get URL`: fetch a URL and stream its body, with curl's exit codes. */
export function registerGet(program: Command): void {
  program
    .command("get")
    .description("fetch a URL and stream its body to stdout or a file (exit codes as curl's)")
    .argument("<url>", "an http:// or https:// URL")
    .option("-X, --request <method>", "HTTP method (default GET, or POST with -d/-F)")
    .option("-H, --header <'Name: value'>", "a request header (repeatable)", collect, [])
    .option(
      "-d, --data <data>",
      "request body; @FILE reads a file, @- reads stdin (sent as a form, as curl does)",
    )
    .option("-F, --form <name=value>", "a form field, urlencoded into the body (repeatable)", collect, [])
    .option("-o, --output <file>", "write the body to FILE (complete, or not at all) instead of stdout")
    .option("-i, --include", "print the status line and headers before the body")
    .option("--timeout <seconds>", "give up when connecting, the headers or any body chunk take longer", "30")
    .option("-m, --max-time <seconds>", "give up when the whole transfer takes longer (exit 28)")
    .option(
      "--max-filesize <bytes>",
      "refuse a body larger than this, e.g. 500K, 20M, 1G (exit 63; from Content-Length before writing)",
    )
    .option(
      "--max-ratio <n>",
      "refuse a gzip/deflate/br body that decodes to more than n times its size past 1 MiB (exit 63)",
      "100",
    )
    .option("--max-redirects <n>", "redirects to follow before giving up (exit 47)", "10")
    .option("--resolve <host:address>", "use this address for host, without DNS (repeatable)", collect, [])
    .option("-s, --silent", "no progress bar")
    .addHelpText(
      "after",
      `
Examples:
  lab get http://127.0.0.1:8000/                          print the body
  lab get -i http://127.0.0.1:8000/api                    status line and headers, then the body
  lab get -X POST -H "Content-Type: application/json" -d '{"a":1}' http://127.0.0.1:8000/api
  lab get -F name=alice -F lang=en http://127.0.0.1:8000/form
  lab get -o big.iso http://127.0.0.1:8000/big.iso       save it (a progress bar on a terminal)

Exit codes (as curl's): 0 ok, 2 usage or invalid URL, 6 cannot resolve host, 7 cannot connect,
22 HTTP error (status ≥ 400; "HTTP Error 404: Not Found" on stderr, the body still on stdout),
23 cannot write the output, 28 timeout (--timeout, --max-time), 35 TLS failure, 47 too many redirects,
61 a corrupt compressed body, 63 larger than --max-filesize or a decompression bomb (--max-ratio),
130 interrupted (Ctrl-C or SIGTERM; no partial file is left).`,
    )
    .action(action(async (url: string, opts: GetOpts) => runGet(url, opts)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runGet(url: string, opts: GetOpts): Promise<void> {
  const timeoutS = Number(opts.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) {
    throw new UsageError(
      `--timeout must be a positive number of seconds, got ${JSON.stringify(opts.timeout)}`,
    );
  }
  const maxTimeS =
    opts.maxTime === undefined
      ? undefined
      : parseNumber("--max-time", opts.maxTime, { min: 0.001, max: 2_000_000 });
  const maxBodyBytes =
    opts.maxFilesize === undefined ? undefined : parseBytes("--max-filesize", opts.maxFilesize);
  const maxRatio = parseNumber("--max-ratio", opts.maxRatio, { min: 1, max: Number.MAX_SAFE_INTEGER });
  const maxRedirects = Number(opts.maxRedirects);
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new UsageError(
      `--max-redirects must be a whole number ≥ 0, got ${JSON.stringify(opts.maxRedirects)}`,
    );
  }
  if (opts.data !== undefined && opts.form.length > 0) throw new UsageError("give either -d or -F, not both");
  const headers = opts.header.map(parseHeader);
  const form = opts.form.map((f): [string, string] => {
    const eq = f.indexOf("=");
    if (eq < 0) throw new UsageError(`-F wants name=value, got ${JSON.stringify(f)}`);
    return [f.slice(0, eq), f.slice(eq + 1)];
  });
  const resolve = Object.fromEntries(opts.resolve.map(parseResolve));

  const lib = await import("@netlab/url");
  checkUrl(lib, url);
  const body = opts.data === undefined ? undefined : await readData(opts.data);
  if (body !== undefined && !headers.some(([k]) => k.toLowerCase() === "content-type")) {
    headers.push(["Content-Type", "application/x-www-form-urlencoded"]);
  }

  // The first Ctrl-C or SIGTERM aborts the request (the partial file is removed, exit 130); a second
  // one exits at once.
  const started = Date.now();
  const controller = new AbortController();
  const stopSignals = onInterrupt(() => controller.abort(new Error("interrupted")));
  let output: Output | undefined;
  let progress: Progress | undefined;
  try {
    let res: import("@netlab/url").HttpResponse;
    try {
      res = await lib.urlopen(url, {
        method: opts.request,
        headers,
        body,
        form: form.length ? form : undefined,
        timeoutMs: timeoutS * 1000,
        totalTimeoutMs: maxTimeS === undefined ? undefined : maxTimeS * 1000,
        maxBodyBytes,
        maxDecompressionRatio: maxRatio,
        maxRedirects,
        lookup: await createLookup(lib, resolve),
        signal: controller.signal,
      });
    } catch (err) {
      if (err instanceof lib.HTTPError) {
        if (opts.include) process.stdout.write(head(err.status, err.reason, err.headers));
        // As curl --fail-with-body: the body often explains the error; never into -o FILE.
        process.stdout.write(err.body);
      }
      throw err;
    }
    if (opts.include) process.stdout.write(head(res.status, res.reason, res.headers));
    // Opened only now: a refused answer (an HTTP error, a Content-Length over --max-filesize)
    // never creates a file.
    if (opts.output !== undefined) {
      output = await openOutput(opts.output, controller.signal).catch((err) => {
        void res.close();
        if (controller.signal.aborted) throw err;
        return writeFailed(err);
      });
    }
    const dest = output?.stream ?? process.stdout;
    // urlopen's own timers stop reading; this stops a wait for a reader that does not read.
    const writeSignal =
      maxTimeS === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, outputDeadline(maxTimeS - (Date.now() - started) / 1000)]);
    // A decoded body's length is not the Content-Length: the bar then shows bytes, not a ratio.
    const total = res.isDecoded ? undefined : res.contentLength;
    progress =
      !opts.silent && process.stderr.isTTY && (total ?? PROGRESS_MIN_BYTES) >= PROGRESS_MIN_BYTES
        ? new Progress(total)
        : undefined;
    for await (const chunk of res.body) {
      progress?.add(chunk.length);
      if (!dest.write(chunk)) await drained(dest, writeSignal);
    }
    progress?.done();
    await output?.commit();
  } catch (err) {
    progress?.interrupt();
    const failure = reported(err, controller.signal.aborted, opts.output !== undefined, lib);
    // A write stuck in the kernel (a FIFO nobody reads) would keep the process alive: the partial
    // file is removed if that can be done in time, and the exit does not wait longer for it.
    if (failure instanceof ExitCode) setTimeout(() => process.exit(failure.code), DISCARD_GRACE_MS).unref();
    await output?.discard();
    throw failure;
  } finally {
    stopSignals();
  }
}

/** How long a failed `lab get` waits for its partial file to be closed and removed, in ms. */
const DISCARD_GRACE_MS = 500;

/**
 * What a failure ends with: an ExitCode once its `lab:`/`hint:` lines are printed (curl's code;
 * 130 when interrupted), a UsageError, or the error itself for reportError to print.
 */
function reported(
  err: unknown,
  isInterrupted: boolean,
  isToFile: boolean,
  lib: typeof import("@netlab/url"),
): unknown {
  const code = (err as { code?: string }).code ?? "";
  if (err instanceof lib.URLError && code === "INVALID_URL") return new UsageError(err.message, err.hint);
  if (isInterrupted) {
    const hint = isToFile
      ? "nothing was saved; run the command again to fetch it"
      : "what was printed is only the start of the body; run the command again to fetch it";
    process.stderr.write(`lab: interrupted\nhint: ${hint}\n`);
    return new ExitCode(130);
  }
  if (err instanceof lib.URLError || code === "WRITE_FAILED" || code === "TIMEOUT") {
    // reportError escapes and cuts the text (a server's reason phrase is in it); the exit code is curl's.
    reportError(err);
    return new ExitCode(EXIT_CODES[code] ?? 1);
  }
  return err;
}

/**
 * Name resolution for this request: `--resolve` pins names to addresses (others use the system
 * resolver). NETLAB_TEST_RESOLVE_FAIL=1 makes every name fail with ENOTFOUND without a DNS query,
 * so tests can check exit 6 without touching the network.
 */
async function createLookup(
  lib: typeof import("@netlab/url"),
  table: Record<string, string>,
): Promise<import("node:net").LookupFunction | undefined> {
  if (process.env.NETLAB_TEST_RESOLVE_FAIL === "1") return lib.staticLookup({});
  if (Object.keys(table).length === 0) return undefined;
  const dns = await import("node:dns");
  const pinned = lib.staticLookup(table);
  return ((hostname: string, options: object, callback: never) => {
    if (Object.hasOwn(table, hostname)) pinned(hostname, options as never, callback);
    else dns.lookup(hostname, options as never, callback);
  }) as import("node:net").LookupFunction;
}

function writeFailed(err: { message: string }): never {
  reportError({ message: err.message, hint: "check that the directory exists and is writable" });
  throw new ExitCode(EXIT_CODES.WRITE_FAILED!);
}

const BYTE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A size as curl reads it: bytes, or with a K, M, G or T suffix (powers of 1024). */
function parseBytes(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmgt]?)b?$/i.exec(text.trim());
  const value = m ? Math.floor(Number(m[1]) * BYTE_UNITS[m[2]!.toUpperCase()]!) : Number.NaN;
  if (!Number.isSafeInteger(value)) {
    throw new UsageError(
      `${flag} must be a size in bytes (e.g. 1000, 500K, 20M, 1G), got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function parseHeader(h: string): [string, string] {
  const colon = h.indexOf(":");
  const name = colon < 0 ? "" : h.slice(0, colon).trim();
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) {
    throw new UsageError(`-H wants 'Name: value', got ${JSON.stringify(h)}`);
  }
  return [name, h.slice(colon + 1).trim()];
}

function parseResolve(r: string): [string, string] {
  const colon = r.indexOf(":");
  if (colon <= 0 || colon === r.length - 1) {
    throw new UsageError(
      `--resolve wants host:address, got ${JSON.stringify(r)}`,
      "e.g. --resolve api.test:127.0.0.1",
    );
  }
  return [r.slice(0, colon), r.slice(colon + 1).replace(/^\[(.*)\]$/, "$1")];
}

/** An invalid URL is a usage error with Python's or WHATWG's reason. */
function checkUrl(lib: typeof import("@netlab/url"), url: string): void {
  let parts: import("@netlab/url").SplitResult;
  try {
    parts = lib.urlsplit(url);
    void parts.port;
  } catch (err) {
    const e = err as { message: string; hint?: string };
    throw new UsageError(`invalid URL: ${e.message}`, e.hint);
  }
  if (parts.scheme !== "http" && parts.scheme !== "https") {
    throw new UsageError(
      parts.scheme
        ? `unsupported scheme "${parts.scheme}" in ${url}`
        : `invalid URL ${JSON.stringify(url)}: no scheme`,
      "give an absolute http:// or https:// URL",
    );
  }
  if (!parts.hostname)
    throw new UsageError(`invalid URL ${JSON.stringify(url)}: no host`, "e.g. http://127.0.0.1:8000/");
  const view = lib.whatwg(url);
  if (!view.ok) throw new UsageError(`invalid URL ${JSON.stringify(url)}: ${view.error}`);
}

async function readData(data: string): Promise<Uint8Array> {
  if (!data.startsWith("@")) return new TextEncoder().encode(data);
  const { readFile } = await import("node:fs/promises");
  const name = data.slice(1);
  if (name === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
  try {
    return await readFile(name);
  } catch (err) {
    throw new UsageError(`cannot read ${name}: ${(err as Error).message}`);
  }
}

/**
 * The status line and headers as `curl -i` shows them. On a terminal the server's text is shown,
 * never obeyed (control and bidi characters escaped); piped, it is kept exact.
 */
function head(status: number, reason: string, headers: Headers): string {
  const lines = [`HTTP/1.1 ${status} ${reason}`];
  headers.forEach((value, name) => {
    lines.push(`${name}: ${value}`);
  });
  const shown = process.stdout.isTTY ? lines.map((line) => escapeControls(line)) : lines;
  return `${shown.join("\r\n")}\r\n\r\n`;
}

/**
 * Waits for `stream` to take more. A reader that stopped reading (a paused pager, a stuck FIFO)
 * must not hold `lab get` past Ctrl-C or --max-time: `signal` ends the wait with its reason.
 */
function drained(stream: NodeJS.WritableStream, signal: AbortSignal): Promise<void> {
  // A stream that already failed will never drain: fail now rather than wait forever.
  const failed = (stream as import("node:stream").Writable).errored;
  if (failed) return Promise.reject(writeError(failed));
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const done = () => {
      stream.off("drain", onDrain);
      stream.off("error", onError);
      signal.removeEventListener("abort", onAbort);
    };
    const onDrain = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      done();
      reject(writeError(err));
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    stream.once("drain", onDrain);
    stream.once("error", onError);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Fires after `seconds` with --max-time's TIMEOUT (exit 28), for a write the reader never takes. */
function outputDeadline(seconds: number): AbortSignal {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        Object.assign(new Error("operation timed out: the output was not read within --max-time"), {
          code: "TIMEOUT",
          hint: "whatever reads lab's output stopped reading; raise --max-time",
        }),
      ),
    Math.max(0, seconds * 1000),
  );
  timer.unref();
  return controller.signal;
}

function writeError(err: Error): Error {
  return Object.assign(new Error(`cannot write the output: ${err.message}`), { code: "WRITE_FAILED" });
}

/**
 * `-o FILE`: a regular file (or a new one) is written as FILE.part and renamed into place only
 * when the whole body has arrived. Anything else that exists — /dev/null, a FIFO, a symlink — is
 * written directly: renaming over it would replace the device or the link with a plain file.
 */
type Output = Awaited<ReturnType<typeof openOutput>>;

async function openOutput(file: string, signal: AbortSignal) {
  const fs = await import("node:fs");
  const existing = await fs.promises.lstat(file).catch(() => undefined);
  const isDirect = existing !== undefined && !existing.isFile();
  const target = isDirect ? file : `${file}.part`;
  const failed = (err: Error) =>
    Object.assign(new Error(`cannot write ${file}: ${err.message}`), { code: "WRITE_FAILED" });
  const isFifo = isDirect && (await fs.promises.stat(file).catch(() => undefined))?.isFIFO() === true;
  let stream: import("node:stream").Writable;
  if (isFifo) {
    stream = await openFifo(file, signal).catch((err: Error) => {
      if (signal.aborted) throw err;
      throw failed(err);
    });
  } else {
    const fileStream = fs.createWriteStream(target);
    await new Promise<void>((resolve, reject) => {
      fileStream.once("open", () => resolve());
      fileStream.once("error", (err) => reject(failed(err)));
    });
    stream = fileStream;
  }
  let writeError: Error | undefined;
  stream.on("error", (err) => {
    writeError = err;
  });
  const closed = () =>
    stream.closed ? Promise.resolve() : new Promise<void>((resolve) => stream.once("close", () => resolve()));
  return {
    stream,
    async commit() {
      await new Promise<void>((resolve) => stream.end(() => resolve()));
      await closed();
      if (writeError) throw failed(writeError);
      if (!isDirect) await fs.promises.rename(target, file);
    },
    /** Drops what is not written yet (a reader that stopped reading must not hold it) and removes the .part. */
    async discard() {
      stream.destroy();
      await closed();
      if (!isDirect) await fs.promises.rm(target, { force: true });
    },
  };
}

/** How often `-o FIFO` looks for a reader to appear, in ms (a FIFO announces none). */
const FIFO_READER_POLL_MS = 100;

/**
 * A FIFO is opened without blocking (a blocking open waits in a pool thread for a reader, and a
 * blocked thread keeps even process.exit() from ending lab), retried until a reader comes or
 * `signal` fires, then written through the event loop as a pipe, so a reader that stops reading
 * blocks no thread either.
 */
async function openFifo(file: string, signal: AbortSignal): Promise<import("node:stream").Writable> {
  const [fs, net] = await Promise.all([import("node:fs"), import("node:net")]);
  const flags = fs.constants.O_WRONLY | fs.constants.O_NONBLOCK;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    try {
      const fd = await new Promise<number>((resolve, reject) =>
        fs.open(file, flags, (err, fd) => (err ? reject(err) : resolve(fd))),
      );
      return new net.Socket({ fd, readable: false, writable: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENXIO") throw err; // ENXIO: no reader yet
    }
    await new Promise((resolve) => setTimeout(resolve, FIFO_READER_POLL_MS));
  }
}

/** A one-line progress bar on stderr, redrawn at most ten times a second. */
class Progress {
  #bytes = 0;
  #lastDraw = 0;
  readonly #started = Date.now();

  constructor(readonly total: number | undefined) {}

  add(n: number): void {
    this.#bytes += n;
    const now = Date.now();
    if (now - this.#lastDraw >= 100) {
      this.#lastDraw = now;
      this.#draw(now);
    }
  }

  done(): void {
    this.#draw(Date.now());
    process.stderr.write("\n");
  }

  /** Ends the bar's line so that an error message starts on its own. */
  interrupt(): void {
    process.stderr.write("\n");
  }

  #draw(now: number): void {
    const seconds = Math.max((now - this.#started) / 1000, 0.001);
    const rate = `${mib(this.#bytes / seconds)}/s`;
    if (this.total) {
      const ratio = Math.min(1, this.#bytes / this.total);
      const width = 30;
      const filled = Math.round(ratio * width);
      const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
      process.stderr.write(
        `\r[${bar}] ${(ratio * 100).toFixed(0).padStart(3)}%  ${mib(this.#bytes)} / ${mib(this.total)}  ${rate}   `,
      );
    } else {
      process.stderr.write(`\r${mib(this.#bytes)}  ${rate}   `);
    }
  }
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(0)} KiB`;
}
