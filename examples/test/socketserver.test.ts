import { describe, expect, it } from "vitest";
import { runExample } from "./run-example.js";

describe("socketserver examples", () => {
  it("echo-server: each line comes back, then the server shuts down", async () => {
    const r = await runExample("echo-server");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "server: listening on 127.0.0.1 (a free port)",
        'client: sends "hello"',
        'client: sends "is anyone there?"',
        'client: sends "bye"',
        'client: got   "hello"',
        'client: got   "is anyone there?"',
        'client: got   "bye"',
        "server: shut down",
        "",
      ].join("\n"),
    );
    expect(r.stderr).toBe("");
  });

  it("upper-server: two clients get numbered upper-cased lines from their own handler", async () => {
    const r = await runExample("upper-server");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "alice got: 1: HELLO",
        "alice got: 2: HOW ARE YOU",
        "bob got:   1: SHOUT IT",
        "bob got:   2: LOUDER",
        "bob got:   3: LOUDEST",
        "server: 2 connections, 42 bytes in, shut down",
        "",
      ].join("\n"),
    );
  });

  it("file-sender: the whole file arrives intact and the server's buffer stays bounded", async () => {
    const r = await runExample("file-sender");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "client: received 4194304 bytes of 4194304",
        "client: sha256 matches: yes",
        "server: send buffer stayed under 1 MiB: yes",
        "server: writes waited for drain: yes",
        "",
      ].join("\n"),
    );
  });

  it("udp-echo: every datagram comes back", async () => {
    const r = await runExample("udp-echo");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('client: got   "ping 1"\nclient: got   "ping 2"\nclient: got   "ping 3"\n');
    expect(r.stdout).toContain("server: shut down");
  });

  it("forking-server: the jobs run on two worker pids, not in the main process", async () => {
    const r = await runExample("forking-server", [], 60_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("each job: primes below 400000 = 33860\n");
    expect(r.stdout).toMatch(/single process: 8 jobs in \d+ ms on 1 pid \(this process: yes\)/);
    expect(r.stdout).toMatch(
      /forking, 2 workers: 8 jobs in \d+ ms on 2 distinct worker pids \(this process: no\)/,
    );
    // The speed-up itself depends on what else the machine runs; the line must be there.
    expect(r.stdout).toMatch(/speed-up: \d+\.\d\d× with \d+ cores/);
  }, 70_000);
});
