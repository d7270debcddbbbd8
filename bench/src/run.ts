import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runBench } from "./runner.js";

// `pnpm bench [SUITE...] [--json] [--write] [--quick]`
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
try {
  await runBench({
    names: positionals,
    json: values.json,
    scale: values.quick ? 0.2 : 1,
    writeTo: values.write ? fileURLToPath(new URL("../../docs/benchmarks.md", import.meta.url)) : undefined,
    command: `pnpm bench ${process.argv.slice(2).join(" ")}`.trim(),
  });
} catch (err) {
  const e = err as { message: string; hint?: string };
  process.stderr.write(`bench: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ""}`);
  process.exitCode = 1;
}
