import { isIP } from "node:net";
import { escapeControls } from "@netlab/core/terminal";
import type { Command } from "commander";
import { parseDuration, parseNumber, speedLimits } from "../options.js";
import { action, ExitCode, reportError, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt } from "../signals.js";
import { canPrompt, promptToken } from "../token.js";
import { drained, type Output, openOutput, outputDeadline, writeError } from "./get-output.js";
import { PROGRESS_MIN_BYTES, Progress } from "./get-progress.js";

interface GetOpts {
  request?: string;
  header: string[];
  data?: string;
  form: string[];
  output?: string;
  remoteName?: boolean;
  include?: boolean;
  head?: boolean;
  fail?: boolean;
  failWithBody?: boolean;
  location?: boolean;
  showError?: boolean;
  verbose?: boolean;
  continueAt?: string;
  insecure?: boolean;
  cacert?: string;
  timeout: string;
  maxTime?: string;
  speedLimit: string;
  speedTime: string;
  maxFilesize?: string;
  maxRatio: string;
  maxRedirs: string;
  resolve: string[];
  silent?: boolean;
  json?: boolean;
  user?: string;
}

/** curl's exit code for each URLError code; anything else is 1. */
const EXIT_CODES: Record<string, number> = {
  INVALID_URL: 2,
  DNS_FAILURE: 6,
  CONNECTION_REFUSED: 7,
  CONNECTION_FAILED: 7,
  WEIRD_SERVER_REPLY: 8,
  HTTP_ERROR: 22,
  WRITE_FAILED: 23,
  CONNECT_TIMEOUT: 28,
  REQUEST_TIMEOUT: 28,
  TLS_FAILURE: 35,
  CERT_UNTRUSTED: 60,
  TOO_MANY_REDIRECTS: 47,
  BAD_CONTENT_ENCODING: 61,
  BODY_TOO_LARGE: 63,
  DECOMPRESSION_BOMB: 63,
  ABORTED: EXIT_INTERRUPTED,
};

