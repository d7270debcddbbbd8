import { setMaxListeners } from "node:events";
import { stat } from "node:fs/promises";
import net from "node:net";
import { Duplex } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import tls from "node:tls";
import { describeErrno, formatSocketPath, type SocketTarget } from "@netlab/core";
import { Conn, ConnectTimeout, type ConnOptions, formatTarget, WaitTimeout } from "./conn.js";
import { CheckError, requireInt, requirePositiveInt } from "./errors.js";
import { fail, TestFailure } from "./failure.js";
import { hexExcerpt } from "./hex.js";
import { PROFILES } from "./profiles/index.js";
import { seeded } from "./random.js";
import type { StartedTarget } from "./target.js";
import type { CheckInputs, CheckReport, CheckTest, Profile, TestContext, TestResult } from "./types.js";

/**
 * Options for {@link runCheck}: where the server is — `host` and `port`, or `path`, a Unix socket
 * (NUL + name for an abstract one) — and how to grade it.
 */
export type CheckOptions = CheckRunOptions & SocketTarget;

/** {@link CheckOptions} besides where the server is. */
export interface CheckRunOptions {
  profile: string;
  /** How the report names the target (`127.0.0.1:5001`, `unix:/path`, or the command). Default the address. */
  targetLabel?: string;
  /** Test ids to run (all when empty or absent); unknown ones are UNKNOWN_TEST. */
  only?: string[];
  /** Seed of every payload and choice. Default 1. */
  seed?: number;
  /** Every test's deadline in ms, instead of its own. */
  timeoutMs?: number;
  inputs?: CheckInputs;
  /** Called once the target proved it listens, before the first test. */
  onStart?: () => void;
  /** Called as each test ends, for live output. */
  onResult?: (result: TestResult) => void;
  /** Called with each test's transcripts, for `--transcript DIR`. */
  onTranscript?: (testId: string, conns: Conn[]) => void | Promise<void>;
  /**
   * For a program netlab started: how it ended, if it has ({@link StartedTarget.ended}). A port that
   * stops answering mid-run is then reported as the crash it is, with the program's last words.
   */
  targetEnded?: () => string | undefined;
}

/**
 * {@link CheckOptions} defaults, and the fixed bounds of a run: `maxObservedChars` is the longest
 * `observed` a report quotes (a server's 16 MiB line would otherwise be the report; the excerpt
 * still shows where it went wrong).
 */
export const CHECK_DEFAULTS = {
  seed: 1,
  greetingWaitMs: 300,
  maxObservedChars: 300,
  /** How long a probe connection before the tests waits, after its FIN, for the target to close its side. */
  probeLingerMs: 1000,
} as const;

/** How long after its deadline a test's connections are given to close before the next test. */
const SETTLE_MS = 50;

/** The profile called `name`, or UNKNOWN_PROFILE naming the choices. */
export function getProfile(name: string): Profile {
  const profile = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined;
  if (!profile) {
    throw new CheckError("UNKNOWN_PROFILE", `unknown profile ${JSON.stringify(name)}`, {
      hint: `choose one of: ${Object.keys(PROFILES).join(", ")}`,
    });
  }
  return profile;
}

/** The tests `only` selects, in the profile's order; UNKNOWN_TEST for an id the profile lacks. */
export function selectTests(profile: Profile, only: string[] | undefined): CheckTest[] {
  if (!only || only.length === 0) return profile.tests;
  const ids = new Set(profile.tests.map((t) => t.id));
  for (const id of only) {
    if (!ids.has(id)) {
      throw new CheckError("UNKNOWN_TEST", `profile ${profile.name} has no test ${JSON.stringify(id)}`, {
        hint: `its tests: ${[...ids].join(", ")}`,
      });
    }
  }
  return profile.tests.filter((t) => only.includes(t.id));
}

/**
 * Grades the server at `host:port` with one profile: checks that it listens (NOT_LISTENING
 * otherwise) and does not speak TLS, runs each selected test under its deadline, one at a time, and
 * returns every result. A failing test is a result; only a target that cannot be graded throws.
 * @example const report = await runCheck({ profile: "line", host: "127.0.0.1", port: 5001 });
 */
