import { spawn } from "node:child_process";
import net from "node:net";
import { PassThrough } from "node:stream";
import {
  createStage,
  normalizeToxic,
  Pipeline,
  type StageHost,
  type ToxicSpec,
  toxicRandom,
} from "@netlab/proxy";
import { CheckError, requireInt } from "./errors.js";
import { seeded, word } from "./random.js";
import { killOnExit } from "./target.js";
import type { CheckReport, TestResult } from "./types.js";

/** What netlab, playing the server, does with the learner's client's line. */
type Behaviour = "slices" | "half-closes" | "resets-mid-response" | "never-answers";

/** One test of `--role client`: netlab plays a misbehaving line server (upper-casing). */
interface ClientTest {
  id: string;
  title: string;
  behaviour: Behaviour;
  /** The client must exit 0 having printed the reply (`ok`), or exit non-zero saying why (`error`). */
  expect: "ok" | "error";
  timeoutMs: number;
  hint: string;
}

/** The client tests, in the order they run. */
export const CLIENT_TESTS: readonly ClientTest[] = [
  {
    id: "client.reassembles",
    title: "a reply that arrives one byte per read is printed whole",
    behaviour: "slices",
    expect: "ok",
    timeoutMs: 10_000,
    hint: "read until the newline (sock.makefile().readline(), or loop on recv()); one recv() is not one reply",
  },
  {
    id: "client.half-close",
    title: "a server that answers and then half-closes (FIN) gets a clean exit 0",
    behaviour: "half-closes",
    expect: "ok",
    timeoutMs: 10_000,
    hint: "an empty recv() after the reply is the server's EOF: finish normally",
  },
  {
    id: "client.reset-mid-response",
    title: "a connection reset in the middle of the reply is reported as an error (non-zero exit, a message)",
    behaviour: "resets-mid-response",
    expect: "error",
    timeoutMs: 10_000,
    hint: "catch ConnectionResetError (and an EOF before the newline), print what happened to stderr, exit non-zero",
  },
  {
    id: "client.never-answers",
    title: "a server that never answers makes the client give up with an error before 8 s",
    behaviour: "never-answers",
    expect: "error",
    timeoutMs: 8_000,
    hint: "set a timeout (sock.settimeout(5)) and report it: a client must not hang forever",
  },
];

/** Options for {@link runClientCheck}. */
export interface ClientCheckOptions {
  /** The client's command; `{host}` and `{port}` are substituted (both must appear). */
  argv: string[];
  seed?: number;
  only?: string[];
  /** Every test's deadline in ms, instead of its own. */
  timeoutMs?: number;
  /** Called once the command and options are found sound, before the first test (for a header). */
  onStart?: () => void;
  onResult?: (result: TestResult) => void;
}

/** Longest client output kept, per stream. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * `lab check --role client`: for each test netlab listens on a free port as a misbehaving line
 * server (it upper-cases the client's line, but slices, resets, half-closes or never answers),
 * runs the client with `{host} {port}`, gives it one line on stdin, and judges its output and exit.
 * @example await runClientCheck({ argv: ["python3", "client.py", "{host}", "{port}"] })
 */
export async function runClientCheck(options: ClientCheckOptions): Promise<CheckReport> {
  // netlab's misbehaving server is a TCP one (its faults are TCP's: segments, RST): a client that
  // speaks only Unix sockets is not graded here, and is told so rather than asked for {port}.
  if (options.argv.some((a) => a.includes("{socket}"))) {
    throw new CheckError(
      "INVALID_OPTION",
      "--role client serves your client over TCP: {socket} is for grading a server",
      {
        hint: `give the client {host} and {port}: lab check line --role client -- ${options.argv
          .filter((a) => !a.includes("{socket}"))
          .join(" ")} {host} {port}`,
      },
    );
  }
  if (!options.argv.some((a) => a.includes("{port}"))) {
    throw new CheckError(
      "PORT_PLACEHOLDER_MISSING",
      "the client's command has no {port}: netlab cannot tell it where to connect",
      {
        hint: `lab check line --role client -- ${options.argv.join(" ")} {host} {port}`,
      },
    );
  }
  const seed = options.seed ?? 1;
  requireInt("seed", seed, { min: 0, max: 2 ** 32 - 1 });
  const ids = new Set(CLIENT_TESTS.map((t) => t.id));
  for (const id of options.only ?? []) {
    if (!ids.has(id)) {
      throw new CheckError("UNKNOWN_TEST", `--role client has no test ${JSON.stringify(id)}`, {
        hint: `its tests: ${[...ids].join(", ")}`,
      });
    }
  }
  const tests = options.only?.length
    ? CLIENT_TESTS.filter((t) => options.only?.includes(t.id))
    : CLIENT_TESTS;
  const startedAt = new Date();
  const t0 = performance.now();
  const results: TestResult[] = [];
  options.onStart?.();
  for (const test of tests) {
    const result = await runClientTest(test, options, seed);
    results.push(result);
    options.onResult?.(result);
  }
  return {
    profile: "line --role client",
    target: options.argv.join(" "),
    seed,
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(performance.now() - t0),
    results,
  };
}

