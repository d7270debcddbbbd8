// README.md's table of commands shows each command's options in short; each one shown must be one
// the command takes (its --help lists it), or the first command a reader copies is a usage error.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runLab } from "../helpers/lab.js";

const readme = readFileSync(fileURLToPath(new URL("../../README.md", import.meta.url)), "utf8");

/** Each `pnpm lab …` synopsis of the table's first column: `lab udp ping [-c N] …`, one per form. */
function synopses(): string[] {
  return readme
    .split("\n")
    .filter((l) => l.startsWith("| `pnpm lab "))
    .flatMap((row) => row.slice(2, row.indexOf("` |")).split(/` \/ `|` · `/))
    .map((s) => s.replace(/^`?(pnpm )?lab /, "").replaceAll("`", ""));
}

/** The command words (`udp ping`) and every flag shown (`-fsSLvk` is six). */
function parse(synopsis: string): { command: string[]; flags: string[] } {
  const command: string[] = [];
  for (const w of synopsis.split(" ")) {
    if (!/^[a-z]+$/.test(w) || command.length === 2) break;
    command.push(w);
  }
  const flags = [...synopsis.matchAll(/(?:^|[\s[|])(--?[a-zA-Z][\w-]*)/g)].flatMap(([, f]) =>
    /^-[a-zA-Z]{2,}$/.test(f!) ? [...f!.slice(1)].map((c) => `-${c}`) : [f!],
  );
  return { command, flags };
}

describe("README's table of commands", () => {
  it("shows only options the commands take", { timeout: 60_000 }, async () => {
    const all = synopses().map(parse);
    expect(all.length).toBeGreaterThan(10);
    const wrong = await Promise.all(
      all.map(async ({ command, flags }) => {
        const help = (await runLab([...command, "--help"])).stdout.split(/\n(?:Examples|Commands):/)[0]!;
        const missing = flags.filter((f) => !new RegExp(`(^|[ ,])${f}([ ,=[]|$)`, "m").test(help));
        return missing.length === 0 ? [] : [`lab ${command.join(" ")}: ${missing.join(" ")}`];
      }),
    );
    expect(wrong.flat()).toEqual([]);
  });
});
