import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, it, onTestFinished } from "vitest";
import { LAB_BIN } from "../helpers/lab.js";

// lab completion, sourced in the real shells and driven by TAB on a terminal (tmux), as a person
// installs it: bash's `source <(lab completion bash)`, zsh's file in $fpath, fish's `| source`.

const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
const install = (pkg: string) => `install it: sudo apt-get install ${pkg} (see .ci/run)`;
const PROMPT = "READY> ";
let count = 0;

/** A scratch folder holding one recording, with `lab` (this checkout's build) on PATH. */
function scratch(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "netlab-completion-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "lab"), `#!/bin/sh\nexec "${process.execPath}" "${LAB_BIN}" "$@"\n`, {
    mode: 0o755,
  });
  const work = join(dir, "work");
  mkdirSync(work);
  writeFileSync(join(work, "rec.jsonl"), "");
  return { dir, path: [bin, dirname(process.execPath), "/usr/bin", "/bin"].join(":") };
}

/** `shell` on a private tmux server (killed when the test ends), in the scratch folder. */
function terminal(shell: string[], path: string, cwd: string) {
  const socket = `netlab-completion-${process.pid}-${++count}`;
  onTestFinished(() => {
    spawnSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore" });
  });
  const tmux = (...args: string[]) => execFileSync("tmux", ["-L", socket, ...args], { encoding: "utf8" });
  tmux(
    "new-session",
    "-d",
    "-s",
    "t",
    "-x",
    "150",
    "-y",
    "30",
    "-c",
    cwd,
    "env",
    "-i",
    `PATH=${path}`,
    `HOME=${cwd}`,
    "TERM=xterm",
    ...shell,
  );
  return {
    keys: (...keys: string[]) => void tmux("send-keys", "-t", "t", ...keys),
    /** Polls the screen until its last non-empty row is `row`; returns the screen. */
    async lastRow(row: string, what: string, timeoutMs = 15_000): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      let screen = "";
      while (Date.now() < deadline) {
        screen = tmux("capture-pane", "-p", "-t", "t");
        if (screen.trimEnd().split("\n").at(-1)?.trimEnd() === row.trimEnd()) return screen;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${what} (last row ${JSON.stringify(row)}); screen:\n${screen}`);
    },
  };
}

/** Types `line` and TAB, and waits for the line TAB made of it. */
async function tab(t: ReturnType<typeof terminal>, line: string, expected: string): Promise<void> {
  t.keys("C-u", "clear", "Enter");
  await t.lastRow(PROMPT, "a clear screen");
  t.keys(line, "Tab");
  await t.lastRow(`${PROMPT}${expected}`, `TAB after ${JSON.stringify(line)}`);
}

describe("lab completion in real shells, TAB on a terminal", () => {
  it.skipIf(!has("tmux"))(
    `bash: TAB after 'lab replay ' completes the recording's file name, not a '-'${has("tmux") ? "" : ` (skipped: ${install("tmux")})`}`,
    { timeout: 60_000 },
    async () => {
      const { dir, path } = scratch();
      const t = terminal(["bash", "--norc", "--noprofile"], path, join(dir, "work"));
      t.keys(`PS1='${PROMPT}'; source <(lab completion bash)`, "Enter");
      await t.lastRow(PROMPT, "the prompt");
      await tab(t, "lab replay ", "lab replay rec.jsonl");
      await tab(t, "lab session export rec.jsonl --pcap ", "lab session export rec.jsonl --pcap rec.jsonl");
      await tab(t, "lab udp p", "lab udp ping");
      await tab(t, "lab udp ping --cou", "lab udp ping --count");
      // The words a value may be, not file names: an option's, and an argument's.
      await tab(t, "lab server --mode u", "lab server --mode upper");
      await tab(t, "lab demo --scene tr", "lab demo --scene transfer");
      await tab(t, "lab completion z", "lab completion zsh");
    },
  );

  it.skipIf(!has("tmux") || !has("zsh"))(
    `zsh: installed in $fpath as _lab, the very first TAB completes${has("zsh") ? "" : ` (skipped: no zsh; ${install("zsh")})`}`,
    { timeout: 60_000 },
    async () => {
      const { dir, path } = scratch();
      const fpath = join(dir, "zfunc");
      mkdirSync(fpath);
      const script = spawnSync(process.execPath, [LAB_BIN, "completion", "zsh"], { encoding: "utf8" });
      writeFileSync(join(fpath, "_lab"), script.stdout);
      const t = terminal(["zsh", "-f"], path, join(dir, "work"));
      t.keys(`PS1='${PROMPT}'; fpath=(${fpath} $fpath); autoload -U compinit && compinit -u`, "Enter");
      await t.lastRow(PROMPT, "the prompt");
      // The first TAB of the shell autoloads _lab: before, it only set up and completed nothing.
      await tab(t, "lab ud", "lab udp");
      await tab(t, "lab replay ", "lab replay rec.jsonl");
      await tab(t, "lab udp ping --cou", "lab udp ping --count");
      await tab(t, "lab server --mode u", "lab server --mode upper");
      await tab(t, "lab completion z", "lab completion zsh");
    },
  );

  it.skipIf(!has("tmux") || !has("fish"))(
    `fish: lab completion fish | source completes subcommands, options and file names${has("fish") ? "" : ` (skipped: no fish; ${install("fish")})`}`,
    { timeout: 60_000 },
    async () => {
      const { dir, path } = scratch();
      const t = terminal(["fish", "--no-config"], path, join(dir, "work"));
      t.keys(`function fish_prompt; echo -n '${PROMPT}'; end; lab completion fish | source`, "Enter");
      await t.lastRow(PROMPT, "the prompt");
      await tab(t, "lab replay ", "lab replay rec.jsonl");
      await tab(t, "lab udp p", "lab udp ping");
      await tab(t, "lab udp ping --cou", "lab udp ping --count");
      await tab(t, "lab server --mode u", "lab server --mode upper");
      await tab(t, "lab completion z", "lab completion zsh");
    },
  );
});
