// What the instruction-counting scripts (echo-instructions.mjs, chat-wakeup.mjs) share: driving a
// child that runs under `valgrind --tool=callgrind`, and reading its dump.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * Sends `flag` (`-z` zero the counters, `-d` dump) to the callgrind guest `pid`. callgrind takes a
 * command only while the guest runs code, so `poke` (one unit of work against it) is repeated until
 * the command is taken.
 */
export async function callgrindControl(pid, flag, poke) {
  let isDone = false;
  const keepBusy = (async () => {
    while (!isDone) await poke();
  })();
  execFileSync("callgrind_control", [flag, String(pid)], { stdio: "ignore" });
  isDone = true;
  await keepBusy;
}

/** The instructions counted in the first callgrind dump in `outDir` (since the last `-z`). */
export function dumpedInstructions(outDir) {
  const dump = fs.readdirSync(outDir).find((f) => f.startsWith("callgrind.out."));
  const text = fs.readFileSync(path.join(outDir, dump), "utf8");
  return Number(text.match(/^(?:totals|summary): (\d+)/m)[1]);
}