/** `lab get URL`: fetch a URL and stream its body, with curl's exit codes. */
export function registerGet(program: Command): void {
  program
    .command("get")
    .description("fetch a URL and stream its body to stdout or a file (exit codes as curl's)")
    .argument("<url>", "an http:// or https:// URL; without a scheme, http:// (as curl)")
    .option("-X, --request <method>", "HTTP method (default GET, or POST with -d/-F)")
    .option("-H, --header <'Name: value'>", "a request header (repeatable)", collect, [])
    .option(
      "-u, --user <user[:password]>",
      "HTTP Basic auth, as curl; with no :password it is asked for on the terminal, not echoed",
    )
    .option(
      "-d, --data <data>",
      "request body; @FILE reads a file, @- reads stdin (sent as a form, as curl does)",
    )
    .option(
      "-F, --form <name=value>",
      "a multipart/form-data field (repeatable); name=@FILE uploads FILE, name=<FILE sends its text, ;type=T sets the type",
      collect,
      [],
    )
    .option("-o, --output <file>", "write the body to FILE (complete, or not at all) instead of stdout")
    .option(
      "-O, --remote-name",
      "write the body to a file here named as the URL's last path segment (as curl)",
    )
    .option(
      "-C, --continue-at <offset>",
      "resume -o FILE: '-' asks the server for the rest after FILE's size (Range), or from OFFSET bytes",
    )
    .option("-k, --insecure", "https: accept any certificate (encrypted, but not authenticated)")
    .option("--cacert <file>", "https: trust the CA certificates (PEM) in FILE instead of the system's")
    .option("-i, --include", "print the status line and headers as received (case and order) before the body")
    .option("-I, --head", "send HEAD and print only the status line and headers")
    .option("-f, --fail", "exit 22 on an HTTP status ≥ 400, printing no body (as curl)")
    .option("--fail-with-body", "exit 22 on an HTTP status ≥ 400, printing the body")
    .option("-L, --location", "follow redirects (without it, a 3xx answer is printed as it came)")
    .option("--timeout <time>", "give up when connecting, the headers or any body chunk take longer", "30s")
    .option("-m, --max-time <time>", "give up when the whole transfer takes longer (exit 28); 5 = 5s")
    .option(
      "-Y, --speed-limit <rate>",
      "give up when the body comes slower than this on average over --speed-time (exit 28; a trickling server), e.g. 10K; 0 = no limit",
      "1KiB/s",
    )
    .option("-y, --speed-time <time>", "the time --speed-limit is averaged over (as curl's)", "60s")
    .option(
      "--max-filesize <bytes>",
      "refuse a body larger than this, e.g. 500K, 20M, 1G (exit 63; from Content-Length before writing)",
    )
    .option(
      "--max-ratio <n>",
      "refuse a gzip/deflate/br body that decodes to more than n times its size past 1 MiB (exit 63)",
      "100",
    )
    .option("--max-redirs <n>", "redirects -L follows before giving up (exit 47)", "50")
    .option(
      "--resolve <host:port:addr>",
      "connect to ADDR for HOST on PORT, without DNS, as curl's --resolve (repeatable)",
      collect,
      [],
    )
    .option("-s, --silent", "no progress bar and no error messages (exit code only; add -S for errors)")
    .option("-S, --show-error", "with -s, still print errors")
    .option("-v, --verbose", "print the request and response headers to stderr (> sent, < received)")
    .option(
      "--json",
      "print a report instead of the body: status, headers as received, bytes, sha256, seconds (as curl -w '%{json}'); the body goes to -o FILE if given",
    )
    .addHelpText(
      "after",
      `
Examples:
  lab get http://127.0.0.1:8000/                          print the body
  lab get -i http://127.0.0.1:8000/api                    status line and headers, then the body
  lab get -X POST -H "Content-Type: application/json" -d '{"a":1}' http://127.0.0.1:8000/api
  lab get -F name=alice -F photo=@me.png http://127.0.0.1:8000/form     multipart, as curl
  lab get -u alice http://127.0.0.1:8000/private         Basic auth; asks for alice's password
  lab get -o big.iso http://127.0.0.1:8000/big.iso       save it (a progress bar on a terminal)
  lab get -O http://127.0.0.1:8000/files/big.iso         save it as ./big.iso, as curl -O
  lab get -fsSL 127.0.0.1:8000/install.sh                 curl's habit: follow, fail, quiet but errors
  lab get --json -o page.html 127.0.0.1:8000/ | jq .status   the body saved, a report on stdout

Exit codes (as curl's): 0 ok, 2 usage or invalid URL, 6 cannot resolve host, 7 cannot connect, 8 not HTTP,
22 HTTP error with -f (status ≥ 400; "HTTP Error 404: Not Found" on stderr; the body only with --fail-with-body),
23 cannot write the output, 28 timeout (--timeout, --max-time, --speed-limit), 33 -C: the server does not resume,
35 TLS failure, 47 too many redirects (-L), 60 certificate not trusted (--cacert, -k),
61 a corrupt compressed body, 63 larger than --max-filesize or a decompression bomb (--max-ratio),
130 interrupted (Ctrl-C or SIGTERM; no partial file is left).`,
    )
    .action(action(async (url: string, opts: GetOpts) => runGet(url, opts)));
}