export async function runCheck(options: CheckOptions): Promise<CheckReport> {
  const profile = getProfile(options.profile);
  const tests = selectTests(profile, options.only);
  const seed = options.seed ?? CHECK_DEFAULTS.seed;
  requireInt("seed", seed, { min: 0, max: 2 ** 32 - 1 });
  if (options.timeoutMs !== undefined) requirePositiveInt("timeoutMs", options.timeoutMs);
  const inputs = options.inputs ?? {};
  if (profile.needs === "file" && !inputs.file) {
    throw new CheckError("MISSING_INPUT", "the transfer profile needs the file the server sends", {
      hint: "give it with --file PATH, or put {file} in the command and netlab makes one",
    });
  }
  if (profile.needs === "root" && !inputs.root) {
    throw new CheckError("MISSING_INPUT", "the http profile needs the folder the server serves", {
      hint: "put {dir} in the command and netlab fills a folder, or give --root DIR with hello.txt and bytes.bin in it",
    });
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const report = (results: TestResult[], notes: string[] = []): CheckReport => ({
    profile: profile.name,
    target: label(options),
    seed,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    results,
    ...(notes.length ? { notes } : {}),
  });
  const target = targetOf(options);
  await preflight(target);
  options.onStart?.();

  let state: Record<string, unknown> = {};
  const run = (test: CheckTest) => runOne(test, options, target, seed, inputs, state);
  const { prepare, diagnose } = profile;
  if (prepare) {
    const { result, value } = await runStep(run, `${profile.name}.prepare`, 5_000, prepare);
    if (result.status === "fail") {
      // The variant could not be told: every test would fail the same way; say it once per test.
      const results = tests.map((t) => ({ ...result, id: t.id, title: asRun(t, target).title }));
      for (const x of results) options.onResult?.(x);
      return report(results);
    }
    state = value ?? {};
  }
  const results: TestResult[] = [];
  for (const test of tests) {
    const result = await run(test);
    results.push(result);
    options.onResult?.(result);
  }
  let note: string | undefined;
  if (diagnose && results.some((r) => r.status === "fail")) {
    // A look that fails or finds nothing adds no note: the results stand on their own.
    const look = await runStep(run, `${profile.name}.diagnose`, 3_000, (ctx) => diagnose(ctx, results)).catch(
      () => undefined,
    );
    note = look?.value;
  }
  return report(results, note ? [note] : []);
}

/**
 * Runs a profile's own step (`prepare`, `diagnose`) the way a test runs: under a deadline, its
 * connections closed after. Returns the step's result, and what it returned if it passed.
 */
async function runStep<T>(
  run: (test: CheckTest) => Promise<TestResult>,
  id: string,
  timeoutMs: number,
  body: (ctx: TestContext) => Promise<T>,
): Promise<{ result: TestResult; value?: T }> {
  let value: T | undefined;
  const result = await run({
    id,
    title: "",
    timeoutMs,
    hint: "",
    run: async (ctx) => {
      value = await body(ctx);
    },
  });
  return { result, value };
}

function label(o: CheckOptions): string {
  return o.targetLabel ?? formatTarget(targetOf(o));
}

/** A lesson that TCP teaches one way and a Unix socket another is graded, and named, as the latter. */
function asRun(test: CheckTest, target: SocketTarget): CheckTest {
  if (!("path" in target) || !test.overUnix) return test;
  const { title = test.title, hint = test.hint } = test.overUnix;
  return { ...test, title, hint };
}

/** Where `o` says the server is, as `net.connect` takes it. */
function targetOf(o: CheckOptions): SocketTarget {
  return "path" in o ? { path: o.path } : { host: o.host, port: o.port };
}

/**
 * What is at a Unix socket path before we connect: nothing (NOT_LISTENING, exit 3, as a refused
 * port), something that is no socket (NOT_A_SOCKET: the path is wrong), or a folder we may not
 * enter (PERMISSION_DENIED).
 */
async function checkSocketFile(path: string): Promise<void> {
  const where = formatSocketPath(path);
  const stats = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") {
      throw new CheckError("NOT_LISTENING", `no socket at ${where}: nothing listens there`, {
        hint: "is the server running? it makes the socket file when it listens (check the path)",
      });
    }
    if (err.code === "EACCES") {
      throw permissionDenied(
        path,
        "a folder on the path may not be entered (no x permission): run lab check as the server's user, or chmod the folder",
      );
    }
    if (err.code === "ENOTDIR") {
      throw new CheckError("NOT_A_SOCKET", `${where}: a part of the path is a file, not a folder`, {
        hint: "give the path the server listens on",
      });
    }
    throw err;
  });
  if (stats.isSocket()) return;
  const what = stats.isDirectory() ? "a folder" : stats.isFile() ? "a regular file" : "not a file";
  throw new CheckError("NOT_A_SOCKET", `${where} is ${what}, not a socket`, {
    hint: "give the path the server listens on (ls -l shows an s first for a socket)",
  });
}

