import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Report, Suite } from "../types.js";
import { fmt, hasCommand, median, nowMs } from "../util.js";

const LAB_BIN = fileURLToPath(new URL("../../../apps/cli/dist/bin.js", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/**
 * `lab --help` start-up against `node -e 0`: commands must load their packages lazily. `lab` on
 * PATH is a link to the same bin.js, so it costs what `lab --help` costs here; `pnpm lab` is shown
 * for what the link saves.
 */
export const cliSuite: Suite = {
  name: "cli",
  description:
    "lab --help wall time against node -e 0 (and pnpm -s lab --help); lab client piped through an echo server against a raw Node pipe and ncat",
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
      await pipedClient(Math.max(3, Math.round(7 * ctx.scale)), ctx.log),
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

/** A line echo server in a process of its own: what comes in goes back, FIN after the last byte. */
const ECHO_SERVER = `
const s = require("node:net").createServer({ allowHalfOpen: true }, (c) => { c.pipe(c); c.on("error", () => {}); });
s.listen(0, "127.0.0.1", () => console.log("port " + s.address().port));`;

/** The least a Node program does to pipe stdin to a socket and the socket to stdout. */
const RAW_PIPE = `
const s = require("node:net").connect({ port: Number(process.argv[1]), host: "127.0.0.1", allowHalfOpen: true });
process.stdin.pipe(s); s.pipe(process.stdout);`;

const PIPED_LINES = 200_000;

/**
 * \`lab client --port P < lines > /dev/null\` through an echo server, against a raw Node pipe and
 * ncat doing the same: the chat client's cost per line when a program feeds it. Its time includes
 * its wait for the last replies (\`--wait\`, 500 ms of quiet by default) and its goodbye; the others end on the FIN.
 */
async function pipedClient(runs: number, log: (line: string) => void): Promise<Report> {
  const dir = mkdtempSync(join(os.tmpdir(), "netlab-bench-cli-"));
  const input = join(dir, "lines.txt");
  writeFileSync(input, "hello\n".repeat(PIPED_LINES));
  const server = spawn(process.execPath, ["-e", ECHO_SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await firstPort(server);
    const cases: Record<string, string[]> = {
      "raw Node: stdin.pipe(socket), socket.pipe(stdout) (baseline)": [
        process.execPath,
        "-e",
        RAW_PIPE,
        String(port),
      ],
      "lab client --port P (its --wait: 500 ms of quiet after the input)": [
        process.execPath,
        LAB_BIN,
        "client",
        "--port",
        String(port),
      ],
    };
    if (hasCommand("ncat")) cases["ncat 127.0.0.1 P (comparison)"] = ["ncat", "127.0.0.1", String(port)];
    else log("ncat not found: its row is left out (apt-get install ncat)");
    const times: Record<string, number[]> = {};
    for (let i = 0; i < runs; i++) {
      for (const [name, [command, ...args]] of Object.entries(cases)) {
        log(`piped client run ${i + 1}/${runs}: ${name}`);
        const start = nowMs();
        const r = spawnSync("sh", ["-c", '"$0" "$@" < "$INPUT" | wc -c', command!, ...args], {
          env: { ...process.env, INPUT: input },
          encoding: "utf8",
          timeout: 120_000,
        });
        const bytes = Number(r.stdout.trim());
        if (r.status !== 0 || bytes !== PIPED_LINES * 6) {
          throw new Error(
            `${name}: exit ${r.status}, ${bytes} bytes back of ${PIPED_LINES * 6}: ${r.stderr}`,
          );
        }
        const list = times[name] ?? [];
        list.push(nowMs() - start);
        times[name] = list;
      }
    }
    const names = Object.keys(cases);
    const base = median(times[names[0]!]!);
    return {
      title: `lab client piped: ${fmt(PIPED_LINES, 0)} lines through a line echo server (median wall time)`,
      columns: ["command", "median ms", "lines/s", "× raw Node"],
      rows: names.map((name) => {
        const m = median(times[name]!);
        return [name, fmt(m, 0), fmt(PIPED_LINES / (m / 1000), 0), `${(m / base).toFixed(2)}×`];
      }),
      notes: [
        `${runs} runs each, interleaved; every run checks that all ${fmt(PIPED_LINES * 6, 0)} bytes came back. Each command reads the lines from a file on stdin and writes what the server echoes to \`wc -c\`; the server is a Node echo in a process of its own. lab client parses each line it prints (a chat event or a plain line) and holds its input to what the server has taken; its time includes start-up (see the table below) and the 500 ms of quiet it waits for after the last reply (\`--wait\`), since a line server need not close.`,
      ],
    };
  } finally {
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

function firstPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve(Number(line.split(" ")[1])));
    child.once("exit", (code) => reject(new Error(`echo server exited ${code}`)));
  });
}