/** Pause between the reply's one-byte slices in `client.reassembles`, µs. */
const SLICE_GAP_US = 50_000;

/** Writes `data` to `socket` through lab proxy's slicer (1 byte per segment), in-process. */
function sliced(socket: net.Socket, seed: number): PassThrough {
  const pass = new PassThrough();
  const host: StageHost = {
    reset: () => socket.resetAndDestroy(),
    close: () => socket.destroy(),
    sharedBandwidth: new Map(),
  };
  // 50 ms between bytes: a client that takes one recv() for the reply gets the first byte alone,
  // however slowly a loaded machine schedules it.
  const spec: ToxicSpec = {
    type: "slicer",
    stream: "downstream",
    attributes: { average_size: 1, delay: SLICE_GAP_US },
  };
  const toxic = normalizeToxic(spec);
  const pipeline = new Pipeline(pass, socket, {
    connection: 1,
    direction: "downstream",
    maxBufferedBytes: 64 * 1024,
    onEnd: () => {},
  });
  pipeline.setStages([createStage(toxic, host, toxicRandom(seed, toxic.name, 1))]);
  return pass;
}

async function runClientTest(
  test: ClientTest,
  options: ClientCheckOptions,
  seed: number,
): Promise<TestResult> {
  const timeoutMs = options.timeoutMs ?? test.timeoutMs;
  const random = seeded(seed, test.id);
  const line = `hello ${word(random, 8)}`;
  const reply = line.toUpperCase();
  const sockets = new Set<net.Socket>();
  let received = "";
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let buf = "";
    socket.on("data", (d: Buffer) => {
      if (buf.includes("\n")) return;
      buf += d.toString("latin1");
      received = buf;
      if (!buf.includes("\n")) return;
      const answer = Buffer.from(
        `${buf.slice(0, buf.indexOf("\n")).replace(/\r$/, "").toUpperCase()}\n`,
        "latin1",
      );
      if (test.behaviour === "slices") sliced(socket, seed).end(answer);
      else if (test.behaviour === "half-closes") socket.end(answer);
      else if (test.behaviour === "resets-mid-response")
        socket.write(answer.subarray(0, 3), () => setTimeout(() => socket.resetAndDestroy(), 50));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as net.AddressInfo).port;
  const started = performance.now();
  const base = { id: test.id, title: test.title, durationMs: 0 };
  try {
    const run = await runClient(
      options.argv,
      { host: "127.0.0.1", port: String(port) },
      `${line}\n`,
      timeoutMs,
    );
    const durationMs = Math.round(performance.now() - started);
    const said = `exit ${run.code ?? "none"}${run.timedOut ? " (killed at the deadline)" : ""}; stdout ${JSON.stringify(run.stdout.slice(0, 200))}; stderr ${JSON.stringify(run.stderr.trim().split("\n").slice(-2).join(" | ").slice(0, 200))}`;
    const excerpt = `the line netlab received from the client: ${JSON.stringify(received.slice(0, 200))}`;
    const fail = (expected: string, hint = test.hint): TestResult => ({
      ...base,
      durationMs,
      status: "fail",
      expected,
      observed: said,
      hint,
      excerpt,
    });
    // Without its line the misbehaviour never happened: an exit with an error is then not a pass.
    if (!received.includes("\n") && !run.timedOut) {
      return fail(
        `the client to connect and send its line (${JSON.stringify(`${line}\n`)}), then ${test.expect === "ok" ? "exit 0" : "report the error"}`,
        "connect to the {host} and {port} netlab puts in the command, send the line read from stdin, end it with \\n",
      );
    }
    if (run.timedOut) return fail(`the client to finish within ${timeoutMs / 1000} s`);
    if (test.expect === "ok") {
      if (run.code !== 0 || !run.stdout.includes(reply))
        return fail(`exit 0 with ${JSON.stringify(reply)} printed`);
    } else if (run.code === 0 || run.stderr.trim() === "") {
      return fail("a non-zero exit and a message on stderr");
    }
    return { ...base, durationMs, status: "pass" };
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
}

interface ClientRun {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs the client to its end, or kills it (SIGKILL, by its pid) at the deadline. */
function runClient(
  argv: string[],
  values: Record<string, string>,
  input: string,
  timeoutMs: number,
): Promise<ClientRun> {
  const args = argv.map((a) => a.replace(/\{(host|port)\}/g, (_, k: string) => values[k] as string));
  const [command, ...rest] = args as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(command, rest, { stdio: ["pipe", "pipe", "pipe"] });
    const unhook = killOnExit(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const keep = (s: string, d: Buffer) => (s.length < MAX_OUTPUT_BYTES ? s + d.toString("utf8") : s);
    child.stdout.on("data", (d: Buffer) => (stdout = keep(stdout, d)));
    child.stderr.on("data", (d: Buffer) => (stderr = keep(stderr, d)));
    child.stdin.on("error", () => {});
    child.stdin.end(input);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      unhook();
      resolve({ code: null, stdout, stderr: `${stderr}${err.message}`, timedOut: false });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      unhook();
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}
