// Issue #20: lab behaves as the tools people already know (nc, curl, ping) and in one style.
import { describe, expect, it } from "vitest";
import { runLab, startServer } from "../helpers/lab.js";

const upper = () =>
  startServer(
    (p) => ["server", "--mode", "upper", "-p", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );

describe("#20 nc habits", () => {
  it("#20: lab client HOST PORT talks to a server, as nc HOST PORT does", async () => {
    const { port } = await upper();
    const r = await runLab(["client", "127.0.0.1", String(port), "--wait", "200ms"], { input: "hello\n" });
    expect(r).toMatchObject({ code: 0, stdout: "HELLO\n" });
  });

  it("#20: -p PORT works for --port on the client and the server", async () => {
    const { port } = await upper();
    const r = await runLab(["client", "-p", String(port), "--wait", "0.2"], { input: "hi\n" });
    expect(r).toMatchObject({ code: 0, stdout: "HI\n" });
  });

  it("#20: time options take units and a bare number is seconds, on every command", async () => {
    for (const args of [
      ["client", "--wait", "soon"],
      ["client", "--connect-timeout", "5x"],
      ["transfer", "x", "--stall-timeout", "-1"],
      ["udp", "ping", "-W", "1d"],
      ["udp", "send", "127.0.0.1:9", "x", "--wait", "later"],
      ["udp", "echo", "--delay", "fast"],
      ["get", "http://127.0.0.1:9/", "-m", "1y"],
      ["server", "--idle-timeout", "never"],
      ["files", "--header-timeout", "x"],
    ]) {
      const r = await runLab(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toMatch(/^lab: \S+ must be a time .*\(500ms, 2s, 1m; bare numbers are seconds\), got "/);
    }
  });

  it("#20: help shows defaults as numbers with units, never as quoted strings", async () => {
    const commands = [
      ["server"], ["client"], ["files"], ["transfer"], ["udp", "echo"], ["udp", "ping"], ["udp", "listen"],
      ["udp", "send"], ["get"], ["demo"], ["url"],
    ];
    for (const cmd of commands) {
      const r = await runLab([...cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout, cmd.join(" ")).not.toMatch(/default: "/);
    }
    const client = (await runLab(["client", "--help"])).stdout.replace(/\s+/g, " ");
    expect(client).toContain("(default: 500ms)");
    expect(client).toContain("(default: 5001)");
    expect(client).toContain("(default: 1m)");
    const server = (await runLab(["server", "--help"])).stdout.replace(/\s+/g, " ");
    expect(server).toContain("(default: 10m)");
    expect(server).toContain("echo hello | nc -N 127.0.0.1 9000");
  });
});
