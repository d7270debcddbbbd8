import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { bundleState } from "../src/load.js";

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

/** A dist/bundle/ folder made at `builtAtMs` from src/a.ts, as scripts/bundle.mjs lays it out. */
function fakeBundle(builtAtMs: number): { dir: URL; source: string } {
  root = mkdtempSync(join(tmpdir(), "netlab-tui-bundle-"));
  const bundle = join(root, "dist", "bundle");
  mkdirSync(bundle, { recursive: true });
  mkdirSync(join(root, "src"));
  const source = join(root, "src", "a.ts");
  writeFileSync(source, "export const a = 1;\n");
  utimesSync(source, new Date(builtAtMs - 60_000), new Date(builtAtMs - 60_000));
  writeFileSync(join(bundle, "cli.js"), "export {};\n");
  writeFileSync(
    join(bundle, "sources.json"),
    JSON.stringify({ builtAtMs, sources: ["../../src/a.ts", "../../src/gone.ts"] }),
  );
  return { dir: pathToFileURL(`${bundle}/`), source };
}

describe("bundleState", () => {
  it("is fresh when every source that still exists is older than the bundle", () => {
    const { dir } = fakeBundle(Date.now());
    expect(bundleState({ dir, env: {} })).toBe("fresh");
  });

  it("is stale once a source it was made from changes after it was built", () => {
    const builtAtMs = Date.now() - 10_000;
    const { dir, source } = fakeBundle(builtAtMs);
    utimesSync(source, new Date(), new Date());
    expect(bundleState({ dir, env: {} })).toBe("stale");
  });

  it("is missing without the entry or the list of sources, and off under NETLAB_TUI_BUNDLE=0", () => {
    const { dir } = fakeBundle(Date.now());
    expect(bundleState({ dir, env: { NETLAB_TUI_BUNDLE: "0" } })).toBe("off");
    rmSync(new URL("sources.json", dir));
    expect(bundleState({ dir, env: {} })).toBe("missing");
    expect(bundleState({ dir: new URL("nowhere/", dir), env: {} })).toBe("missing");
  });
});
