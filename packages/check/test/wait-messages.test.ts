import { describe, expect, it } from "vitest";
import { fixture, grade } from "./helpers.js";

describe("a wait that ran out says what it waited for, how long, and shows that connection's bytes", () => {
  it("a connect the server never accepts: the connect's own 2 s, no excerpt of another client", async () => {
    // seed_upper.py serves one connection at a time with a backlog of 5: most of 50 are never accepted.
    const report = await grade("line", ["python3", fixture("seed_upper.py"), "{port}"], 1, [
      "line.clients-50",
    ]);
    const r = report.results.find((x) => x.id === "line.clients-50");
    expect(r?.status).toBe("fail");
    // Which wait runs out first depends on the kernel: past the backlog a SYN may be dropped (the
    // connect's 2 s runs out) or answered before the queue filled (then a reply's 4 s, under load).
    if (/^a connection to/.test(r?.expected ?? "")) {
      expect(r?.expected).toMatch(/^a connection to 127\.0\.0\.1:\d+ within 2 s$/);
      expect(r?.observed).toMatch(/never accepted/);
      expect(r?.excerpt).toBeUndefined();
    } else {
      expect(r?.expected).toMatch(/^(client \d+)'s reply within 4 s$/);
      const waiter = /^(client \d+)'s /.exec(r?.expected ?? "")?.[1];
      expect(r?.excerpt?.startsWith(`${waiter}, received from the server`), r?.excerpt).toBe(true);
    }
  }, 30_000);

  it("a reply that never comes: 'within' said once, and the excerpt is the waiting client's", async () => {
    const report = await grade("echo", ["python3", fixture("seed_echo.py"), "{port}"], 1, [
      "echo.concurrent-5",
      "echo.slow-reader-isolation",
    ]);
    const failed = report.results.filter((x) => x.status === "fail");
    expect(failed.map((x) => x.id)).toEqual(["echo.concurrent-5", "echo.slow-reader-isolation"]);
    for (const r of failed) {
      expect(r.expected, r.id).not.toMatch(/within.*within/);
      const waiter = /^(?:the )?(.*?)'s /.exec(r.expected ?? "")?.[1];
      expect(waiter, r.id).toBeDefined();
      expect(r.excerpt?.startsWith(`${waiter}, received from the server`), `${r.id}: ${r.excerpt}`).toBe(
        true,
      );
    }
  }, 40_000);
});
