import { describe, expect, it } from "vitest";
import { runExample } from "./run-example.js";

describe("udp-pinger example", () => {
  it("pings a lossy in-process echo server and prints a summary whose counts add up", async () => {
    const r = await runExample("udp-pinger");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const replies = r.stdout.match(/^seq=\d+ bytes=64 time=/gm)?.length ?? 0;
    const timeouts = r.stdout.match(/^seq=\d+ timeout$/gm)?.length ?? 0;
    const dropped = r.stdout.match(/^server: dropped datagram/gm)?.length ?? 0;
    expect(replies + timeouts).toBe(10);
    expect(timeouts).toBe(dropped);
    expect(r.stdout).toContain(`10 packets transmitted, ${replies} received`);
  });
});
