import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runBench } from "./runner.js";
import { suites } from "./suites/index.js";

const USAGE = `usage: pnpm bench [SUITE...] [--json] [--write] [--quick]
  SUITE    one or more of: ${suites.map((s) => s.name).join(", ")} (default: all)
  --json   print the results as JSON
  --write  also rewrite each suite's section of docs/benchmarks.md
  --quick  a fifth of the work per row: a smoke run, not figures to quote
`;

let parsed: ReturnType<typeof readArgs>;
try {
  parsed = readArgs();
} catch (err) {
  // parseArgs' own text, without its stack: an unknown flag is a usage error.
  process.stderr.write(`bench: ${(err as Error).message.split(". ")[0]}
hint: pnpm bench --help
`);
  process.exit(2);
}
const { values, positionals } = parsed;
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

function readArgs() {
  return parseArgs({
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      write: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
}
try {
  await runBench({
    names: positionals,
    json: values.json,
    scale: values.quick ? 0.2 : 1,
    writeTo: values.write ? fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url)) : undefined,
    command: `pnpm bench ${process.argv.slice(2).join(" ")}`.trim(),
  });
} catch (err) {
  const e = err as { message: string; hint?: string; code?: string };
  process.stderr.write(`bench: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ""}`);
  process.exitCode = e.code === "UNKNOWN_BENCHMARK" ? 2 : 1;
}
