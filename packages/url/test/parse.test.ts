import {
  parseQs,
  parseQsl,
  quote,
  quotePlus,
  UrlError,
  unquote,
  urlencode,
  urljoin,
  urlparse,
  urlsplit,
  urlunsplit,
  whatwg,
} from "@netlab/url";
import { describe, expect, it } from "vitest";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof UrlError) return err.code;
    throw err;
  }
  return undefined;
}

describe("urlsplit and urlparse", () => {
  it("splits the issue's example into Python's parts", () => {
    const r = urlparse("https://example.com/employees/name/?salary>=25000#top");
    expect(r.toArray()).toEqual(["https", "example.com", "/employees/name/", "", "salary>=25000", "top"]);
  });

  it("unpacks like a Python tuple", () => {
    const [scheme, netloc, path, query, fragment] = urlsplit("http://h/p?q#f");
    expect([scheme, netloc, path, query, fragment]).toEqual(["http", "h", "/p", "q", "f"]);
  });

  it("lower-cases the scheme and the hostname, but not the zone id or the netloc", () => {
    const r = urlsplit("HTTP://User:PW@[FE80::1%EN1]:80/");
    expect(r.scheme).toBe("http");
    expect(r.netloc).toBe("User:PW@[FE80::1%EN1]:80");
    expect(r.hostname).toBe("fe80::1%EN1");
    expect([r.username, r.password, r.port]).toEqual(["User", "PW", 80]);
  });

  it("takes params only from the last path segment, and only for uses_params schemes", () => {
    expect(urlparse("http://h/a;x/b;y").path).toBe("/a;x/b");
    expect(urlparse("http://h/a;x/b;y").params).toBe("y");
    expect(urlparse("foo://h/a;x").params).toBe("");
  });

  it("raises Invalid IPv6 URL for an unbalanced bracket", () => {
    expect(codeOf(() => urlsplit("http://[::1/"))).toBe("INVALID_IPV6_URL");
    expect(codeOf(() => urlsplit("http://::1]/"))).toBe("INVALID_IPV6_URL");
  });

  it("checks what is inside brackets (Python 3.11.4+)", () => {
    expect(codeOf(() => urlsplit("http://[127.0.0.1]/"))).toBe("INVALID_HOST");
    expect(codeOf(() => urlsplit("http://[not-ip]/"))).toBe("INVALID_HOST");
    expect(codeOf(() => urlsplit("http://[v1.x]/"))).toBeUndefined();
  });

  it("splits a bad port without complaint, and raises when .port is read", () => {
    const r = urlsplit("http://h:65536/");
    expect(r.netloc).toBe("h:65536");
    expect(() => r.port).toThrow("Port out of range 0-65535");
    expect(() => urlsplit("http://h:8a/").port).toThrow("Port could not be cast to integer value as '8a'");
    expect(urlsplit("http://h:/").port).toBeNull();
  });

  it("strips leading C0 controls and spaces, and removes tabs and newlines anywhere", () => {
    expect(urlsplit(" \x00\thttp://h/a\nb\r").toArray()).toEqual(["http", "h", "/ab", "", ""]);
    expect(urlsplit("http://h/ ").path).toBe("/ ");
  });

  it("refuses a netloc that NFKC turns into URL syntax", () => {
    expect(codeOf(() => urlsplit("http://www.python.org\uff03@evil.com/"))).toBe("INVALID_NETLOC");
  });

  it("round-trips through urlunsplit, dropping an empty ? and #", () => {
    expect(urlunsplit(urlsplit("http://h/p?q#f"))).toBe("http://h/p?q#f");
    expect(urlunsplit(urlsplit("http://h/p?#"))).toBe("http://h/p");
  });
});

describe("urljoin", () => {
  it("resolves RFC 3986's examples", () => {
    const base = "http://a/b/c/d;p?q";
    expect(urljoin(base, "g")).toBe("http://a/b/c/g");
    expect(urljoin(base, "?y")).toBe("http://a/b/c/d;p?y");
    expect(urljoin(base, "../../../g")).toBe("http://a/g");
    expect(urljoin(base, "g;x=1/../y")).toBe("http://a/b/c/y");
  });

  it("returns the reference as it is for a scheme outside uses_relative", () => {
    expect(urljoin("mailto:a@b", "c@d")).toBe("c@d");
  });
});

describe("quoting and queries", () => {
  it("quote keeps / by default and quotePlus does not", () => {
    expect(quote("a b/c")).toBe("a%20b/c");
    expect(quotePlus("a b/c")).toBe("a+b%2Fc");
  });

  it("unquote decodes UTF-8, replaces invalid bytes and leaves bad escapes", () => {
    expect(unquote("%E2%82%AC%E2%82%zz%")).toBe("€\ufffd%zz%");
  });

  it("parseQsl drops blank values unless asked, and strict parsing names the bad field", () => {
    expect(parseQsl("a=1&b=&c")).toEqual([["a", "1"]]);
    expect(parseQsl("a=1&b=&c", { keepBlankValues: true })).toEqual([
      ["a", "1"],
      ["b", ""],
      ["c", ""],
    ]);
    expect(() => parseQsl("a=1&c", { strictParsing: true })).toThrow("bad query field: 'c'");
    expect(() => parseQsl("a=1&b=2&c=3", { maxNumFields: 2 })).toThrow("Max number of fields exceeded");
    expect(parseQsl("a=1;b=2", { separator: ";" })).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
  });

  it("parseQs keeps Python's key order and accepts __proto__ as a name", () => {
    const q = parseQs("b=1&1=x&__proto__=y&b=2");
    expect([...q.keys()]).toEqual(["b", "1", "__proto__"]);
    expect(q.get("b")).toEqual(["1", "2"]);
  });

  it("urlencode expands lists with doseq and quotes with quote_plus unless told", () => {
    expect(urlencode({ k: ["x", "y"] }, { doseq: true })).toBe("k=x&k=y");
    expect(urlencode({ k: ["x", "y"] })).toBe("k=%5B%27x%27%2C+%27y%27%5D");
    expect(urlencode({ q: "a b" }, { quoteVia: quote })).toBe("q=a%20b");
    expect(urlencode([["t", true]])).toBe("t=True");
  });
});

describe("whatwg", () => {
  it("shows the browser's normalized reading, or its refusal", () => {
    const v = whatwg("HTTP://EX.com:80/a/../b");
    expect(v.ok && v.href).toBe("http://ex.com/b");
    expect(whatwg("http://[::1]:99999/").ok).toBe(false);
  });
});
