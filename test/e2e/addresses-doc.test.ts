import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { LAB_BIN, runProcess } from "../helpers/lab.js";

// docs/addresses.md: every sh block runs as written, with the built `lab` on PATH, and prints what
// its `# comments` say.

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(`${root}docs/addresses.md`, "utf8");
const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
const hasIPv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === "::1");

/** `cmd    # HELLO` → /HELLO/; `… b.txt` → /b\.txt/; `PORT` stands for a number. */
function expectations(block: string): RegExp[] {
  return [...block.matchAll(/ {2,}# (.+)$/gm)].map((m) => {
    const text = m[1]!.replace(/^… /, "").replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    return new RegExp(text.replace(/PORT/g, "\\d+"));
  });
}

describe("docs/addresses.md", () => {
  it("has runnable examples", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
  });

  it.for(blocks.map((block, i) => ({ n: i + 1, block })))(
    "example $n runs and prints what it says",
    { timeout: 30_000 },
    async ({ block }, ctx) => {
      if (block.includes("::") && !hasIPv6Loopback) ctx.skip("this machine has no ::1");
      expect(expectations(block).length, "each example says what it prints").toBeGreaterThan(0);
      const dir = mkdtempSync(path.join(tmpdir(), "netlab-doc-"));
      onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
      const bin = path.join(dir, "bin");
      const work = path.join(dir, "work");
      for (const d of [bin, work]) await import("node:fs/promises").then((fs) => fs.mkdir(d));
      writeFileSync(path.join(bin, "lab"), `#!/bin/sh\nexec "${process.execPath}" "${LAB_BIN}" "$@"\n`);
      chmodSync(path.join(bin, "lab"), 0o755);
      // Every wait in the block is bounded by this run's timeout.
      const r = await runProcess("bash", ["-euo", "pipefail", "-c", block], {
        cwd: work,
        env: { PATH: `${bin}:${process.env.PATH}`, NO_COLOR: "1" },
        timeoutMs: 20_000,
      });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      for (const pattern of expectations(block)) expect(r.stdout).toMatch(pattern);
    },
  );
});
