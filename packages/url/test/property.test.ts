import { readFileSync } from "node:fs";
import {
  parseQsl,
  quote,
  quotePlus,
  UrlError,
  unquote,
  unquotePlus,
  urlencode,
  urljoin,
  urlsplit,
  urlunsplit,
} from "@netlab/url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyUrl } from "./arbitraries.js";
import type { PythonSnapshot } from "./differential.js";

const snapshot = JSON.parse(
  readFileSync(new URL("./fixtures/python-snapshot.json", import.meta.url), "utf8"),
) as PythonSnapshot;

/** urlsplit that returns undefined where Python raises ValueError. */
function trySplit(url: string) {
  try {
    return urlsplit(url);
  } catch (err) {
    if (err instanceof UrlError) return undefined;
    throw err;
  }
}

describe("urlunsplit(urlsplit(u)) round trips", () => {
  const splits = snapshot.cases.filter(
    (c) => c.fn === "urlsplit" && c.result && !Object.keys(c.kwargs).length,
  );
  const pythonRoundTrips = splits.filter((c) => (c.result as { unsplit: string }).unsplit === c.args[0]);

  it("round-trips every corpus URL that Python round-trips, and no other", () => {
    expect(pythonRoundTrips.length).toBeGreaterThan(100);
    const ours = splits.filter((c) => urlunsplit(urlsplit(c.args[0] as string)) === c.args[0]);
    expect(ours.map((c) => c.args[0])).toEqual(pythonRoundTrips.map((c) => c.args[0]));
  });

  it("is stable after one application on generated URLs", () => {
    fc.assert(
      fc.property(anyUrl, (url) => {
        const first = trySplit(url);
        if (!first) return;
        // Python 3.11's urlunsplit (the snapshot we match) drops an empty netloc, so a path that
        // starts with "//" becomes the netloc of the result, which may not parse ("////@[" gives
        // "//@[", an unclosed IPv6 bracket). CPython 3.12.4 keeps the "//"; 3.11 does not.
        if (first.netloc === "" && first.path.startsWith("//")) return;
        const once = urlunsplit(first);
        const second = trySplit(once);
        expect(second).toBeDefined();
        expect(urlunsplit(second!)).toBe(once);
      }),
      { numRuns: 2000 },
    );
  });

  it("keeps the five parts of generated URLs once they have round-tripped", () => {
    fc.assert(
      fc.property(anyUrl, (url) => {
        const first = trySplit(url);
        if (!first) return;
        // The same Python 3.11 behaviour as above: an empty netloc before a "//" path does not survive.
        if (first.netloc === "" && first.path.startsWith("//")) return;
        const once = urlunsplit(first);
        const again = urlsplit(once);
        expect(urlsplit(urlunsplit(again)).toArray()).toEqual(again.toArray());
      }),
      { numRuns: 1000 },
    );
  });
});

describe("quoting", () => {
  const wellFormed = fc.string({ unit: "grapheme", maxLength: 40 });

  it("unquote(quote(s)) is s for any well-formed string, whatever is safe", () => {
    fc.assert(
      fc.property(wellFormed, fc.constantFrom("/", "", ":@", "/?&="), (s, safe) => {
        expect(unquote(quote(s, { safe }))).toBe(s);
        expect(unquotePlus(quotePlus(s, { safe }))).toBe(s);
      }),
    );
  });

  it("quote produces only unreserved characters, safe ones and %XX", () => {
    fc.assert(
      fc.property(wellFormed, (s) => {
        expect(quote(s)).toMatch(/^(?:[A-Za-z0-9_.\-~/]|%[0-9A-F]{2})*$/);
      }),
    );
  });

  it("unquote never throws, and leaves text without % untouched", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const out = unquote(s);
        if (!s.includes("%")) expect(out).toBe(s);
      }),
    );
  });
});

describe("queries", () => {
  it("parseQsl(urlencode(pairs)) gives the pairs back (non-empty values)", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 12 });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            text,
            text.filter((v) => v.length > 0),
          ),
          { maxLength: 8 },
        ),
        (pairs) => {
          expect(parseQsl(urlencode(pairs))).toEqual(pairs);
        },
      ),
    );
  });
});

describe("urljoin", () => {
  it("never throws for a reference without brackets, and returns an absolute http URL", () => {
    const ref = fc.string({ unit: fc.constantFrom(..."ab./?#;=%"), maxLength: 20 });
    fc.assert(
      fc.property(ref, (r) => {
        const joined = urljoin("http://h/a/b/c", r);
        expect(joined.startsWith("http://")).toBe(true);
      }),
    );
  });
});
