#!/usr/bin/env node
import { main } from "./program.js";

// A reader that goes away (`lab ... | head`, a closed terminal) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "EIO") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

await main(process.argv);
