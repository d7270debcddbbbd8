import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NetworkEmulator, type PingSummary } from "../../packages/udp/src/index.js";
import { type LabProcess, type RunOptions, runLab, startLab, startServer } from "../helpers/lab.js";
import { closedUdpPort, roundTrip, udpClient } from "../helpers/udp.js";
import { jsonLines, watchTempDir } from "../helpers/watch.js";

/** `lab udp echo ARGS` on a free port, ready to answer. */
async function startEcho(args: string[] = []): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => ["udp", "echo", "--port", String(p), ...args],
    (p) => `listening on udp 127.0.0.1:${p}`,
  );
}

/** `lab udp ping --port PORT ARGS`. */
const ping = (port: number, args: string[], opts?: RunOptions) =>
  runLab(["udp", "ping", "--port", String(port), ...args], opts);

/** `lab udp ping` against `port` with `--json`; the summary and the exit code. */
async function pingJson(
  port: number,
  args: string[],
): Promise<{ code: number; summary: PingSummary; stderr: string }> {
  const r = await ping(port, ["--json", ...args], { timeoutMs: 25_000 });
  let summary: PingSummary;
  try {
    summary = JSON.parse(r.stdout) as PingSummary;
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { code: r.code, summary, stderr: r.stderr };
}

describe("lab udp echo", () => {
  it("echoes datagrams of many sizes, 0 bytes to the 65,507-byte maximum, unchanged", async () => {
    const { port } = await startEcho();
    const socket = await udpClient();
    for (const size of [0, 1, 20, 64, 512, 1472, 1473, 9000, 32_768, 65_000, 65_507]) {
      const data = Buffer.alloc(size);
      for (let i = 0; i < size; i++) data[i] = (i * 7) & 0xff;
      const echoed = await roundTrip(socket, port, data);
      expect(echoed.equals(data), `${size} bytes`).toBe(true);
    }
  });

  it("logs one line per datagram with --verbose, and stops on SIGINT with a count", async () => {
    const { lab, port } = await startEcho(["--verbose"]);
    const socket = await udpClient();
    await roundTrip(socket, port, Buffer.from("hi"));
    await lab.waitForOutput(`#1 127.0.0.1:${socket.address().port}  2 bytes  echoed`, { stream: "stderr" });
    // One byte is "1 byte", as lab udp listen counts it; lab udp send's own line too.
    const sent = await runLab(["udp", "send", `127.0.0.1:${port}`, "x"]);
    expect(sent.stderr).toMatch(/^sent 1 byte to /);
    await lab.waitForOutput(/#2 127\.0\.0\.1:\d+ {2}1 byte {2}echoed/, { stream: "stderr" });
    expect(await lab.stop("SIGINT")).toBe(0);
    expect(lab.stderr()).toContain("stopped after 2 datagrams (0 dropped");
  });

  it("reports a port in use in one line and exits 1", async () => {
    const { port } = await startEcho();
    const r = await runLab(["udp", "echo", "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: port ${port} on 127.0.0.1 is already in use\nhint: stop the other server or choose another --port\n`,
    );
  });

  it("refuses emulator rates outside 0–1 as usage errors (exit 2)", async () => {
    for (const flag of ["--loss", "--duplicate", "--reorder"]) {
      const r = await runLab(["udp", "echo", "--port", "0", flag, "1.5"]);
      expect(r.code, flag).toBe(2);
      expect(r.stderr).toContain(`lab: ${flag} must be a number from 0 to 1, got "1.5"`);
    }
  });

  it("takes --max-queue-bytes with units, and refuses what is not a size (exit 2)", async () => {
    const { lab } = await startEcho(["--max-queue-bytes", "1MiB", "--recv-buffer", "256K"]);
    expect(lab.stderr()).not.toContain("lab:");
    const r = await runLab(["udp", "echo", "--port", "0", "--max-queue-bytes", "lots"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'lab: --max-queue-bytes must be a size of 0 B or more (64KiB, 1MiB; bare numbers are bytes), got "lots"',
    );
  });
});

describe("lab udp ping", () => {
  it("prints one line per probe and the summary, and exits 0", async () => {
    const { port } = await startEcho();
    const r = await ping(port, ["-c", "5", "--interval", "0.02", "--size", "100"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    for (let seq = 0; seq < 5; seq++)
      expect(lines[seq]).toMatch(new RegExp(`^seq=${seq} bytes=100 time=\\d+\\.\\d+ ms$`));
    expect(lines[5]).toBe("");
    expect(lines[6]).toBe(`--- 127.0.0.1:${port} udp ping statistics ---`);
    expect(lines[7]).toMatch(/^5 packets transmitted, 5 received, 0% packet loss, time \d+ms$/);
    expect(lines[8]).toMatch(/^rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms$/);
    expect(r.stderr).toContain(`PING 127.0.0.1:${port} (udp): 100-byte probes`);
  });

  it("works over IPv6: echo on ::1, ping [::1]:PORT", async () => {
    const { port } = await startServer(
      (p) => ["udp", "echo", "--host", "::1", "--port", String(p)],
      (p) => `listening on udp [::1]:${p}`,
    );
    const r = await runLab(["udp", "ping", `[::1]:${port}`, "-c", "2", "--interval", "0.01", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ target: `[::1]:${port}`, transmitted: 2, received: 2 });
    // One object on one line, as every other --json: runs appended to a file stay JSON Lines.
    expect(r.stdout).toMatch(/^\{[^\n]*\}\n$/);
  });

  it("pings with the largest probe, --size 65507", async () => {
    const { port } = await startEcho();
    const { code, summary } = await pingJson(port, ["-c", "2", "--interval", "0.01", "--size", "65507"]);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ sizeBytes: 65_507, transmitted: 2, received: 2, ignored: 0 });
  });

  it("prints a summary whose arithmetic matches its per-probe lines", async () => {
    const { port } = await startEcho(["--loss", "0.4", "--seed", "11", "--delay", "1ms", "--jitter", "1ms"]);
    const r = await ping(port, ["-c", "40", "--interval", "0.005", "-W", "0.5"]);
    const replies = [...r.stdout.matchAll(/^seq=(\d+) bytes=64 time=([\d.]+) ms$/gm)].map((m) =>
      Number(m[2]),
    );
    const timeouts = [...r.stdout.matchAll(/^seq=\d+ timeout$/gm)].length;
    expect(replies.length + timeouts).toBe(40);
    const counts = /^(\d+) packets transmitted, (\d+) received, ([\d.]+)% packet loss/m.exec(r.stdout);
    expect(counts, r.stdout).not.toBeNull();
    const [tx, rx, loss] = [Number(counts![1]), Number(counts![2]), Number(counts![3])];
    expect(tx).toBe(40);
    expect(rx).toBe(replies.length);
    expect(loss).toBeCloseTo((100 * (tx - rx)) / tx, 3);
    const rtt = /^rtt min\/avg\/max\/mdev = ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms$/m.exec(r.stdout)!;
    const [min, avg, max, mdev] = rtt.slice(1).map(Number) as [number, number, number, number];
    // Per-probe times are rounded for display, so compare within that rounding.
    const mean = replies.reduce((a, b) => a + b, 0) / replies.length;
    const sd = Math.sqrt(replies.reduce((a, b) => a + b * b, 0) / replies.length - mean * mean);
    expect(min).toBeCloseTo(Math.min(...replies), 1);
    expect(max).toBeCloseTo(Math.max(...replies), 1);
    expect(Math.abs(avg - mean)).toBeLessThan(0.05);
    expect(Math.abs(mdev - sd)).toBeLessThan(0.05);
    expect(r.code).toBe(0);
  });

  it("measures loss within tolerance of --loss over 1,000 probes, exactly as the seed decides", async () => {
    const seed = 42;
    const { port } = await startEcho(["--loss", "0.3", "--seed", String(seed)]);
    const { code, summary } = await pingJson(port, [
      "-c",
      "1000",
      "--interval",
      "0.002",
      "-W",
      "1",
      "--linger",
      "0.5",
    ]);
    expect(code).toBe(0);
    expect(summary.transmitted).toBe(1000);
    expect(Math.abs(summary.lossPercent - 30)).toBeLessThan(5);
    // The same seed in the library gives the same pattern: the run is repeatable.
    const emulator = new NetworkEmulator({ lossRate: 0.3, seed });
    let expected = 0;
    for (let i = 0; i < 1000; i++) if (!emulator.decide().dropped) expected++;
    // On a loaded machine a reply may miss -W; late or not, it was not dropped.
    expect(summary.received + summary.late).toBe(expected);
  });

  it("counts replies slower than -W as late (not received), and exits 0 because replies came", async () => {
    const { port } = await startEcho(["--delay", "150ms"]);
    const r = await ping(port, ["-c", "3", "--interval", "0.3", "-W", "0.05", "--linger", "0.4"]);
    expect(r.code).toBe(0);
    for (let seq = 0; seq < 3; seq++) {
      expect(r.stdout).toContain(`seq=${seq} timeout\n`);
      const late = new RegExp(`^seq=${seq} bytes=64 time=(\\d+) ms \\(late\\)$`, "m").exec(r.stdout);
      expect(late, r.stdout).not.toBeNull();
      expect(Number(late![1])).toBeGreaterThanOrEqual(150);
    }
    expect(r.stdout).toContain("3 packets transmitted, 0 received, +3 late, 100% packet loss");
  });

  it("counts duplicates from --duplicate and marks them DUP!", async () => {
    const { port } = await startEcho(["--duplicate", "1"]);
    const r = await ping(port, ["-c", "4", "--interval", "0.05", "--linger", "0.2"]);
    expect(r.code).toBe(0);
    expect([...r.stdout.matchAll(/\(DUP!\)$/gm)].length).toBe(4);
    expect(r.stdout).toContain("4 packets transmitted, 4 received, +4 duplicates, 0% packet loss");
  });

  it("prints only the JSON summary on stdout with --json", async () => {
    const { port } = await startEcho();
    const { code, summary } = await pingJson(port, ["-c", "3", "--interval", "0.01", "--size", "256"]);
    expect(code).toBe(0);
    expect(summary).toMatchObject({
      target: `127.0.0.1:${port}`,
      host: "127.0.0.1",
      port,
      sizeBytes: 256,
      transmitted: 3,
      received: 3,
      late: 0,
      duplicates: 0,
      lossPercent: 0,
    });
    expect(summary.rtt!.minMs).toBeLessThanOrEqual(summary.rtt!.maxMs);
  });

  it("exits 1 with 100% loss when no reply comes", async () => {
    const { port } = await startEcho(["--loss", "1"]);
    const { code, summary } = await pingJson(port, ["-c", "3", "--interval", "0.01", "-W", "0.1"]);
    expect(code).toBe(1);
    expect(summary).toMatchObject({ transmitted: 3, received: 0, lossPercent: 100, rtt: null });
  });

  it("prints the summary so far on Ctrl-C, and exits 130 as an interrupted command", async () => {
    const { port } = await startEcho();
    const lab = startLab(["udp", "ping", "--port", String(port), "--interval", "0.05"]);
    await lab.waitForOutput("seq=2 bytes=64", { stream: "stdout" });
    expect(await lab.stop("SIGINT")).toBe(130);
    expect(lab.stdout()).toMatch(/\d+ packets transmitted, \d+ received, .*% packet loss/);
  });

  it("says in one line that nothing listens (ICMP port unreachable) and exits 1", async () => {
    const port = await closedUdpPort();
    const r = await ping(port, ["-c", "3", "--interval", "0.05"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `lab: no UDP service at 127.0.0.1:${port} (ICMP port unreachable): is 'lab udp echo' running?\n`,
    );
    expect(r.stdout).toBe("");
  });

  it("the hint to start an echo server names the host pinged when it is not the default 127.0.0.1", async () => {
    const port = await closedUdpPort();
    const v4 = await ping(port, ["-c", "1"]);
    expect(v4.stderr).toContain(`\nhint: start one with 'lab udp echo --port ${port}', or check the port\n`);
    // Before, [::1] got the same hint, whose server listens on 127.0.0.1 and still does not answer.
    const v6 = await runLab(["udp", "ping", `[::1]:${port}`, "-c", "1"]);
    expect(v6.code).toBe(1);
    expect(v6.stderr).toContain(
      `\nhint: start one with 'lab udp echo --host ::1 --port ${port}', or check the port\n`,
    );
  });

  it.each([
    [["--size", "65508"], "--size 65508 is too large: a UDP datagram carries at most 65507 bytes"],
    [["--size", "65536"], "--size 65536 is too large"],
    [["--size", "19"], "--size 19 is too small"],
    [["--interval", "0.001"], "--interval 0.001: cannot flood; the minimal interval is 0.002 s (2 ms)"],
    [["-c", "0"], '-c must be a whole number 1 or more, got "0"'],
    [["-c", "ten"], '-c must be a whole number 1 or more, got "ten"'],
    [["-W", "0"], "-W 0: the timeout must be at least 0.001 s"],
    [["-W", "-1"], "-W must be a time from 0s to"],
    [["--port", "70000"], '--port must be a whole number from 1 to 65535, got "70000"'],
  ])("refuses %j as a usage error (exit 2)", async (args, message) => {
    const r = await runLab(["udp", "ping", ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`lab: ${message}`);
    expect(r.stdout).toBe("");
  });
});

describe("lab udp send and listen", () => {
  it("listen prints the sender's address, size and text; send reports what it sent", async () => {
    const { lab, port } = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "2"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const sent = await runLab(["udp", "send", `127.0.0.1:${port}`, "hello there"]);
    expect(sent.code).toBe(0);
    const from = /from (127\.0\.0\.1:\d+)/.exec(sent.stderr)![1];
    await lab.waitForOutput(`${from}  11 bytes  hello there\n`, { stream: "stdout" });
    const binary = await runLab(["udp", "send", `127.0.0.1:${port}`], { input: Buffer.from([0, 1, 0xff]) });
    expect(binary.code).toBe(0);
    expect(await lab.exited).toBe(0);
    expect(lab.stdout()).toMatch(/127\.0\.0\.1:\d+ {2}3 bytes {2}hex 0001ff\n$/);
  });

  it("listen --json prints one object per datagram; --recv-buffer takes a size as udp echo's does", async () => {
    const { lab, port } = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "1", "--json", "--recv-buffer", "256K"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    await runLab(["udp", "send", `127.0.0.1:${port}`, "hi\n"]);
    expect(await lab.exited).toBe(0);
    const d = JSON.parse(lab.stdout());
    expect(d).toMatchObject({ address: "127.0.0.1", bytes: 3, text: "hi\n" });
  });

  it("--json of listen and send writes a peer's bidi, C1 and line-separator characters as \\u escapes: exact when parsed, inert on a terminal", async () => {
    const hostile = "evil\u202etxt\u0085x\u2028y\u2066";
    const unsafe = /[\u0080-\u009f\u2028\u202e\u2066]/;
    const { lab, port } = await startServer(
      (p) => ["udp", "listen", "--port", String(p), "-c", "1", "--json"],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    await runLab(["udp", "send", `127.0.0.1:${port}`, hostile]);
    expect(await lab.exited).toBe(0);
    expect(lab.stdout()).not.toMatch(unsafe);
    expect(lab.stdout()).toContain("evil\\u202etxt\\u0085x\\u2028y\\u2066");
    expect(JSON.parse(lab.stdout())).toMatchObject({ text: hostile });
    const { port: echo } = await startEcho();
    const j = await runLab(["udp", "send", `127.0.0.1:${echo}`, hostile, "--wait", "2", "--json"]);
    expect(j.code).toBe(0);
    expect(j.stdout).not.toMatch(unsafe);
    expect(JSON.parse(j.stdout)).toMatchObject({ reply: { text: hostile } });
  });

  it("--events: a UDP socket's connection.open is followed by its connection.close with its bytes, on the server and the client", async () => {
    const dir = await watchTempDir();
    const serverEvents = join(dir, "server.jsonl");
    const clientEvents = join(dir, "client.jsonl");
    const { lab, port } = await startEcho(["--events", serverEvents]);
    const r = await runLab([
      "udp",
      "send",
      `127.0.0.1:${port}`,
      "hello",
      "--wait",
      "2",
      "--events",
      clientEvents,
    ]);
    expect(r.code).toBe(0);
    expect(await lab.stop("SIGINT")).toBe(0);
    type Line = { event: string; attrs: Record<string, unknown> };
    for (const [file, side] of [
      [clientEvents, "client"],
      [serverEvents, "server"],
    ]) {
      const events = (await jsonLines(file!)) as Line[];
      const open = events.find((e) => e.event === "connection.open");
      const close = events.find((e) => e.event === "connection.close");
      expect(open?.attrs, side).toMatchObject({ "netlab.side": side, "network.transport": "udp" });
      // Before, a UDP socket opened and never closed: no close, no byte counts, no duration.
      expect(close?.attrs, side).toMatchObject({
        "netlab.connection.id": open?.attrs["netlab.connection.id"],
        "netlab.close.reason": "fin",
        "netlab.bytes_in": 5,
        "netlab.bytes_out": 5,
      });
    }
  });

  it("send --wait prints the echo's reply", async () => {
    const { port } = await startEcho();
    const r = await runLab(["udp", "send", `127.0.0.1:${port}`, "echo me", "--wait", "2"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`127.0.0.1:${port}  7 bytes  echo me\n`);
    const j = await runLab(["udp", "send", `127.0.0.1:${port}`, "", "--wait", "2", "--json"]);
    expect(JSON.parse(j.stdout)).toMatchObject({
      bytes: 0,
      reply: { from: `127.0.0.1:${port}`, bytes: 0, text: "" },
    });
  });

  it("send --wait exits 1 in one line when no reply comes", async () => {
    const { port } = await startEcho(["--loss", "1"]);
    const r = await runLab(["udp", "send", `127.0.0.1:${port}`, "anyone?", "--wait", "0.2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`lab: no reply from 127.0.0.1:${port} within 0.2 s\n`);
  });

  it("refuses a datagram over 65,507 bytes as a usage error (exit 2)", async () => {
    const r = await runLab(["udp", "send", "127.0.0.1:9", "x".repeat(65_508)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "lab: 65508 bytes is too large for one datagram: UDP carries at most 65507 bytes",
    );
  });

  it("refuses standard input over 65,507 bytes without naming a size it did not read (exit 2)", async () => {
    // Reading stops one chunk past the limit: the count it reached (65536) is not the input's size.
    for (const size of [65_508, 1_000_000]) {
      const r = await runLab(["udp", "send", "127.0.0.1:9"], { input: Buffer.alloc(size) });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "lab: standard input holds more than 65507 bytes, too many for one datagram\nhint: send at most 65507 bytes (UDP carries no more)\n",
      );
    }
  });

  it("refuses a target that is not HOST:PORT (exit 2)", async () => {
    const r = await runLab(["udp", "send", "localhost", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('lab: "localhost" has no port');
  });
});
