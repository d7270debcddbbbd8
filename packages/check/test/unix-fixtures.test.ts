import { describe, expect, it } from "vitest";
import { failedIds, failures, fixture, grade } from "./helpers.js";
import { BROKEN, type FixtureRow, GOOD } from "./table.js";

/** A table row's command with `{socket}` where it had `{port}`: the same server on a Unix socket. */
function overUnix(row: FixtureRow): string[] {
  const [script, ...args] = row.argv;
  expect(args).toContain("{port}");
  return ["python3", fixture(script as string), ...args.map((a) => (a === "{port}" ? "{socket}" : a))];
}

/**
 * Bugs a Unix socket does not have: `destroy-on-half-close` closes with SO_LINGER 0, which on
 * TCP is an RST that drops the unsent echo; a Unix socket has no RST, and what was sent is
 * already in our receive queue, so the echo and a clean EOF arrive.
 */
const TCP_ONLY_BUGS: Record<string, string[]> = { "destroy-on-half-close": [] };

// One fixture at a time, as good-fixtures.test.ts and broken-fixtures.test.ts (a loaded machine).
describe("lab check over a Unix socket grades the fixture servers as it grades them over TCP", () => {
  for (const row of [...GOOD, ...BROKEN]) {
    const caughtBy = TCP_ONLY_BUGS[row.name] ?? row.caughtBy;
    it(`${row.profile}: ${row.name} on {socket} fails ${caughtBy.length === 0 ? "nothing" : caughtBy.join(", ")}`, async () => {
      const report = await grade(row.profile, overUnix(row));
      expect(failedIds(report), failures(report)).toEqual([...caughtBy].sort());
      expect(report.results.length).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe("a Unix socket's full backlog is graded as TCP's", () => {
  it("a threaded UnixStreamServer with Python's default backlog of 5 answers 50 clients at once", async () => {
    // Over TCP the 6th-50th SYNs are dropped and retried by the kernel; over a Unix socket connect()
    // fails at once with EAGAIN, and lab check retries as TCP would instead of failing the server.
    const script = [
      "import socketserver, sys",
      "class H(socketserver.StreamRequestHandler):",
      "    def handle(self):",
      "        for line in self.rfile: self.wfile.write(line.upper())",
      "class S(socketserver.ThreadingUnixStreamServer):",
      "    daemon_threads = True",
      "with S(sys.argv[1], H) as s: s.serve_forever()",
    ].join("\n");
    const report = await grade("line", ["python3", "-c", script, "{socket}"], 1, ["line.clients-50"]);
    expect(failedIds(report), failures(report)).toEqual([]);
  }, 30_000);
});