/** curl's `-u USER[:PASSWORD]`: split at the first colon; no colon, no password. */
function splitUser(value: string): [string, string | undefined] {
  const colon = value.indexOf(":");
  return colon < 0 ? [value, undefined] : [value.slice(0, colon), value.slice(colon + 1)];
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runGet(url: string, opts: GetOpts): Promise<void> {
  const timeoutS = parseDuration("--timeout", opts.timeout, { minMs: 1 }) / 1000;
  const maxTimeS =
    opts.maxTime === undefined
      ? undefined
      : parseDuration("--max-time", opts.maxTime, { minMs: 1, maxMs: 2_000_000_000 }) / 1000;
  const { minBytesPerSecond, lowSpeedTimeMs } = speedLimits(opts.speedLimit, opts.speedTime);
  const maxBodyBytes =
    opts.maxFilesize === undefined ? undefined : parseBytes("--max-filesize", opts.maxFilesize);
  const maxRatio = parseNumber("--max-ratio", opts.maxRatio, { min: 1, max: Number.MAX_SAFE_INTEGER });
  const maxRedirects = Number(opts.maxRedirs);
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0) {
    throw new UsageError(`--max-redirs must be a whole number ≥ 0, got ${JSON.stringify(opts.maxRedirs)}`);
  }
  const isFail = opts.fail === true || opts.failWithBody === true;
  const isQuiet = opts.silent === true && opts.showError !== true;
  // A failure is said once: a reader of stdout that goes away fails the write in progress and
  // also emits 'error' on stdout, whichever comes first.
  let isFailureSaid = false;
  const say = (err: unknown) => {
    if (!isQuiet && !isFailureSaid) reportError(err);
    isFailureSaid = true;
  };
  if (opts.head && (opts.data !== undefined || opts.form.length > 0)) {
    throw new UsageError("-I sends HEAD, which has no body: drop -d/-F");
  }
  if (opts.data !== undefined && opts.form.length > 0) throw new UsageError("give either -d or -F, not both");
  const headers = opts.header.map(parseHeader);
  if (opts.request !== undefined && !HTTP_TOKEN.test(opts.request)) {
    // Node would refuse it only once connected, as if the server had failed.
    throw new UsageError(
      `-X wants an HTTP method, a token such as PUT or PROPFIND, got ${JSON.stringify(opts.request)}`,
    );
  }
  const resolve = Object.fromEntries(opts.resolve.map(parseResolve));
  const ca = opts.cacert === undefined ? undefined : await readCa(opts.cacert);
  const lib = await import("@netlab/url");
  url = withScheme(url);
  checkUrl(lib, url);
  if (opts.output === "") {
    throw new UsageError(
      '-o needs a file name, got ""',
      "give a file (-O names it after the URL), or - for stdout",
    );
  }
  if (opts.remoteName) opts.output = remoteName(lib, url, opts.output);
  // curl's `-o -` is stdout (`-o ./-` is a file named -), and says binary output there is meant.
  const isStdoutAsked = opts.output === "-";
  // --json is stdout's one line: a body there too would be dropped (it was) or break the JSON.
  if (isStdoutAsked && opts.json) {
    throw new UsageError(
      "-o - and --json both write to stdout",
      "give -o FILE for the body (the JSON says where it went), or drop one of them",
    );
  }
  if (isStdoutAsked) opts.output = undefined;
  const resumeFrom = await resumeOffset(opts.continueAt, opts.output);
  if (resumeFrom !== undefined && opts.head) throw new UsageError("give either -C or -I, not both");
  if (resumeFrom !== undefined && resumeFrom > 0) headers.push(["Range", `bytes=${resumeFrom}-`]);
  const hasResolve = opts.resolve.length > 0;
  // -H Authorization wins over -u, as in curl; -u wins over credentials in the URL (Node adds
  // those only when no Authorization header is set).
  const isUserAsked = opts.user !== undefined && !headers.some(([k]) => k.toLowerCase() === "authorization");
  const [user, password] = isUserAsked ? splitUser(opts.user as string) : [];
  if (isUserAsked && password === undefined && !canPrompt()) {
    throw new UsageError(
      `-u ${JSON.stringify(user)} has no password, and there is no terminal to ask for it on`,
      "give -u USER:PASSWORD (other users can see it in ps), or run lab get on a terminal",
    );
  }

  let body = opts.data === undefined ? undefined : await readData(opts.data);
  if (opts.form.length > 0) {
    const form = lib.multipartForm(await Promise.all(opts.form.map(readFormPart)));
    body = form.body;
    if (!headers.some(([k]) => k.toLowerCase() === "content-type"))
      headers.push(["Content-Type", form.contentType]);
  }
  if (body !== undefined && !headers.some(([k]) => k.toLowerCase() === "content-type")) {
    headers.push(["Content-Type", "application/x-www-form-urlencoded"]);
  }

  // The first Ctrl-C, SIGTERM or SIGHUP (a closed terminal) aborts the request (the partial file is removed, exit 130); a second
  // one exits at once.
  const started = Date.now();
  const controller = new AbortController();
  const stopSignals = onInterrupt(() => controller.abort(new Error("interrupted")), { hangup: true });
  // main.ts ends lab at once, with process.exitCode, when stdout's reader goes away (`| head`):
  // that exit is curl's 23, said before it.
  const onStdoutError = (err: Error) => {
    process.exitCode = EXIT_CODES.WRITE_FAILED;
    say(writeError(err));
  };
  process.stdout.prependListener("error", onStdoutError);
  let output: Output | undefined;
  let progress: Progress | undefined;
  let isAnswered = false;
  try {
    if (isUserAsked) {
      // Asked once Ctrl-C is handled: a Ctrl-C at the prompt aborts, and urlopen says so (exit 130).
      const typed =
        password ??
        (await promptToken(`Enter host password for user '${escapeControls(user ?? "")}': `, {
          keepSpaces: true,
        }));
      const basic = Buffer.from(`${user}:${typed ?? ""}`).toString("base64");
      headers.push(["Authorization", `Basic ${basic}`]);
    }
    let res: import("@netlab/url").HttpResponse;
    try {
      res = await lib.urlopen(url, {
        method: opts.request ?? (opts.head ? "HEAD" : undefined),
        headers,
        body,
        timeoutMs: timeoutS * 1000,
        totalTimeoutMs: maxTimeS === undefined ? undefined : maxTimeS * 1000,
        maxBodyBytes,
        minBytesPerSecond,
        lowSpeedTimeMs,
        maxDecompressionRatio: maxRatio,
        maxRedirects,
        followRedirects: opts.location === true,
        throwHttpErrors: isFail,
        onRequestHead: opts.verbose ? (text) => process.stderr.write(verboseHead(">", text)) : undefined,
        resolve: hasResolve ? resolve : undefined,
        ca,
        insecure: opts.insecure,
        lookup: process.env.NETLAB_TEST_RESOLVE_FAIL === "1" ? lib.staticLookup({}) : undefined,
        signal: controller.signal,
      });
    } catch (err) {
      // 416 to a resume: the file is already whole (curl says the same and exits 0).
      if (err instanceof lib.HTTPError && err.status === 416 && (resumeFrom ?? 0) > 0) return;
      if (err instanceof lib.HTTPError && opts.failWithBody) {
        // The body often explains the error; never into -o FILE.
        if (opts.include) process.stdout.write(shown(head("1.1", err.status, err.reason, err.rawHeaders)));
        process.stdout.write(err.body);
      }
      throw err;
    }
    isAnswered = true;
    const statusHead = head(res.httpVersion, res.status, res.reason, res.rawHeaders);
    if (opts.verbose) process.stderr.write(verboseHead("<", statusHead));
    if (!opts.json && (opts.include || opts.head)) process.stdout.write(shown(statusHead));
    const { createHash } = await import("node:crypto");
    const hash = createHash("sha256");
    let bytes = 0;
    const report = () => {
      const fields = { url: res.url, status: res.status, reason: res.reason, httpVersion: res.httpVersion };
      const headers = pairs(res.rawHeaders);
      const seconds = (Date.now() - started) / 1000;
      const file = opts.output ?? null;
      process.stdout.write(
        `${JSON.stringify({ ...fields, headers, bytes, sha256: hash.digest("hex"), seconds, file })}\n`,
      );
    };
    if (opts.head) {
      await res.close();
      if (opts.json) report();
      return;
    }
    if (resumeFrom !== undefined && resumeFrom > 0 && !(await resumable(res, resumeFrom))) return;
    // Opened only now: a refused answer (an HTTP error, a Content-Length over --max-filesize)
    // never creates a file.
    if (opts.output !== undefined) {
      const isAppend = resumeFrom !== undefined && res.status === 206;
      output = await openOutput(opts.output, controller.signal, { isAppend }).catch((err) => {
        void res.close();
        if (controller.signal.aborted) throw err;
        return writeFailed(err);
      });
    }
    // --json reports on stdout: the body goes to -o FILE, or nowhere.
    const dest = output?.stream ?? (opts.json ? undefined : process.stdout);
    // urlopen's own timers stop reading; this stops a wait for a reader that does not read.
    const writeSignal =
      maxTimeS === undefined
        ? controller.signal
        : AbortSignal.any([controller.signal, outputDeadline(maxTimeS - (Date.now() - started) / 1000)]);
    // A decoded body's length is not the Content-Length: the bar then shows bytes, not a ratio.
    const total = res.isDecoded ? undefined : res.contentLength;
    progress =
      !opts.silent && process.stderr.isTTY && (total ?? PROGRESS_MIN_BYTES) >= PROGRESS_MIN_BYTES
        ? new Progress(total, await import("@netlab/core"))
        : undefined;
    // curl's guard: a binary body (a NUL byte) is not poured onto a terminal unless -o - asks.
    const isBinaryGuarded = dest === process.stdout && process.stdout.isTTY === true && !isStdoutAsked;
    for await (const chunk of res.body) {
      if (isBinaryGuarded && chunk.includes(0)) throw binaryOnTerminal();
      progress?.add(chunk.length);
      bytes += chunk.length;
      hash.update(chunk);
      if (dest && !dest.write(chunk)) await drained(dest, writeSignal);
    }
    progress?.done();
    await output?.commit();
    if (opts.json) report();
  } catch (err) {
    progress?.interrupt();
    // --json prints a report even when nothing came back; the lab:/hint: lines still say why.
    if (opts.json && !(err instanceof UsageError)) {
      const status = (err as { status?: unknown }).status;
      const message = err instanceof Error ? err.message : String(err);
      process.stdout.write(
        `${JSON.stringify({ url, status: typeof status === "number" ? status : null, error: message })}\n`,
      );
    }
    const failure = reported(err, controller.signal.aborted, say, lib, {
      isToFile: opts.output !== undefined,
      isAnswered,
    });
    // A write stuck in the kernel (a FIFO nobody reads) would keep the process alive: the partial
    // file is removed if that can be done in time, and the exit does not wait longer for it.
    if (failure instanceof ExitCode) setTimeout(() => process.exit(failure.code), DISCARD_GRACE_MS).unref();
    await output?.discard();
    throw failure;
  } finally {
    process.stdout.off("error", onStdoutError);
    stopSignals();
  }
}

