import type { Command } from "commander";
import { parseDuration, parseNumber } from "../options.js";
import { action, ExitCode, reportError, UsageError } from "../run.js";
import { EXIT_INTERRUPTED, onInterrupt } from "../signals.js";

/** The profiles, for --help without importing @netlab/check (kept equal to its PROFILES). */
const PROFILE_HELP = `
Profiles (each test is named for the lesson it checks; --only picks some):
  echo       a byte echo server (RFC 862): all 256 byte values, 1 MiB, 1-byte slices, 5 and 50
             clients, half-close, a client that stops reading
  line       the seed's line server (echo or upper): split lines, several in one read, CRLF, a
             1 MiB line, NUL and invalid UTF-8, a reset mid-line, 50 clients
  chat       netlab's chat or a budget chat (name prompt): greeting, name rules, broadcast,
             join/leave once, order of 1,000 messages, a member that stops reading
  transfer   a raw file sender: exact bytes, EOF after the file, a slow reader (needs --file or {file})
  http       a first web server: GET text and binary, 404, HEAD, keep-alive, an idle client
             (needs {dir} or --root)`;

/** Exit code when the target never listened (or its command exited first). */
export const EXIT_NOT_LISTENING = 3;

const FORMATS = ["human", "tap", "junit", "json"] as const;
type Format = (typeof FORMATS)[number];

interface CheckOpts {
  role: string;
  only?: string;
  format: string;
  json?: boolean;
  seed: string;
  timeout?: string;
  transcript?: string;
  file?: string;
  root?: string;
  startupTimeout: string;
}

/** `lab check PROFILE TARGET`: grade a server (an address, or a command netlab starts) with one profile. */
export function registerCheck(program: Command): void {
  program
    .command("check")
    .description("test your own server the way the network will: slicing, resets, slow and silent peers")
    .argument("<profile>", "what kind of server: echo, line, chat, transfer, http")
    .argument(
      "[target...]",
      "HOST:PORT, PORT, unix:/path or @name, or -- CMD ARGS with {port} (or {socket}) where the program takes its address",
    )
    .option(
      "--role <role>",
      "server: test your server; client: netlab plays a misbehaving line server for your client",
      "server",
    )
    .option("--only <ids>", "run only these tests, comma-separated (e.g. line.partial-line,line.crlf)")
    .option("--format <format>", `report format: ${FORMATS.join(", ")}`, "human")
    .option("--json", "the report as JSON, as every command's --json (same as --format json)")
    .option("--seed <n>", "seed of every payload, name and fault: the same seed gives the same report", "1")
    .option("--timeout <time>", "every test's deadline, instead of its own (3–20 s each by default)")
    .option("--transcript <dir>", "write each test's bytes, both ways, as a hex dump to DIR/ID.txt")
    .option("--file <path>", "transfer: the file the server sends (or put {file} in the command)")
    .option(
      "--root <dir>",
      "http: the folder the server serves, holding hello.txt and bytes.bin (or put {dir} in the command)",
    )
    .option("--startup-timeout <time>", "with a command: how long it has to start listening", "10s")
    .addHelpText(
      "after",
      `${PROFILE_HELP}

With a command, netlab picks a free port, substitutes {port} (and {host}, {file}, {dir}), starts
the program, waits for the port, runs the tests, and stops the program by its process id.
{socket} instead of {port}: a Unix socket path in a fresh private temp folder, removed afterwards.
Over a Unix socket every profile runs; line.reset-mid-line becomes a hang-up (no RST there).

Exit: 0 all passed, 1 some failed (or permission denied), 2 usage (or a path that is no socket),
3 the target never listened (nothing at that address or socket path).

Examples:
  lab check line 127.0.0.1:5001
  lab check line unix:/tmp/upper.sock
  lab check echo -- python3 echo_server.py {port}
  lab check echo -- python3 unix_echo.py {socket}
  lab check chat --format junit -- python3 chat.py {port} > report.xml
  lab check transfer -- python3 sender.py {port} {file}
  lab check http --only http.head,http.not-found -- python3 web.py {port} {dir}
  lab check line --role client -- python3 client.py {host} {port}   (the client gets one line on stdin)`,
    )
    .action(
      action(async (profile: string, target: string[], opts: CheckOpts, cmd: Command) =>
        runCheckCommand(profile, target, opts, cmd),
      ),
    );
}

/** The command line as typed, `--` included (commander drops it from the arguments). */
function rawArgs(cmd: Command): string[] {
  let root: Command = cmd;
  while (root.parent) root = root.parent;
  // rawArgs is commander's record of argv, untyped in its declarations.
  return (root as unknown as { rawArgs?: string[] }).rawArgs ?? [];
}

/** Whether `--` came before the target on the command line. */
function hadDoubleDash(cmd: Command): boolean {
  return rawArgs(cmd).includes("--");
}

/**
 * For a profile that is not one: the command line in the right order, when the words came in
 * another (`lab check 127.0.0.1:5001 line`, or `lab check -- python3 server.py {port}`).
 */
