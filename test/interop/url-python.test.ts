import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyUrl, urlText } from "../../packages/url/test/arbitraries.js";
import {
  expected,
  label,
  type PythonCase,
  type PythonSnapshot,
  runCase,
} from "../../packages/url/test/differential.js";

const SCRIPT = fileURLToPath(new URL("../../packages/url/scripts/snapshot.py", import.meta.url));

function python(args: string[], input?: string): string {
  const r = spawnSync("python3", [SCRIPT, ...args], {
    input,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`python3 ${SCRIPT} ${args.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

function mismatches(cases: PythonCase[]) {
  const out = [];
  for (const c of cases) {
    const ours = runCase(c);
    const theirs = expected(c);
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) out.push({ case: label(c), ours, theirs });
  }
  return out;
}

/** Runs generated calls through the live python3 and returns its answers. */
function ask(calls: Array<{ fn: string; args: unknown[]; kwargs?: Record<string, unknown> }>): PythonCase[] {
  return (JSON.parse(python(["--stdin"], JSON.stringify(calls))) as { cases: PythonCase[] }).cases;
}

// We match Python 3.11 (the snapshot's); a failure on another version may be Python's change.
const version = spawnSync("python3", ["--version"], { encoding: "utf8" }).stdout.trim();

describe("@netlab/url against the live python3 urllib.parse", () => {
  it("matches every case of the corpus, run by python3 now", () => {
    const live = JSON.parse(python(["--stdout"])) as PythonSnapshot;
    expect(live.cases.length).toBeGreaterThan(2000);
    expect(mismatches(live.cases), `python3 is ${live.python}`).toEqual([]);
  });

  it("matches urlsplit/urlparse on 1,500 generated URLs (fixed seed)", () => {
    const urls = fc.sample(anyUrl, { seed: 9, numRuns: 1500 });
    const calls = urls.flatMap((u) => [
      { fn: "urlsplit", args: [u] },
      { fn: "urlparse", args: [u] },
    ]);
    expect(mismatches(ask(calls)), version).toEqual([]);
  });

  it("matches urljoin on generated references against several bases", () => {
    const bases = [
      "http://a/b/c/d;p?q",
      "http://a",
      "https://u@h:1/x/",
      "file:///etc/",
      "foo://a/b",
      "a/b/c",
    ];
    const refs = fc.sample(
      fc.oneof(urlText(15), fc.string({ unit: fc.constantFrom(..."ab./?#;"), maxLength: 12 })),
      { seed: 9, numRuns: 400 },
    );
    const calls = refs.map((r, i) => ({ fn: "urljoin", args: [bases[i % bases.length], r] }));
    expect(mismatches(ask(calls)), version).toEqual([]);
  });

  it("matches quote, unquote and parse_qsl on generated text", () => {
    const texts = fc.sample(fc.oneof(urlText(30), fc.string({ unit: "grapheme", maxLength: 20 })), {
      seed: 9,
      numRuns: 400,
    });
    const calls = texts.flatMap((t) => [
      { fn: "quote", args: [t] },
      { fn: "quote_plus", args: [t], kwargs: { safe: "/:" } },
      { fn: "unquote", args: [t] },
      { fn: "unquote_plus", args: [t] },
      { fn: "parse_qsl", args: [t], kwargs: { keep_blank_values: true } },
      { fn: "parse_qs", args: [t] },
    ]);
    expect(mismatches(ask(calls)), version).toEqual([]);
  });
});
