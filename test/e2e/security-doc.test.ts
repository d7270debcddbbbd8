import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));
const doc = readFileSync(`${root}docs/security.md`, "utf8");

/** Every `FILE` › "name" · "name" reference in a bullet, as [file, name] pairs. */
function references(markdown: string): [string, string][] {
  const refs: [string, string][] = [];
  let file: string | undefined;
  const token = /`([^`]+\.test\.tsx?)` ›|"((?:[^"\\]|\\.)+)"/g;
  for (const line of markdown.split("\n")) {
    if (!line.trim().startsWith("`") && !line.trim().startsWith("·")) continue;
    for (const m of line.matchAll(token)) {
      if (m[1]) file = m[1];
      else if (m[2] && file) refs.push([file, m[2]]);
    }
  }
  return refs;
}

describe("docs/security.md", () => {
  const refs = references(doc);

  it("names tests for its promises", () => {
    expect(refs.length).toBeGreaterThan(30);
  });

  it.each(refs)("%s has a test named %j", (file, name) => {
    expect(existsSync(`${root}${file}`), `${file} exists`).toBe(true);
    expect(readFileSync(`${root}${file}`, "utf8")).toContain(name);
  });
});
