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
 * Every command module with the top-level commands it registers, in the order `lab --help` lists them. Each module imports only commander
 * and types at the top, and its feature package inside the action, so `lab --help` stays fast. The
 * names let `lab NAME …` register that module alone (a test holds them to what it registers).
 */
export const commands: ReadonlyArray<readonly [names: readonly string[], register: Register]> = [
  [["demo"], registerDemo],
  [["server"], registerServer],
  [["client"], registerClient],
  [["files"], registerFiles],
  [["transfer"], registerTransfer],
  [["udp"], registerUdp],
  [["proxy"], registerProxy],
  [["check"], registerCheck],
  [["replay", "session"], registerReplay],
  [["examples"], registerExamples],
  [["url"], registerUrl],
  [["get"], registerGet],
  [["bench"], registerBench],
  [["completion"], registerCompletion],
];
