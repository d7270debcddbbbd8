// Issue #20, docs that run: every shell and TypeScript block in README.md and docs/**/*.md is run
// here, or carries `<!-- not-run: reason -->` on the line before its fence (counted and reported).
// - A transcript (console/sh lines starting with `$ `) runs each command with bash, `lab` on PATH
//   (the built one), in a scratch folder; the output shown under a command (stdout then stderr) must
//   be what it prints. Ports the docs use (5001, 8000 …) become free ports, in commands and output.
// - A TypeScript block is bundled from the packages' sources and run with node; when a ```text block
//   after it starts with `<!-- output -->`, its stdout must be that.
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import getPort from "get-port";
import { afterAll, describe, expect, it } from "vitest";
import { LAB_BIN, runProcess, startProcess } from "../helpers/lab.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const RUN_LANGS = new Set(["sh", "bash", "shell", "console", "ts", "typescript"]);
/** Ports the docs write out; each becomes a free port, the same one throughout a block. */
const DOC_PORTS = [5001, 5002, 5003, 5999, 6001, 6002, 8000, 9000, 9999];

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  notRun?: string;
  /** `<!-- run-with: CMD; CMD -->`: servers started (with the block's ports) before it runs. */
  runWith?: string[];
  output?: string;
}

function markdownFiles(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? docs(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : [],
    );
  return ["README.md", ...docs("docs")];
}

/** The fenced blocks of one Markdown file, with the marker before each and an output block after. */
function extractBlocks(file: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"));
    const block: Block = { file, line: i + 1, lang: open[1]!, code: lines.slice(i + 1, end).join("\n") };
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === "") k--;
    const marker = /^<!-- not-run: (.+?) -->$/.exec(lines[k]?.trim() ?? "");
    if (marker) block.notRun = marker[1];
    const runWith = /^<!-- run-with: (.+?) -->$/.exec(lines[k]?.trim() ?? "");
    if (runWith) block.runWith = runWith[1]!.split(";").map((c) => c.trim());
    let n = end + 1;
    while (n < lines.length && lines[n]!.trim() === "") n++;
    if (lines[n]?.trim() === "<!-- output -->" && lines[n + 1]?.startsWith("```")) {
      const close = lines.findIndex((l, j) => j > n + 1 && l.startsWith("```"));
      block.output = `${lines.slice(n + 2, close).join("\n")}\n`;
    }
    blocks.push(block);
    i = end;
  }
  return blocks;
}

const blocks = markdownFiles()
  .flatMap((f) => extractBlocks(f, readFileSync(join(root, f), "utf8")))
  .filter((b) => RUN_LANGS.has(b.lang));
const temp = mkdtempSync(join(tmpdir(), "lab-docs-"));
const bin = mkdtempSync(join(temp, "bin-"));
symlinkSync(LAB_BIN, join(bin, "lab"));
const PATH = [bin, dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** The block with every doc port replaced by a free one. */
async function withFreePorts(text: string): Promise<string> {
  let out = text;
  for (const port of DOC_PORTS) {
    if (!new RegExp(`\\b${port}\\b`).test(out)) continue;
    const free = await getPort({ host: "127.0.0.1" });
    out = out.replace(new RegExp(`\\b${port}\\b`, "g"), String(free));
  }
  return out;
}

/** `$ command` lines, each with the output shown under it. */
function transcript(code: string): { command: string; output: string }[] {
  const steps: { command: string; output: string[] }[] = [];
  for (const line of code.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), output: [] });
    else steps.at(-1)?.output.push(line);
  }
  return steps.map((s) => ({ command: s.command, output: s.output.join("\n").trimEnd() }));
}

async function runTranscript(block: Block): Promise<void> {
  const cwd = mkdtempSync(join(temp, "run-"));
  const ports = await withFreePorts([block.code, ...(block.runWith ?? [])].join("\u0000"));
  const [code = "", ...servers] = ports.split("\u0000");
  for (const server of servers) {
    const [command = "", ...args] = server.split(/\s+/);
    const proc = startProcess(command === "lab" ? join(bin, "lab") : command, args, { cwd, env: { PATH } });
    await proc.waitForOutput(/listening|serving/);
  }
  for (const { command, output } of transcript(code)) {
    const r = await runProcess("bash", ["-c", command], {
      cwd,
      env: { PATH, NO_COLOR: "1" },
      timeoutMs: 20_000,
    });
    expect(`${r.stdout}${r.stderr}`.trimEnd(), `$ ${command}`).toBe(output);
  }
}

async function runTypeScript(block: Block): Promise<void> {
  const esbuild = createRequire(join(root, "apps/cli/package.json"))("esbuild") as {
    build(options: Record<string, unknown>): Promise<unknown>;
  };
  const out = join(mkdtempSync(join(temp, "ts-")), "block.mjs");
  await esbuild.build({
    // bench depends on every library package; apps/cli adds the rest.
    stdin: { contents: await withFreePorts(block.code), resolveDir: join(root, "bench"), loader: "ts" },
    nodePaths: [join(root, "apps/cli/node_modules")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["@netlab/source"],
    outfile: out,
    logLevel: "silent",
    banner: {
      js: 'import { createRequire as __r } from "node:module"; const require = __r(import.meta.url);',
    },
  });
  const r = await runProcess(process.execPath, [out], { cwd: dirname(out), timeoutMs: 20_000 });
  expect(r.code, r.stderr).toBe(0);
  if (block.output !== undefined) expect(r.stdout).toBe(block.output);
}

describe("#20 docs that run", () => {
  const runnable = blocks.filter((b) => b.notRun === undefined);
  const skipped = blocks.filter((b) => b.notRun !== undefined);

  it("finds the blocks and reports the ones marked not-run", () => {
    const report = skipped.map((b) => `  ${b.file}:${b.line} (${b.lang}): ${b.notRun}`).join("\n");
    process.stderr.write(
      `docs: ${blocks.length} shell/TypeScript blocks, ${runnable.length} run, ${skipped.length} marked not-run:\n${report}\n`,
    );
    expect(runnable.length).toBeGreaterThan(5);
  });

  it.each(runnable.map((b) => [`${b.file}:${b.line}`, b] as const))(
    "%s runs as shown",
    async (_name, block) => {
      if (block.lang === "ts" || block.lang === "typescript") return runTypeScript(block);
      if (!block.code.split("\n").some((l) => l.startsWith("$ "))) {
        throw new Error(
          `${block.file}:${block.line}: a ${block.lang} block without '$ ' commands cannot be checked; write it as a transcript or mark it <!-- not-run: reason -->`,
        );
      }
      return runTranscript(block);
    },
  );
});