function profileOrderHint(
  profiles: readonly string[],
  profileName: string,
  target: string[],
  cmd: Command,
): string | undefined {
  const args = rawArgs(cmd);
  const dash = args.indexOf("--");
  if (dash >= 0 && args.indexOf(profileName) > dash) {
    return `name the profile before --: lab check PROFILE -- ${[profileName, ...target].join(" ")} (PROFILE: ${profiles.join(", ")})`;
  }
  const given = target.find((w) => profiles.includes(w));
  if (given !== undefined && dash < 0) return `the profile comes first: lab check ${given} ${profileName}`;
  return undefined;
}

async function runCheckCommand(
  profileName: string,
  target: string[],
  opts: CheckOpts,
  cmd: Command,
): Promise<void> {
  if (opts.json && opts.format !== "human" && opts.format !== "json") {
    throw new UsageError(
      `--json and --format ${JSON.stringify(opts.format)} ask for two reports`,
      "give one of them",
    );
  }
  const format = (opts.json ? "json" : opts.format) as Format;
  if (!FORMATS.includes(format)) {
    throw new UsageError(
      `unknown --format ${JSON.stringify(opts.format)}`,
      `choose one of: ${FORMATS.join(", ")}`,
    );
  }
  const seed = parseNumber("--seed", opts.seed, { min: 0, max: 2 ** 32 - 1, integer: true });
  const timeoutMs =
    opts.timeout === undefined
      ? undefined
      : parseDuration("--timeout", opts.timeout, { minMs: 100, maxMs: 600_000 });
  const startupTimeoutMs = parseDuration("--startup-timeout", opts.startupTimeout, {
    minMs: 100,
    maxMs: 600_000,
  });
  const only = opts.only
    ?.split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const isCommand = hadDoubleDash(cmd);
  if (target.length === 0)
    throw new UsageError("no target: give HOST:PORT, PORT, unix:/path, or -- CMD ARGS with {port}");
  if (!isCommand && target.length > 1) {
    throw new UsageError(
      `one address expected, got ${target.length} words`,
      `to run a program, put it after --: lab check ${profileName} -- ${target.join(" ")}`,
    );
  }

  const check = await import("@netlab/check");
  if (opts.role !== "server") {
    if (opts.role !== "client")
      throw new UsageError(`unknown --role ${JSON.stringify(opts.role)}`, "choose server or client");
    await runClientRole(check, profileName, target, isCommand, { format, seed, timeoutMs, only });
    return;
  }
  // Usage mistakes first, before anything starts.
  const usage = (err: unknown): never => {
    const e = err as { code?: string; message: string; hint?: string };
    throw new UsageError(e.message, e.hint);
  };
  try {
    check.selectTests(check.getProfile(profileName), only);
  } catch (err) {
    const hint =
      err instanceof check.CheckError && err.code === "UNKNOWN_PROFILE"
        ? profileOrderHint(Object.keys(check.PROFILES), profileName, target, cmd)
        : undefined;
    usage(hint === undefined ? err : { message: (err as Error).message, hint });
  }
  const address = isCommand
    ? undefined
    : (() => {
        try {
          return check.parseAddress(target[0] as string);
        } catch (err) {
          return usage(err);
        }
      })();
  const hasPort = target.some((a) => a.includes("{port}"));
  const hasSocket = target.some((a) => a.includes("{socket}"));
  if (isCommand && !hasPort && !hasSocket) {
    usage(
      new check.CheckError(
        "PORT_PLACEHOLDER_MISSING",
        "the command has no {port} or {socket}: netlab cannot tell it where to listen",
        {
          hint: `write {port} where the program takes its port (or {socket} for a Unix socket path): lab check ${profileName} -- ${target.join(" ")} {port}`,
        },
      ),
    );
  }
  if (isCommand && hasPort && hasSocket) {
    throw new UsageError(
      "the command has both {port} and {socket}: netlab grades one",
      "keep {port} for a TCP server, or {socket} for a Unix socket server",
    );
  }
  const { readFile, rm } = await import("node:fs/promises");
  const { makeDirectory } = await import("@netlab/core");
  // `-` is stdout elsewhere in lab; here stdout holds the report, and a transcript is many files.
  if (opts.transcript === "-") {
    throw new UsageError(
      "--transcript takes a folder for one file per test, not - (stdout is lab check's report)",
      "give a folder, such as --transcript transcripts (made if missing)",
    );
  }
  // A folder that cannot be made is a usage mistake: said now, not as Node's EEXIST after a test.
  if (opts.transcript !== undefined) {
    await makeDirectory(opts.transcript).catch((err: NodeJS.ErrnoException) => {
      const why =
        err.code === "EEXIST" || err.code === "ENOTDIR"
          ? "a file is in the way"
          : err.code === "EACCES" || err.code === "EPERM" || err.code === "EROFS"
            ? "permission denied"
            : (err.code ?? err.message);
      throw new UsageError(
        `--transcript ${opts.transcript}: cannot make that folder (${why})`,
        "give a folder you can write to; it is made if missing",
      );
    });
  }

  let made: { folder: string; file: string; dir: string } | undefined;
  let started: import("@netlab/check").StartedTarget | undefined;
  const stopSignals = onInterrupt(() => {
    void (async () => {
      await started?.stop();
      if (made) await rm(made.folder, { recursive: true, force: true });
      process.exit(EXIT_INTERRUPTED);
    })();
  });
  try {
    const inputs: import("@netlab/check").CheckInputs = {};
    const needsMade = isCommand && target.some((a) => a.includes("{file}") || a.includes("{dir}"));
    if (needsMade) made = await check.makeInputs(seed);
    const file = opts.file ?? (target.some((a) => a.includes("{file}")) ? made?.file : undefined);
    if (file !== undefined) {
      inputs.file = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read --file ${file}: ${err.code ?? err.message}`);
      });
    }
    inputs.root = opts.root ?? (target.some((a) => a.includes("{dir}")) ? made?.dir : undefined);

    let where: import("@netlab/core").SocketTarget;
    if (address) {
      where = address;
    } else {
      started = await check.startTarget(target, {
        startupTimeoutMs,
        placeholders: made ? { file: made.file, dir: made.dir } : {},
      });
      where = started.target;
    }
    const targetLabel = isCommand ? target.join(" ") : undefined;
    const transcriptDir = opts.transcript;
    const report = await check.runCheck({
      profile: profileName,
      ...where,
      targetLabel,
      only,
      seed,
      timeoutMs,
      inputs,
      targetEnded: started?.ended,
      onStart: () => {
        if (format === "human")
          process.stdout.write(
            check.humanHeader(profileName, targetLabel ?? check.formatTarget(where), seed),
          );
      },
      onResult: format === "human" ? (r) => process.stdout.write(check.humanResult(r)) : undefined,
      onTranscript: transcriptDir
        ? (id, conns) => check.writeTranscript(transcriptDir, id, conns)
        : undefined,
    });
    const text = {
      human: () => check.humanSummary(report),
      tap: () => check.formatTap(report),
      junit: () => check.formatJunit(report),
      json: () => check.formatJson(report),
    }[format]();
    process.stdout.write(text);
    if (report.results.some((r) => r.status === "fail")) throw new ExitCode(1);
  } catch (err) {
    const code = (err as { code?: string }).code;
    // A path that is no socket is a mistake in the command line, as an unknown profile is.
    if (code === "MISSING_INPUT" || code === "NOT_A_SOCKET") usage(err);
    if (code === "NOT_LISTENING" || code === "TARGET_EXITED") {
      // Printed (escaped: it may quote the program's stderr) the way every failure is, then exit 3.
      reportError(err, "lab check");
      throw new ExitCode(EXIT_NOT_LISTENING);
    }
    throw err;
  } finally {
    stopSignals();
    await started?.stop();
    if (made) await rm(made.folder, { recursive: true, force: true });
  }
}

/** `--role client`: the learner's client against netlab's misbehaving line server. */
async function runClientRole(
  check: typeof import("@netlab/check"),
  profileName: string,
  target: string[],
  isCommand: boolean,
  o: { format: Format; seed: number; timeoutMs: number | undefined; only: string[] | undefined },
): Promise<void> {
  if (profileName !== "line") {
    throw new UsageError(
      `--role client checks line clients only, not ${JSON.stringify(profileName)}`,
      "lab check line --role client -- CMD {host} {port}",
    );
  }
  if (!isCommand)
    throw new UsageError(
      "--role client needs the client's command after --",
      "lab check line --role client -- python3 client.py {host} {port}",
    );
  let report: import("@netlab/check").CheckReport;
  try {
    report = await check.runClientCheck({
      argv: target,
      seed: o.seed,
      only: o.only,
      timeoutMs: o.timeoutMs,
      // The header once the command is found sound: a usage error prints nothing on stdout.
      onStart: () => {
        if (o.format === "human")
          process.stdout.write(check.humanHeader("line --role client", target.join(" "), o.seed));
      },
      onResult: o.format === "human" ? (r) => process.stdout.write(check.humanResult(r)) : undefined,
    });
  } catch (err) {
    const e = err as { code?: string; message: string; hint?: string };
    if (e.code === "UNKNOWN_TEST" || e.code === "PORT_PLACEHOLDER_MISSING" || e.code === "INVALID_OPTION")
      throw new UsageError(e.message, e.hint);
    throw err;
  }
  const text = {
    human: () => check.humanSummary(report),
    tap: () => check.formatTap(report),
    junit: () => check.formatJunit(report),
    json: () => check.formatJson(report),
  }[o.format]();
  process.stdout.write(text);
  if (report.results.some((r) => r.status === "fail")) throw new ExitCode(1);
}