function permissionDenied(path: string, hint: string): CheckError {
  return new CheckError(
    "PERMISSION_DENIED",
    `cannot connect to ${formatSocketPath(path)}: permission denied`,
    {
      hint,
    },
  );
}

/** A NOT_LISTENING that was a refusal (not a missing file). */
function refused(err: CheckError): boolean {
  return (
    err.code === "NOT_LISTENING" && (err.cause as NodeJS.ErrnoException | undefined)?.code === "ECONNREFUSED"
  );
}

/** A socket file is there, and nothing listens behind it: what a server that died leaves. */
function staleSocket(path: string): CheckError {
  return new CheckError(
    "NOT_LISTENING",
    `connection to ${formatSocketPath(path)} refused: the socket file is there, but nothing listens on it`,
    {
      hint: "a server that exited leaves its socket file behind: start the server (it should remove the old file before it binds)",
    },
  );
}

/** A TLS record header (handshake or alert, version 3.x): what a TLS server answers plain text with. */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 3 &&
    (bytes[0] === 0x16 || bytes[0] === 0x15) &&
    bytes[1] === 0x03 &&
    (bytes[2] ?? 9) <= 0x04
  );
}

function tlsError(target: SocketTarget): CheckError {
  const plain = "path" in target ? "plain bytes" : "plain TCP";
  return new CheckError(
    "TARGET_SPEAKS_TLS",
    `${formatTarget(target)} answered with a TLS record (first byte 0x16/0x15): it speaks TLS, not ${plain}`,
    {
      hint: `lab check talks ${plain}: run the server without TLS, or check its plain ${"path" in target ? "socket" : "port"}`,
    },
  );
}

/**
 * One connection before the tests: the target must accept it (NOT_LISTENING otherwise). A target
 * that says nothing first gets a TLS ClientHello on a second connection: a handshake that completes
 * means it speaks TLS, and every test would fail for that one reason.
 */
async function preflight(target: SocketTarget): Promise<void> {
  // A file-system socket is looked at first: a missing file, a file that is no socket and a
  // folder we may not enter each say so, instead of a bare ENOENT or ECONNREFUSED.
  const isFile = "path" in target && !target.path.startsWith("\0");
  if (isFile) await checkSocketFile(target.path);
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 2_000);
  let conn: Conn | undefined;
  try {
    conn = await Conn.open(target, "preflight", ac.signal).catch((err) => {
      if (err instanceof CheckError) throw isFile && refused(err) ? staleSocket(target.path) : err;
      // Reset before our side saw the connection complete: something listens, accepted and reset
      // it at once (a race on loopback). The tests will say so; it is not "nothing listens".
      if ((err as NodeJS.ErrnoException).code === "ECONNRESET") return undefined;
      // Connecting to a socket needs write permission on its file (root needs none).
      if ("path" in target && (err as NodeJS.ErrnoException).code === "EACCES") {
        throw permissionDenied(
          target.path,
          "connecting needs write permission on the socket file: run lab check as the server's user, or have the server chmod its socket",
        );
      }
      // The shared wording (a name that does not resolve says so), with check's own hint for a refusal.
      const said = describeErrno(err, { action: "connect", ...target });
      throw new CheckError("NOT_LISTENING", said.message, {
        hint: said.code === "CONNECTION_REFUSED" ? "is the server running, on that port?" : said.hint,
      });
    });
    if (conn === undefined) return;
    const c = conn;
    const greeted = await c
      .waitFor(
        "a greeting",
        () => (c.receivedBytes > 0 || c.end !== "open" ? true : undefined),
        CHECK_DEFAULTS.greetingWaitMs,
      )
      .catch(() => false);
    if (greeted) {
      if (looksLikeTls(c.received)) throw tlsError(target);
      return;
    }
    // Closed before the TLS probe: a server that serves one client at a time answers the probe
    // only once this connection is gone (and one that answered it after we gave up wrote into a
    // closed socket, got an RST and, unguarded, died of it before the first test).
    conn = undefined;
    await closeGently(c.socket);
    if (await speaksTls(target)) throw tlsError(target);
  } finally {
    clearTimeout(timer);
    if (conn) await closeGently(conn.socket);
  }
}

