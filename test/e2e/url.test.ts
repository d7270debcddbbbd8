import { describe, expect, it } from "vitest";
import { runLab, runLabOnTerminal } from "../helpers/lab.js";

describe("lab url", () => {
  it("prints a table of every part, then the parsed query", async () => {
    const r = await runLab(["url", "https://example.com/employees/name/?salary>=25000#top"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n");
    expect(lines).toContain("scheme    https");
    expect(lines).toContain("netloc    example.com");
    expect(lines).toContain("path      /employees/name/");
    expect(lines).toContain("params    (empty)");
    expect(lines).toContain("query     salary>=25000");
    expect(lines).toContain("fragment  top");
    expect(lines).toContain("username  (none)");
    expect(lines).toContain("hostname  example.com");
    expect(lines).toContain("port      (none)");
    expect(r.stdout).toContain("query fields (parse_qsl, blank values kept):\n  salary>  25000\n");
  });

  it("--json escapes bidi and C1 controls in the URL (\\u), and the parsed text is unchanged", async () => {
    const url = "http://a/\u202eb\u009b2J";
    const r = await runLab(["url", "--json", url]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u202e\u009b]/);
    expect(r.stdout).toContain("\\u202e");
    expect(JSON.parse(r.stdout).path).toBe("/\u202eb\u009b2J");
    const join = await runLab(["url", "join", "--json", "http://a/b", "\u202ec"]);
    expect(join.stdout).not.toMatch(/\u202e/);
    expect(Object.values(JSON.parse(join.stdout))).toContain("http://a/\u202ec");
  });

  it("prints the same as JSON with --json, port as a number and the query as pairs", async () => {
    const r = await runLab(["url", "--json", "http://User:pw@[::1]:8080/a;p?x=1&x=2&y#f"]);
    expect(r.code).toBe(0);
    // One object on one line, as every command's --json (line-based readers, .jsonl files).
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(1);
    expect(JSON.parse(r.stdout)).toEqual({
      url: "http://User:pw@[::1]:8080/a;p?x=1&x=2&y#f",
      scheme: "http",
      netloc: "User:pw@[::1]:8080",
      path: "/a",
      params: "p",
      query: "x=1&x=2&y",
      fragment: "f",
      username: "User",
      password: "pw",
      hostname: "::1",
      port: 8080,
      queryPairs: [
        ["x", "1"],
        ["x", "2"],
        ["y", ""],
      ],
    });
  });

  it("shows WHATWG's view beside Python's with --whatwg", async () => {
    const r = await runLab(["url", "--whatwg", "HTTP://Example.COM:80/a/../b"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+python\s+whatwg$/m);
    expect(r.stdout).toMatch(/^path\s+\/a\/\.\.\/b\s+\/b$/m);
    expect(r.stdout).toMatch(/^port\s+80\s+\(empty\)$/m);
    expect(r.stdout).toMatch(/^href\s+-\s+http:\/\/example\.com\/b$/m);
  });

  it.each([
    ["http://[::1/", "lab: invalid URL: Invalid IPv6 URL"],
    ["http://h:65536/", "lab: invalid URL: Port out of range 0-65535"],
    ["http://h:8a/", "lab: invalid URL: Port could not be cast to integer value as '8a'"],
    ["http://[127.0.0.1]/", "lab: invalid URL: An IPv4 address cannot be in brackets"],
  ])("rejects %s as a usage error with Python's reason (exit 2)", async (url, line) => {
    const r = await runLab(["url", url]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.split("\n")[0]).toBe(line);
  });

  it("asks for a URL when none is given (exit 2)", async () => {
    const r = await runLab(["url"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("lab: missing URL");
  });

  it("builds a URL from its parts", async () => {
    const r = await runLab([
      "url",
      "build",
      "--scheme",
      "https",
      "--netloc",
      "example.com",
      "--path",
      "/a",
      "--query",
      "x=1&y=2",
      "--fragment",
      "top",
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("https://example.com/a?x=1&y=2#top\n");
  });

  it("builds a netloc from --host/--port (brackets for IPv6) and encodes --field fields", async () => {
    const r = await runLab(
      ["url", "build", "--scheme", "http", "--host", "::1", "--port", "8080", "--path", "/s"],
      {},
    );
    expect(r.stdout).toBe("http://[::1]:8080/s\n");
    const f = await runLab([
      "url",
      "build",
      "--scheme",
      "http",
      "--netloc",
      "h",
      "--field",
      "q=a b&c",
      "--field",
      "k=ü",
    ]);
    expect(f.stdout).toBe("http://h?q=a+b%26c&k=%C3%BC\n");
  });

  it("refuses a built URL with a port out of range (exit 2)", async () => {
    const r = await runLab(["url", "build", "--scheme", "http", "--netloc", "h:70000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Port out of range 0-65535");
  });

  it("joins, quotes and unquotes as Python does", async () => {
    expect((await runLab(["url", "join", "http://a/b/c/d;p?q", "../g"])).stdout).toBe("http://a/b/g\n");
    expect((await runLab(["url", "quote", "a b/ü"])).stdout).toBe("a%20b/%C3%BC\n");
    expect((await runLab(["url", "quote", "--plus", "a b/ü"])).stdout).toBe("a+b%2F%C3%BC\n");
    expect((await runLab(["url", "unquote", "caf%C3%A9%zz"])).stdout).toBe("café%zz\n");
  });

  it("has --help with examples for url and url build", async () => {
    const r = await runLab(["url", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Examples:");
    const b = await runLab(["url", "build", "--help"]);
    expect(b.stdout).toContain("--netloc");
  });

  it("unquote shows a decoded control character escaped on a terminal, exact when piped", async () => {
    const args = ["url", "unquote", "a%1b%5b31mRED%1b]0;T%07"];
    const onTty = await runLabOnTerminal(args);
    expect(onTty.code).toBe(0);
    expect(onTty.stdout).toContain("a^[[31mRED^[]0;T^G");
    expect(onTty.stdout).not.toContain("\x1b");
    const piped = await runLab(args);
    expect(piped.stdout).toBe("a\x1b[31mRED\x1b]0;T\x07\n");
  });
});
