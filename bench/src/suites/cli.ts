import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Suite } from "../types.js";
import { fmt, median, nowMs } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * `lab --help` start-up against `node -e 0`: commands must load their packages lazily. `lab` on
 * PATH is a link to the same bin.js, so it costs what `lab --help` costs here; `pnpm lab` is shown
 * for what the link saves.
 */
export const cliSuite: Suite = {
  name: "cli",
  description: "lab --help wall time against node -e 0 (and pnpm -s lab --help)",
  async run(ctx) {
    const runs = Math.max(5, Math.round(20 * ctx.scale));
    const cases: Record<string, string[]> = {
      "node -e 0": [process.execPath, "-e", "0"],
      "lab --help": [process.execPath, LAB_BIN, "--help"],
      "lab --version": [process.execPath, LAB_BIN, "--version"],
    };
    // What `pnpm lab` adds before lab starts (pnpm is itself a Node program), when pnpm is installed.
    if (spawnSync("pnpm", ["--version"], { stdio: "ignore" }).status === 0) {
      cases["pnpm -s lab --help"] = ["pnpm", "-s", "--dir", ROOT, "lab", "--help"];
    }
    const times: Record<string, number[]> = {};
    // Interleaved so that machine noise hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, [command, ...args]] of Object.entries(cases)) {
        const start = nowMs();
        const r = spawnSync(command!, args, { stdio: "ignore" });
        if (r.status !== 0) throw new Error(`${name} exited ${r.status}`);
        const list = times[name] ?? [];
        list.push(nowMs() - start);
        times[name] = list;
      }
    }
    const base = median(times["node -e 0"]!);
    return [
      {
        title: "CLI start-up (median wall time)",
        columns: ["command", "median ms", "× node -e 0"],
        rows: Object.keys(cases).map((name) => {
          const m = median(times[name]!);
          return [name, fmt(m, 1), `${(m / base).toFixed(2)}×`];
        }),
        notes: [`${runs} runs each, interleaved. Target: lab --help ≤ 1.5 × node -e 0.`],
      },
    ];
  },
};
