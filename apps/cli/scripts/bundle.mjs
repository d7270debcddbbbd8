// Bundles the `lab` entry and its command modules (src/main.ts and what it imports statically)
// into one file, dist/bin.js. Node 20 loads each ES module separately and has no compile cache, so
// fifteen small modules cost about 20 ms at every start: bundled, `lab --help` measured 1.24 × the
// time of `node -e 0` against 1.5 × unbundled (docs/benchmarks.md). Commander is bundled (it is
// most of what `lab --help` loads); feature packages stay external in the workspace build, as
// commands import them lazily. Built from the sources, so it does not depend on `tsc -b`; run by the
// root build/prepare scripts.
//
// `--standalone` (run by `prepack`; package.json's publishConfig makes standalone/bin.js the packed
// `lab`, so packing never rewrites the dist/bin.js that the workspace runs) bundles everything else too: every
// @netlab package from its sources and their npm dependencies (Ink, React, zod …), split so that
// each lazy import stays a chunk loaded only when its command runs. The tarball then installs with
// nothing but Node, offline. `lab bench` and `lab examples run` need a netlab checkout and say so.
import { rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const standalone = process.argv.includes("--standalone");

/**
 * Bundled ES modules have no `import.meta.url` folder to require() from: `createRequire(
 * import.meta.url)("x")` in a workspace source becomes a plain `require("x")`, which esbuild inlines.
 */
const inlineCreateRequire = {
  name: "inline-create-require",
  setup(b) {
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.tsx?$/ }, async (args) => {
      const { readFile } = await import("node:fs/promises");
      const text = await readFile(args.path, "utf8");
      const contents = text.replace(/createRequire\(import\.meta\.url\)\((["'][^"']+["'])\)/g, "require($1)");
      return { contents, loader: args.path.endsWith(".tsx") ? "tsx" : "ts" };
    });
  },
};

const outdir = resolve(root, standalone ? "standalone" : "dist");
await rm(resolve(outdir, "chunks"), { recursive: true, force: true });
await build({
  entryPoints: { bin: resolve(root, "src/main.ts") },
  outdir,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  // CommonJS dependencies inlined in an ES module (commander) still require() Node built-ins.
  banner: {
    js: 'import { createRequire as __labRequire } from "node:module"; const require = __labRequire(import.meta.url);',
  },
  ...(standalone
    ? {
        splitting: true,
        chunkNames: "chunks/[name]-[hash]",
        conditions: ["@netlab/source"],
        jsx: "automatic",
        // Ink loads react-devtools-core only when DEV=true; bench and examples run from a checkout.
        external: ["@netlab/bench", "@netlab/examples", "react-devtools-core", "node-unix-socket"],
        plugins: [inlineCreateRequire],
      }
    : { external: ["@netlab/*"] }),
});
