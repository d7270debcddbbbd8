import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { commands } from "../../apps/cli/src/commands/index.js";
import { buildProgram } from "../../apps/cli/src/program.js";
import { runLab, runProcess } from "../helpers/lab.js";

const BENCH_BIN = fileURLToPath(new URL("../../bench/dist/run.js", import.meta.url));

describe("lab (the CLI skeleton)", () => {
  it("prints usage for --help and exits 0", async () => {
    const r = await runLab(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: lab /);
    expect(r.stdout).toContain("Examples:");
    expect(r.stderr).toBe("");
  });

  it("shows an example in every command's --help, as the README promises", { timeout: 60_000 }, async () => {
    // The command paths as the program knows them: the case labels of its bash completion.
    const script = (await runLab(["completion", "bash"])).stdout;
    const paths = [...script.matchAll(/^ {4}"lab ([^"]+)"\)/gm)].map((m) => m[1]!.split(" "));
    expect(paths.length).toBeGreaterThan(20);
    const helps = await Promise.all(
      paths.map(async (p) => [p.join(" "), (await runLab([...p, "--help"])).stdout]),
    );
    expect(helps.filter(([, help]) => !/^Examples?:$/m.test(help!)).map(([p]) => p)).toEqual([]);
  });

  it("--help loads no package's index: commands import their packages when they run", async () => {
    // A static import of "@netlab/core" (not a subpath such as "@netlab/core/units") loads every
    // module of the package at every start: it took lab --help from 1.4 to 1.9 × node -e 0.
    const r = await runLab(["--help"], { env: { NODE_DEBUG: "esm" } });
    expect(r.code).toBe(0);
    const loaded = [...new Set([...r.stderr.matchAll(/file:\/\/\/[^\s'",]+\.js/g)].map((m) => m[0]))];
    expect(loaded.some((url) => url.endsWith("/apps/cli/dist/bin.js"))).toBe(true);
    expect(loaded.filter((url) => /\/packages\/[^/]+\/dist\/index\.js$/.test(url))).toEqual([]);
    expect(loaded.filter((url) => url.includes("/node_modules/"))).toEqual([]);
  });

  it("each name in the command table registers its module's commands and no other (lab NAME builds them alone)", () => {
    const all = buildProgram().commands.map((c) => c.name());
    expect(all).toEqual(commands.flatMap(([names]) => names));
    for (const [names] of commands) {
      for (const name of names) expect(buildProgram(name).commands.map((c) => c.name())).toEqual(names);
    }
    expect(buildProgram("").commands).toEqual([]);
  });

  it("prints the version for --version", async () => {
    const r = await runLab(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("rejects an unknown command with one error line, the usage hint and exit 2", async () => {
    const r = await runLab(["nosuchcommand"]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^lab: .*nosuchcommand/);
    expect(lines.at(-1)).toBe("hint: run 'lab --help' for usage");
    expect(r.stdout).toBe("");
  });

  it("a command group without its subcommand (lab udp) is a usage error: help on stderr, exit 2", async () => {
    for (const group of [["udp"], ["session"]]) {
      const r = await runLab(group);
      expect(r.code, `lab ${group.join(" ")}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^Usage: lab ${group.join(" ")} `));
      expect(r.stdout).toBe("");
    }
    // Asked for, the same help is the output: stdout, exit 0.
    const asked = await runLab(["help", "udp"]);
    expect(asked.code).toBe(0);
    expect(asked.stdout).toMatch(/^Usage: lab udp /);
  });

  it("rejects an unknown flag with exit 2", async () => {
    const r = await runLab(["--no-such-flag"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--no-such-flag'");
  });

  it("prints commander's usage errors and an action's in one format: lab + hint, exit 2", async () => {
    const unknown = await runLab(["server", "--no-such-flag"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "lab: unknown option '--no-such-flag'\nhint: run 'lab server --help' for usage\n",
    );
    const missing = await runLab(["server", "--port"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      "lab: option '-p, --port <port>' argument missing\nhint: run 'lab server --help' for usage\n",
    );
    const bad = await runLab(["server", "--port", "abc"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      "lab: --port must be a whole number from 0 to 65535, got \"abc\"\nhint: run 'lab server --help' for usage\n",
    );
    // A misspelt benchmark suite is a usage mistake too, as an unknown lab check profile is.
    const suite = await runLab(["bench", "ecoh"]);
    expect(suite.code).toBe(2);
    expect(suite.stderr).toMatch(/^lab: unknown benchmark ecoh\nhint: choose from: cli, demo, echo, /);
    for (const r of [unknown, missing, bad, suite]) expect(r.stdout).toBe("");
  });

  it("pnpm bench (bench/dist/run.js) answers --help, and an unknown flag or suite with one line and exit 2", async () => {
    const bench = (...args: string[]) => runProcess(process.execPath, [BENCH_BIN, ...args]);
    const help = await bench("--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: pnpm bench \[SUITE\.\.\.\]/);
    expect(help.stdout).toContain("one or more of: cli, demo, echo, chat,");
    const flag = await bench("--bogus");
    expect(flag).toMatchObject({ code: 2, stdout: "" });
    expect(flag.stderr).toBe("bench: Unknown option '--bogus'\nhint: pnpm bench --help\n");
    const suite = await bench("ecoh");
    expect(suite).toMatchObject({ code: 2, stdout: "" });
    expect(suite.stderr).toMatch(/^bench: unknown benchmark ecoh\nhint: choose from: cli, demo, echo, /);
  });

  it("a port or address given as a word to a command that takes options hints the options (lab server 5001)", async () => {
    const cases: Array<[string[], string]> = [
      [["server", "5001"], "the port is an option: lab server --port 5001"],
      [["server", "127.0.0.1:5001"], "the address is two options: lab server --host 127.0.0.1 --port 5001"],
      [["udp", "echo", "[::1]:7000"], "the address is two options: lab udp echo --host [::1] --port 7000"],
      [["files", "shared", "5002"], "the port is an option: lab files shared --port 5002"],
      // lab client takes HOST PORT as words: a third word is just one too many.
      [["client", "localhost", "5001", "5002"], "run 'lab client --help' for usage"],
      [["server", "extra"], "run 'lab server --help' for usage"],
    ];
    for (const [args, hint] of cases) {
      const r = await runLab(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(
        /^lab: too many arguments for '\w+'\. Expected \d arguments? but got \d\.\n/,
      );
      expect(r.stderr, args.join(" ")).toContain(`\nhint: ${hint}\n`);
    }
  });

  it("--json (and --log json) on a server names the option that logs JSON", async () => {
    for (const [args, flag] of [
      [["server", "--json"], "--json"],
      [["files", ".", "--log", "json"], "--log"],
      [["udp", "echo", "--json"], "--json"],
    ] as const) {
      const r = await runLab([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toBe(
        `lab: unknown option '${flag}'\nhint: a JSON log is --log-format json (one object per line, docs/logging.md)\n`,
      );
    }
  });

  it("turns commander's suggestion into the hint", async () => {
    const r = await runLab(["clien"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lab: unknown command 'clien'\nhint: did you mean client? run 'lab --help' for usage\n",
    );
  });
});