/**
 * Closes a probe connection as a polite client does: a FIN, then what the target still sends is
 * read and dropped until it closes its side (at most `probeLingerMs`). A close at once would
 * answer the target's next write with an RST, and a learner's single-loop server that does not
 * catch BrokenPipeError died of it before the first test, so every test failed for that one
 * lesson (which line.reset-mid-line teaches on its own). Resolves once the socket is closed.
 */
async function closeGently(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), CHECK_DEFAULTS.probeLingerMs);
  socket.on("error", () => socket.destroy());
  socket.resume();
  socket.end();
  // Not events.once: it rejects on the 'error' (a reset) that closes the socket just as well.
  await new Promise((resolve) => socket.once("close", resolve));
  clearTimeout(timer);
}

/** Whether a TLS handshake with `target` completes (certificates not checked) within the greeting wait. */
function speaksTls(target: SocketTarget): Promise<boolean> {
  return new Promise((resolve) => {
    // TLS over a stream of our own rather than over the socket itself (TLS would take its handle
    // and close it with the target's unread bytes: an RST), so it can be closed gently.
    const raw = net.connect(target);
    raw.on("error", () => {});
    // The socket's own errors are its own: TLS sees them as the end of its input.
    const bridge = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        if (!raw.destroyed) raw.write(chunk);
        callback();
      },
    });
    const toTls = (data: Buffer) => bridge.push(data);
    let isInputOver = false;
    const endTls = () => {
      if (isInputOver) return;
      isInputOver = true;
      bridge.push(null);
    };
    raw.on("data", toTls);
    raw.once("end", endTls);
    raw.once("close", endTls);
    const socket = tls.connect({ socket: bridge, rejectUnauthorized: false, servername: undefined });
    let isDone = false;
    const done = (answer: boolean) => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      raw.off("data", toTls);
      socket.destroy();
      closeGently(raw).then(() => resolve(answer));
    };
    const timer = setTimeout(() => done(false), CHECK_DEFAULTS.greetingWaitMs * 2);
    socket.once("secureConnect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("close", () => done(false));
  });
}

async function runOne(
  test: CheckTest,
  options: CheckOptions,
  target: SocketTarget,
  seed: number,
  inputs: CheckInputs,
  state: Record<string, unknown>,
): Promise<TestResult> {
  test = asRun(test, target);
  const timeoutMs = options.timeoutMs ?? test.timeoutMs;
  const ac = new AbortController();
  // Every connection and wait of a test listens on its signal: 50 clients are more than 10.
  setMaxListeners(0, ac.signal);
  const conns: Conn[] = [];
  let opened = 0;
  const ctx: TestContext = {
    target,
    seed,
    random: seeded(seed, test.id),
    signal: ac.signal,
    inputs,
    state,
    async open(label: string, connOptions?: Partial<ConnOptions>) {
      // Toxic draws are seeded by the run's seed, the test and the connection's number in it.
      const id = ++opened;
      const conn = await Conn.open(target, label, ac.signal, {
        seed: seedFor(seed, test.id),
        id,
        ...connOptions,
      });
      conns.push(conn);
      if (ac.signal.aborted) conn.destroy();
      return conn;
    },
    pace: (ms) => delay(ms, undefined, { signal: ac.signal }).catch(() => {}),
  };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"deadline">((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve("deadline");
    }, timeoutMs);
  });
  let result: TestResult;
  try {
    const outcome = await Promise.race([test.run(ctx).then(() => "done" as const), deadline]);
    if (outcome === "deadline") {
      fail({
        expected: `the test to finish within ${timeoutMs / 1000} s`,
        observed: "it was still waiting on the target at its deadline",
      });
    }
    result = { id: test.id, title: test.title, status: "pass", durationMs: 0 };
  } catch (err) {
    // A target that cannot be graded at all (a missing input): not one test's failure.
    if (err instanceof CheckError && err.code !== "NOT_LISTENING") throw err;
    result = failed(test, err, conns, timeoutMs, "path" in target);
  } finally {
    clearTimeout(timer);
    ac.abort();
    for (const c of conns) c.destroy();
  }
  result.durationMs = Math.round(performance.now() - started);
  if (result.status === "fail" && conns.some((c) => looksLikeTls(c.received))) throw tlsError(target);
  if (!/\.(prepare|diagnose)$/.test(test.id)) await options.onTranscript?.(test.id, conns);
  // Let the target see the closes before the next test opens its connections (and a program that
  // crashed be seen to have exited).
  await delay(SETTLE_MS);
  const ended = result.status === "fail" ? options.targetEnded?.() : undefined;
  if (ended) {
    result.observed = `${result.observed ?? ""}; the program ${ended.slice(0, CHECK_DEFAULTS.maxObservedChars)}`;
    result.hint =
      "the program crashed (its last words above): run it by hand, and repeat the first test that failed alone with --only";
  }
  return result;
}