function binaryOnTerminal(): Error {
  return Object.assign(new Error("binary output can mess up your terminal; not printed"), {
    code: "WRITE_FAILED",
    hint: "save it with -o FILE, or print it anyway with -o - (as curl)",
  });
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
  say: (err: unknown) => void,
  lib: typeof import("@netlab/url"),
  { isToFile, isAnswered }: { isToFile: boolean; isAnswered: boolean },
): unknown {
  const code = (err as { code?: string }).code ?? "";
  if (err instanceof lib.URLError && code === "INVALID_URL") return new UsageError(err.message, err.hint);
  if (isInterrupted) {
    const hint = !isAnswered
      ? "the server had not answered yet; run the command again"
      : isToFile
        ? "nothing was saved; run the command again to fetch it"
        : "what was printed is only the start of the body; run the command again to fetch it";
    process.stderr.write(`lab: interrupted\nhint: ${hint}\n`);
    return new ExitCode(130);
  }
  if (err instanceof lib.URLError || code === "WRITE_FAILED" || code === "REQUEST_TIMEOUT") {
    // reportError escapes and cuts the text (a server's reason phrase is in it); the exit code is curl's.
    say(err);
    // Set now, too: main.ts ends lab early, with process.exitCode, when stdout or stderr fails.
    process.exitCode = EXIT_CODES[code] ?? 1;
    return new ExitCode(process.exitCode);
  }
  return err;
}

