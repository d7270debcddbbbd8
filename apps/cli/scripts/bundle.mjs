// Bundles the `lab` entry and its command modules (src/main.ts and what it imports statically)
// into one file, dist/bin.js. Node 20 loads each ES module separately and has no compile cache, so
// fifteen small modules cost about 20 ms at every start: bundled, `lab --help` measured 1.24 × the
// time of `node -e 0` against 1.5 × unbundled (docs/benchmarks.md). Feature packages and commander
// stay external: commands import packages lazily, and commander is require()d (see program.ts).
// Built from the sources, so it does not depend on `tsc -b`; run by the root build/prepare scripts.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
await build({
  entryPoints: [resolve(root, "src/main.ts")],
  outfile: resolve(root, "dist/bin.js"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  external: ["@netlab/*", "commander"],
  sourcemap: "linked",
  logLevel: "warning",
});
