import type { SocketTarget } from "@netlab/core";
import type { Conn, ConnOptions } from "./conn.js";
import type { Random } from "./random.js";

/** What the tests of a profile may need besides the address: the file a sender sends, a web root. */
export interface CheckInputs {
  /** transfer: the bytes the server should send. */
  file?: Buffer;
  /** http: a folder holding the files the server serves (`hello.txt`, `bytes.bin`). */
  root?: string;
}

/** What one test gets: where the target is, its deadline, its seeded generator, its connections. */
export interface TestContext {
  /** Where the server is: `{ host, port }`, or `{ path }` of a Unix socket (`"path" in target`). */
  target: SocketTarget;
  seed: number;
  /** Seeded from the run's seed and this test's id. */
  random: Random;
  /** Aborts at the test's deadline: every wait on a {@link Conn} ends then. */
  signal: AbortSignal;
  inputs: CheckInputs;
  /** What the profile's `prepare` found (the line server's transform, the chat dialect). */
  state: Record<string, unknown>;
  /** Opens a connection that the runner closes after the test. */
  open(label: string, options?: Partial<ConnOptions>): Promise<Conn>;
  /** Resolves after `ms`, or at the test's deadline. For pacing a slow reader, never for waiting on the target. */
  pace(ms: number): Promise<void>;
}

/** One test: an id named for its lesson, a one-line statement of the lesson, its deadline, a hint. */
export interface CheckTest {
  /** `profile.lesson`, e.g. `line.partial-line`. */
  id: string;
  /** The behaviour checked, as a sentence a learner reads in the report. */
  title: string;
  /** Deadline, ms; `--timeout` lowers or raises every test's. */
  timeoutMs: number;
  /** What to look at when it fails. */
  hint: string;
  run(ctx: TestContext): Promise<void>;
  /**
   * What the report says instead over a Unix socket: the title of a lesson TCP teaches one way and
   * a Unix socket another (an RST), the hint where the fix is spelled another way there
   * (`ThreadingUnixStreamServer`), so the report says what was checked and how to fix it.
   */
  overUnix?: { title?: string; hint?: string };
}

/** A set of tests for one kind of server. */
export interface Profile {
  name: string;
  summary: string;
  /** Which inputs the profile needs, for the usage error when one is missing. */
  needs?: "file" | "root";
  tests: CheckTest[];
  /** Runs once before the tests (after the target listens), to learn its variant. */
  prepare?(ctx: TestContext): Promise<Record<string, unknown>>;
  /**
   * Runs once after a run with failures, to name a cause they may share (an echo target that answers
   * only whole lines is a line server): a note for the report, or `undefined`.
   */
  diagnose?(ctx: TestContext, results: readonly TestResult[]): Promise<string | undefined>;
}

/** The outcome of one test, as every report format shows it. */
export interface TestResult {
  id: string;
  title: string;
  status: "pass" | "fail";
  durationMs: number;
  expected?: string;
  observed?: string;
  hint?: string;
  /** Hex dump of the transcript around the failure, with the connection and direction named. */
  excerpt?: string;
}

/** A whole run. */
export interface CheckReport {
  profile: string;
  target: string;
  seed: number;
  startedAt: string;
  durationMs: number;
  results: TestResult[];
  /** What the profile's `diagnose` made of the failures, for the end of the report. */
  notes?: string[];
}
