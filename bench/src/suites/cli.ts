import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Suite } from "../types.js";
import { fmt, median, nowMs } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));

/** `lab --help` start-up against `node -e 0`: commands must load their packages lazily. */
export const cliSuite: Suite = {
  name: "cli",
  description: "lab --help wall time against node -e 0",
  async run(ctx) {
    const runs = Math.max(5, Math.round(20 * ctx.scale));
    const cases = {
      "node -e 0": ["-e", "0"],
      "lab --help": [LAB_BIN, "--help"],
      "lab --version": [LAB_BIN, "--version"],
    };
    const times: Record<string, number[]> = {};
    // Interleaved so that machine noise hits every case alike.
    for (let i = 0; i < runs; i++) {
      for (const [name, args] of Object.entries(cases)) {
        const start = nowMs();
        const r = spawnSync(process.execPath, args, { stdio: "ignore" });
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
