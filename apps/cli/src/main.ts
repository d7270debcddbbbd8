#!/usr/bin/env node
import { main } from "./program.js";
import { ExitCode, reportError } from "./run.js";

// A reader that goes away (`lab ... | head`, a closed terminal) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "EIO") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

// The last line of defence: an error a library throws from an event handler, or a promise nobody
// awaited, would otherwise end `lab` with Node's stack trace. It ends as every failure does.
const crash = (err: unknown) => {
  if (process.env.NETLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  const e = err as { message?: unknown; hint?: unknown } | undefined;
  process.exitCode = reportError(
    err instanceof ExitCode
      ? err
      : {
          message: typeof e?.message === "string" ? e.message : String(err),
          hint: typeof e?.hint === "string" ? e.hint : "this is a bug in lab; NETLAB_DEBUG=1 shows where",
        },
  );
  process.exit();
};
process.on("uncaughtException", crash);
process.on("unhandledRejection", crash);

await main(process.argv);
