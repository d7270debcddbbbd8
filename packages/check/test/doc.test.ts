import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { PROFILES } from "../src/index.js";
import { BROKEN, SEEDS } from "./table.js";

const doc = readFileSync(fileURLToPath(new URL("../../../docs/check.md", import.meta.url)), "utf8");

/** The rows of the markdown table whose header row starts with `| first`. */
function table(first: string): string[][] {
  const lines = doc.split("\n");
  const start = lines.findIndex((l) => new RegExp(`^\\|\\s*${first}\\s*\\|`).test(l));
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(
      line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const ids = (cell: string) => [...cell.matchAll(/`([a-z]+\.[a-z0-9-]+)`/g)].map((m) => m[1] as string).sort();

describe("docs/check.md", () => {
  it("lists every test of every profile, and no other", () => {
    const documented = table("test").map((r) => ids(r[0] as string)[0]);
    const all = Object.values(PROFILES).flatMap((p) => p.tests.map((t) => t.id));
    expect(documented).toEqual(all);
  });

  it("grades the seed servers as the suite does", () => {
    const rows = table("server").map((r) => [(r[0] as string).replace(/`/g, ""), ids(r[2] as string)]);
    expect(rows).toEqual(SEEDS.map((s) => [s.name, [...s.caughtBy].sort()]));
  });

  it("names the tests that catch each broken server as the suite does", () => {
    const rows = table("bug").map((r) => [/… ([a-z-]+)`/.exec(r[1] as string)?.[1], ids(r[2] as string)]);
    expect(rows).toEqual(BROKEN.map((b) => [b.name, [...b.caughtBy].sort()]));
  });
});