/** The run's seed mixed with a test id, as a u32. */
function seedFor(seed: number, testId: string): number {
  return Math.floor(seeded(seed, testId)() * 2 ** 32);
}

function failed(
  test: CheckTest,
  err: unknown,
  conns: Conn[],
  timeoutMs: number,
  isUnix: boolean,
): TestResult {
  const result = failure(test, err, conns, timeoutMs, isUnix);
  const max = CHECK_DEFAULTS.maxObservedChars;
  const observed = result.observed ?? "";
  if (observed.length > max) result.observed = `${observed.slice(0, max)}… (${observed.length} characters)`;
  return result;
}

function failure(
  test: CheckTest,
  err: unknown,
  conns: Conn[],
  timeoutMs: number,
  isUnix: boolean,
): TestResult {
  const base = { id: test.id, title: test.title, status: "fail" as const, durationMs: 0, hint: test.hint };
  if (err instanceof TestFailure) {
    const { expected, observed, hint, conn, side = "received", at } = err.info;
    return {
      ...base,
      expected,
      observed,
      hint: hint ?? test.hint,
      excerpt: excerpt(conn ?? conns.at(-1), side, at),
    };
  }
  if (err instanceof ConnectTimeout) {
    return {
      ...base,
      expected: `${err.what} within ${(err.ms ?? timeoutMs) / 1000} s`,
      observed: isUnix
        ? "the server never accepted it (its listen backlog stayed full: it is not calling accept())"
        : "the server never accepted it (no answer to the TCP handshake: a full listen backlog drops new ones)",
    };
  }
  if (err instanceof WaitTimeout) {
    return {
      ...base,
      expected: `${err.what} within ${(err.ms ?? timeoutMs) / 1000} s`,
      observed: "nothing more arrived before the deadline",
      excerpt: excerpt(err.conn ?? conns.at(-1), "received", undefined),
    };
  }
  if (err instanceof CheckError && err.code === "NOT_LISTENING") {
    return {
      ...base,
      expected: "the server to accept a connection",
      observed: err.message,
      hint: "it listened when the run began: did it crash during an earlier test?",
      excerpt: excerpt(conns.at(-1), "received", undefined),
    };
  }
  const e = err as NodeJS.ErrnoException;
  const what =
    e?.code === "ECONNRESET" || e?.code === "EPIPE"
      ? "the server reset the connection"
      : `${e?.message ?? String(err)}`;
  return {
    ...base,
    expected: "the connection to stay usable",
    observed: what,
    excerpt: excerpt(conns.at(-1), "received", undefined),
  };
}

function excerpt(
  conn: Conn | undefined,
  side: "sent" | "received",
  at: number | undefined,
): string | undefined {
  if (!conn) return undefined;
  const t = conn.transcript();
  const bytes = side === "sent" ? t.sent.bytes : t.received.bytes;
  const total = side === "sent" ? t.sent.total : t.received.total;
  const where = at ?? Math.max(0, bytes.length - 1);
  const head = `${conn.label}, ${side === "sent" ? "sent to" : "received from"} the server (${total} bytes in all, ended: ${t.end}), around offset ${where}:`;
  return `${head}\n${hexExcerpt(bytes, where)}`;
}
