// Bundles what `lab demo` loads from @netlab/tui (src/cli.ts) and everything it imports (Ink, React,
// @netlab/chat …) into a few files in dist/bundle/ — the entry, then one chunk per dynamic import
// (the Ink view, each scene) — instead of ~800 separate modules (see docs/demo.md, "Start-up").
// Built from the sources, so it does not depend on `tsc -b` having run; run by this package's
// `prepare` (pnpm install) and `build` scripts. dist/bundle/sources.json lists the workspace sources
// it was made from and when, so src/load.ts can tell a stale bundle and fall back to dist/cli.js.
import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(root, "dist/bundle");

/**
 * Ink imports its devtools (and react-devtools-core) only when DEV=true, and warns and goes on when
 * react-devtools-core is not installed, as here: the stub fails the same way.
 */
const noInkDevtools = {
  name: "no-ink-devtools",
  setup(b) {
    b.onResolve({ filter: /^\.\/devtools\.js$/ }, (args) =>
      args.importer.includes("/ink/") ? { path: "ink-devtools", namespace: "stub" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents:
        'throw Object.assign(new Error("react-devtools-core is not part of the lab demo bundle"), { code: "ERR_MODULE_NOT_FOUND" });',
      loader: "js",
    }));
  },
};

/**
 * Yoga's Emscripten loader fetch()es its wasm from an inline data: URL when fetch exists, which
 * loads Node's undici (~100 ms); without fetch it decodes the same base64 bytes directly.
 */
const yogaWithoutFetch = {
  name: "yoga-without-fetch",
  setup(b) {
    b.onLoad({ filter: /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const patched = source.replaceAll('"function"!=typeof fetch', "!0");
      if (patched === source) throw new Error(`${args.path}: no fetch check to patch (yoga-layout changed?)`);
      return { contents: patched, loader: "js" };
    });
  },
};

/** Under DEV=true Ink reads its own package.json beside its build/; in the bundle it is inlined. */
const inkPackageJsonInline = {
  name: "ink-package-json-inline",
  setup(b) {
    b.onLoad({ filter: /[\\/]ink[\\/]build[\\/]reconciler\.js$/ }, async (args) => {
      const source = await readFile(args.path, "utf8");
      const read = "fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')";
      if (!source.includes(read))
        throw new Error(`${args.path}: no package.json read to inline (ink changed?)`);
      const json = await readFile(resolve(dirname(args.path), "../package.json"), "utf8");
      return { contents: source.replace(read, JSON.stringify(json)), loader: "js" };
    });
  },
};

const builtAtMs = Date.now();
await rm(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ["src/cli.ts"],
  outdir,
  entryNames: "[name]",
  chunkNames: "chunk-[hash]",
  bundle: true,
  // One chunk per dynamic import: the chat lab loads (and starts its sockets) before Ink does.
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // The workspace packages' sources (their exports map), so the bundle never lags a `tsc -b`.
  conditions: ["@netlab/source"],
  // React's and the reconciler's production builds only: no dev checks, half the code.
  define: { "process.env.NODE_ENV": '"production"' },
  // CommonJS dependencies (React, signal-exit …) require Node built-ins.
  banner: {
    js: 'import { createRequire as __netlabCreateRequire } from "node:module";\nconst require = __netlabCreateRequire(import.meta.url);',
  },
  plugins: [noInkDevtools, yogaWithoutFetch, inkPackageJsonInline],
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const sources = Object.keys(result.metafile.inputs)
  .filter((p) => !p.includes("node_modules/") && !p.includes(":"))
  .map((p) => relative(outdir, resolve(root, p)));
await writeFile(resolve(outdir, "sources.json"), `${JSON.stringify({ builtAtMs, sources }, null, 2)}\n`);
