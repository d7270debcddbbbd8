import type { Command } from "commander";
import { importFromCheckout } from "../checkout.js";
import { action, UsageError } from "../run.js";

/** `lab bench [SUITE...]`: the same runner as `pnpm bench`. */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("measure netlab against raw Node (and ncat/socat when installed)")
    .argument("[suites...]", "suites to run (default: all); e.g. cli echo chat transfer udp")
    .option("--json", "print results as JSON")
    .option("--quick", "a shorter, noisier run")
    .addHelpText("after", "\nExample:\n  lab bench cli echo --quick")
    .action(
      action(async (names: string[], opts: { json?: boolean; quick?: boolean }) => {
        const { runBench } = await importFromCheckout("lab bench", () => import("@netlab/bench"));
        await runBench({
          names,
          json: opts.json ?? false,
          scale: opts.quick ? 0.2 : 1,
          command: `lab bench ${names.join(" ")}`.trim(),
        }).catch((err: { code?: string; message: string; hint?: string }) => {
          // A misspelt suite is the user's mistake (exit 2), as an unknown profile is for lab check.
          throw err.code === "UNKNOWN_BENCHMARK" ? new UsageError(err.message, err.hint) : err;
        });
      }),
    );
}
