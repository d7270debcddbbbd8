import type { Command } from "commander";
import { registerBench } from "./bench.js";
import { registerCheck } from "./check.js";
import { registerClient } from "./client.js";
import { registerCompletion } from "./completion.js";
import { registerDemo } from "./demo.js";
import { registerExamples } from "./examples.js";
import { registerFiles } from "./files.js";
import { registerGet } from "./get.js";
import { registerProxy } from "./proxy.js";
import { registerReplay } from "./replay.js";
import { registerServer } from "./server.js";
import { registerTransfer } from "./transfer.js";
import { registerUdp } from "./udp.js";
import { registerUrl } from "./url.js";

/** A command module: adds its command (options, help, lazy action) to the program. */
export type Register = (program: Command) => void;

/**
 * Every command, in the order `lab --help` lists them. Each module imports only commander and
 * types at the top, and its feature package inside the action, so `lab --help` stays fast.
 */
export const commands: Register[] = [
  registerDemo,
  registerServer,
  registerClient,
  registerFiles,
  registerTransfer,
  registerUdp,
  registerProxy,
  registerCheck,
  registerReplay,
  registerExamples,
  registerUrl,
  registerGet,
  registerBench,
  registerCompletion,
];
