import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { expected, label, type PythonSnapshot, runCase } from "./differential.js";

const snapshot = JSON.parse(
  readFileSync(new URL("./fixtures/python-snapshot.json", import.meta.url), "utf8"),
) as PythonSnapshot;

describe(`urllib.parse parity with the committed Python ${snapshot.python} snapshot`, () => {
  it("covers at least 300 URLs and every function of the issue", () => {
    expect(snapshot.urls).toBeGreaterThanOrEqual(300);
    const fns = new Set(snapshot.cases.map((c) => c.fn));
    for (const fn of ["urlsplit", "urlparse", "urljoin", "quote", "quote_plus", "unquote"]) {
      expect(fns).toContain(fn);
    }
    for (const fn of ["unquote_plus", "parse_qs", "parse_qsl", "urlencode", "urldefrag"]) {
      expect(fns).toContain(fn);
    }
  });

  const byFn = new Map<string, typeof snapshot.cases>();
  for (const c of snapshot.cases) byFn.set(c.fn, [...(byFn.get(c.fn) ?? []), c]);
  for (const [fn, cases] of byFn) {
    it(`${fn} gives Python's result or error message on all ${cases.length} cases`, () => {
      const mismatches = [];
      for (const c of cases) {
        const ours = runCase(c);
        const theirs = expected(c);
        if (JSON.stringify(ours) !== JSON.stringify(theirs))
          mismatches.push({ case: label(c), ours, theirs });
      }
      expect(mismatches).toEqual([]);
    });
  }
});
