import type { ExampleInfo } from "@netlab/examples";
import type { Command } from "commander";
import { importFromCheckout } from "../checkout.js";
import { action, ExitCode, UsageError } from "../run.js";

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** `lab examples` lists the runnable examples; `lab examples run NAME` runs one. */
export function registerExamples(program: Command): void {
  const examples = program
    .command("examples")
    .description("list the runnable examples, one line each, grouped by topic")
    .option("--json", "print the list as JSON")
    .addHelpText(
      "after",
      "\nExamples:\n  lab examples              list them\n  lab examples run event    run the traffic-light Event example\n",
    )
    // A word after `lab examples` is a mistyped `run` or an example's name: said as commander says
    // an unknown command, not as "too many arguments".
    .allowExcessArguments()
    .action(
      action(async (opts: { json?: boolean }, cmd: Command) => {
        const [word] = cmd.args;
        if (word !== undefined) {
          throw new UsageError(
            `unknown command '${word}'`,
            `did you mean ${nearRun(word) ? "run" : `'lab examples run ${word}'`}? run 'lab examples --help' for usage`,
          );
        }
        const { examples: list } = await importFromCheckout("lab examples", () => import("@netlab/examples"));
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(list)}\n`);
          return;
        }
        process.stdout.write(formatList(list));
      }),
    );

  examples
    .command("run")
    .description("run one example (node examples/dist/NAME.js) and exit with its exit code")
    .argument("<name>", "the example's name, as `lab examples` lists it")
    .argument("[args...]", "passed on to the example, options too (run priority-queue 3: its seed)")
    .allowUnknownOption()
    .addHelpText("after", "\nExample:\n  lab examples run shared-counter\n")
    .action(
      action(async (name: string, args: string[]) => {
        const { examples: list } = await importFromCheckout("lab examples", () => import("@netlab/examples"));
        const info = list.find((e) => e.name === name);
        if (!info) throw unknownExample(name, list);
        // An example that takes no arguments would ignore them: `run echo-server --port 9000`
        // would then listen on a port of its own while the user dials 9000.
        if (args.length > 0 && info.args === undefined) {
          throw new UsageError(
            `example '${name}' takes no arguments, got '${args.join(" ")}'`,
            `run it as: lab examples run ${name}`,
          );
        }
        const code = await runExample(info, args);
        if (code !== 0) throw new ExitCode(code);
      }),
    );
}

/** A mistyped `run` (`rn`, `runx`, `ran`): one letter added, dropped or changed. */
function nearRun(word: string): boolean {
  const w = word.toLowerCase();
  // Levenshtein distance to "run", one row at a time.
  let row = [0, 1, 2, 3];
  for (const ch of w) {
    const next = [row[0]! + 1];
    for (let j = 1; j <= 3; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + ("run"[j - 1] === ch ? 0 : 1));
    }
    row = next;
  }
  return row[3]! <= 1;
}

/** The list, grouped by topic in first-seen order, names aligned. */
function formatList(list: readonly ExampleInfo[]): string {
  if (list.length === 0) return "no examples are registered\n";
  const width = Math.max(...list.map((e) => e.name.length));
  const topics = [...new Set(list.map((e) => e.topic))];
  const blocks = topics.map((topic) => {
    const lines = list.filter((e) => e.topic === topic).map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`);
    return `${topic}\n${lines.join("\n")}\n`;
  });
  return `${blocks.join("\n")}\nrun one with: lab examples run NAME\n`;
}

/**
 * Preloaded into each example: a reader that goes away (`lab examples run X | head`) ends it
 * quietly, as it ends `lab` itself (main.ts), instead of with Node's EPIPE stack trace.
 */
const QUIET_EPIPE = `data:text/javascript,${encodeURIComponent(
  "for (const s of [process.stdout, process.stderr]) s.on('error', (e) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });",
)}`;

/** Runs the built example with inherited stdio; resolves with its exit code (128+n for a signal). */
async function runExample(info: ExampleInfo, args: string[]): Promise<number> {
  const { spawn } = await import("node:child_process");
  const { existsSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const file = fileURLToPath(new URL(`./${info.name}.js`, import.meta.resolve("@netlab/examples")));
  if (!existsSync(file)) {
    throw Object.assign(new Error(`example ${info.name} is not built (${file} is missing)`), {
      code: "NOT_BUILT",
      hint: "run pnpm build",
    });
  }
  process.stderr.write(`▶ ${info.name}: ${info.summary}\n`);
  const child = spawn(process.execPath, ["--import", QUIET_EPIPE, file, ...args], { stdio: "inherit" });
  // Ctrl-C on a terminal reaches the child too; a signal sent to `lab` alone is passed on.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  const signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  for (const s of signals) process.on(s, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? 128 + (SIGNALS[signal ?? ""] ?? 0)));
    });
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}

/** A usage error naming the examples closest to `name`. */
function unknownExample(name: string, list: readonly ExampleInfo[]): UsageError {
  const close = list
    .map((e) => ({ name: e.name, d: distance(name, e.name) }))
    .filter(
      (e) =>
        e.d <= Math.max(2, Math.floor(e.name.length / 3)) || e.name.includes(name) || name.includes(e.name),
    )
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((e) => e.name);
  const message = `no example named '${name}'${close.length ? ` (did you mean ${close.join(", ")}?)` : ""}`;
  return new UsageError(message, "run 'lab examples' for the list");
}

/** Levenshtein distance: names are short, so the plain table is fine. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
