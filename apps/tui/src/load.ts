import { readFileSync, statSync } from "node:fs";

/** What `lab demo` uses from `@netlab/tui`, all the bundle exports. */
export type Tui = typeof import("./cli.js");

/**
 * Whether `lab demo` can load the bundle (`dist/bundle/`, made by `scripts/bundle.mjs`): `fresh`,
 * `stale` (a source it was made from changed since), `missing`, or `off` (NETLAB_TUI_BUNDLE=0).
 */
export type BundleState = "fresh" | "stale" | "missing" | "off";

/** The bundle's folder once built: dist/bundle/, beside this module in dist/. */
const BUNDLE_DIR = new URL("./bundle/", import.meta.url);

/**
 * Tells whether the bundle in `dir` is there and newer than every workspace source it was made
 * from (a few dozen `stat`s, about a millisecond). Sources that do not exist (an install without
 * src/) do not count against it.
 */
export function bundleState(opts: { dir?: URL; env?: NodeJS.ProcessEnv } = {}): BundleState {
  const dir = opts.dir ?? BUNDLE_DIR;
  if ((opts.env ?? process.env).NETLAB_TUI_BUNDLE === "0") return "off";
  let manifest: { builtAtMs: number; sources: string[] };
  try {
    if (!statSync(new URL("cli.js", dir)).isFile()) return "missing";
    manifest = JSON.parse(readFileSync(new URL("sources.json", dir), "utf8"));
  } catch {
    return "missing";
  }
  for (const source of manifest.sources) {
    const changedMs = statSync(new URL(source, dir), { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (changedMs > manifest.builtAtMs) return "stale";
  }
  return "fresh";
}

/**
 * Loads what `lab demo` needs from the bundle (a few files to read and compile instead of ~800
 * modules to resolve: about a second less on a 2-core machine). Check {@link bundleState} first;
 * when it is not `fresh`, import `@netlab/tui/cli`, the same entry as modules.
 */
export async function loadBundle(): Promise<Tui> {
  return (await import(new URL("cli.js", BUNDLE_DIR).href)) as Tui;
}