/**
 * Where `-C` resumes: `-` is the size of `-o FILE` (0 if it does not exist), a number is itself.
 * undefined without -C.
 */
async function resumeOffset(continueAt: string | undefined, output: string | undefined) {
  if (continueAt === undefined) return undefined;
  if (output === undefined) {
    throw new UsageError("-C resumes a file: give -o FILE or -O", "e.g. lab get -C - -o big.iso URL");
  }
  if (continueAt === "-") {
    const { stat } = await import("node:fs/promises");
    return (await stat(output).catch(() => undefined))?.size ?? 0;
  }
  const offset = Number(continueAt);
  if (!/^\d+$/.test(continueAt) || !Number.isSafeInteger(offset)) {
    throw new UsageError(`-C wants - or a byte offset, got ${JSON.stringify(continueAt)}`);
  }
  return offset;
}

/**
 * Whether the answer to a Range request continues the file: 206 from `offset`. A 416 means the
 * file is already whole (nothing to do, exit 0); a 200 or a range from elsewhere cannot be
 * appended, as curl says with exit 33.
 */
async function resumable(res: import("@netlab/url").HttpResponse, offset: number): Promise<boolean> {
  if (res.status === 416) {
    await res.close();
    return false;
  }
  const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
  if (res.status === 206 && Number(start) === offset) return true;
  await res.close();
  reportError({
    message:
      res.status === 206
        ? `the server sent a range from byte ${start ?? "?"}, not ${offset}: cannot resume`
        : `the server does not resume (it answered ${res.status}, not 206 Partial Content)`,
    hint: "fetch the whole file again without -C",
  });
  throw new ExitCode(33);
}

async function readCa(file: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(file, "utf8").catch((err: Error) => {
    throw new UsageError(`cannot read --cacert ${file}: ${err.message}`);
  });
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new UsageError(
      `--cacert ${file} holds no PEM certificate`,
      "give a file with -----BEGIN CERTIFICATE----- blocks",
    );
  }
  return text;
}

function writeFailed(err: { message: string; hint?: string }): never {
  reportError({ message: err.message, hint: err.hint ?? "check that the directory exists and is writable" });
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

/** RFC 9110's token: what a method and a header name are made of. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function parseHeader(h: string): [string, string] {
  const colon = h.indexOf(":");
  const name = colon < 0 ? "" : h.slice(0, colon).trim();
  if (!HTTP_TOKEN.test(name)) {
    throw new UsageError(`-H wants 'Name: value', got ${JSON.stringify(h)}`);
  }
  return [name, h.slice(colon + 1).trim()];
}

/**
 * curl's `--resolve HOST:PORT:ADDR` (ADDR an IPv4 address or a bracketed IPv6 one) as a
 * `"host:port"` → address pair. NETLAB_TEST_RESOLVE_FAIL=1 makes every other name fail with
 * ENOTFOUND without a DNS query, so tests can check exit 6 without touching the network.
 */
function parseResolve(r: string): [string, string] {
  const m = /^([^:\s]+):(\d{1,5}):(\[[0-9a-fA-F:.]+\]|[0-9a-fA-F:.]+)$/.exec(r);
  const port = m ? Number(m[2]) : 0;
  const address = m ? m[3]!.replace(/^\[(.*)\]$/, "$1") : "";
  if (!m || port < 1 || port > 65535 || isIP(address) === 0) {
    throw new UsageError(
      `--resolve wants HOST:PORT:ADDR (as curl), got ${JSON.stringify(r)}`,
      "e.g. --resolve example.test:8080:127.0.0.1 or --resolve example.test:443:[::1]",
    );
  }
  return [`${m[1]!.toLowerCase()}:${port}`, address];
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

/**
 * curl's `-O`: the last segment of the URL's path as it is fetched (not decoded, query left
 * out), a file in the current folder. A URL ending in `/` names no file (curl: exit 23).
 */
function remoteName(lib: typeof import("@netlab/url"), url: string, output: string | undefined): string {
  if (output !== undefined) throw new UsageError("give either -o FILE or -O, not both");
  const view = lib.whatwg(url);
  const name = view.ok ? view.path.slice(view.path.lastIndexOf("/") + 1) : "";
  if (name === "" || name === "." || name === "..") {
    throw new UsageError(
      `-O names the file after the URL's last path segment, and ${url} has none`,
      "give the file's name with -o FILE",
    );
  }
  return name;
}

/** curl's own guesses for an uploaded file's type, by extension (others: application/octet-stream). */
const CURL_FILE_TYPES: Record<string, string> = {
  gif: "image/gif",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  svg: "image/svg+xml",
  txt: "text/plain",
  htm: "text/html",
  html: "text/html",
  pdf: "application/pdf",
  xml: "application/xml",
};

function guessType(file: string): string | undefined {
  const ext = /\.([^./]+)$/.exec(file)?.[1]?.toLowerCase();
  return ext === undefined ? undefined : CURL_FILE_TYPES[ext];
}

/**
 * One `-F` as curl reads it: `name=value`, `name=@FILE` (a file upload, named by its base name),
 * `name=<FILE` (FILE's contents as the value), with an optional `;type=TYPE` after a file.
 */
async function readFormPart(spec: string): Promise<import("@netlab/url").FormPart> {
  const eq = spec.indexOf("=");
  if (eq <= 0)
    throw new UsageError(`-F wants name=value, name=@FILE or name=<FILE, got ${JSON.stringify(spec)}`);
  const name = spec.slice(0, eq);
  const value = spec.slice(eq + 1);
  if (!value.startsWith("@") && !value.startsWith("<")) return { name, value };
  const typed = /^(.*);type=([^;]+)$/.exec(value.slice(1));
  const file = typed ? typed[1]! : value.slice(1);
  const { readFile } = await import("node:fs/promises");
  const { basename } = await import("node:path");
  const contents = await readFile(file).catch((err: Error) => {
    throw new UsageError(`-F ${name}: cannot read ${file}: ${err.message}`);
  });
  return value.startsWith("@")
    ? { name, value: contents, filename: basename(file), contentType: typed?.[2] ?? guessType(file) }
    : { name, value: contents, contentType: typed?.[2] };
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

/** A URL without a scheme means http://, as curl takes `127.0.0.1:8000/x` or `example.test/`. */
function withScheme(url: string): string {
  // As http://unix:/path, the grammar's socket address would be a lookup of a host named "unix".
  if (/^(unix:|@)/i.test(url)) {
    throw new UsageError(
      `${JSON.stringify(url)} is a Unix socket address; lab get speaks HTTP over TCP`,
      "give an http:// URL, such as http://127.0.0.1:8000/",
    );
  }
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
}

/** The status line and headers as `curl -i` shows them: as received, the server's case and order. */
/** `[name, value, name, value]` as `[[name, value], …]`: the order and case they came in. */
function pairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] ?? "", raw[i + 1] ?? ""]);
  return out;
}

function head(version: string, status: number, reason: string, raw: readonly string[]): string {
  const lines = [`HTTP/${version} ${status}${reason ? ` ${reason}` : ""}`];
  for (let i = 0; i + 1 < raw.length; i += 2) lines.push(`${raw[i]}: ${raw[i + 1]}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/** On a terminal the server's text is shown, never obeyed (control and bidi characters escaped); piped, it is kept exact. */
function shown(text: string): string {
  if (!process.stdout.isTTY) return text;
  return text
    .split("\r\n")
    .map((line) => escapeControls(line))
    .join("\r\n");
}

/** A head as curl -v prints it on stderr: each line behind `> ` (sent) or `< ` (received), escaped. */
function verboseHead(mark: ">" | "<", text: string): string {
  const lines = text.replace(/(\r\n)+$/, "").split("\r\n");
  return `${lines.map((line) => `${mark} ${escapeControls(line)}`).join("\n")}\n${mark} \n`;
}
