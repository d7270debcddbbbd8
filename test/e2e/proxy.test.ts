import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import getPort from "get-port";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LabProcess, runLab, startLab, startServer } from "../helpers/lab.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-e2e-proxy-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `lab proxy :0 127.0.0.1:UPSTREAM ARGS`, ready; its port read from the ready line. */
async function startProxy(upstream: number, args: string[] = []): Promise<{ lab: LabProcess; port: number }> {
  const lab = startLab(["proxy", "127.0.0.1:0", `127.0.0.1:${upstream}`, ...args]);
  const line = await lab.waitForOutput(/proxying 127\.0\.0\.1:(\d+) → /, { stream: "stderr" });
  return { lab, port: Number(/:(\d+) →/.exec(line)?.[1]) };
}

async function echoServer(): Promise<number> {
  const { port } = await startServer(
    (p) => ["server", "--mode", "echo", "--port", String(p)],
    (p) => `listening on 127.0.0.1:${p}`,
  );
  return port;
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** The two lines of a failure, and its exit code. */
function expectFailure(
  r: { code: number; stderr: string },
  code: number,
  message: RegExp,
  hint?: RegExp,
): void {
  const lines = r.stderr.trimEnd().split("\n");
  expect(r.code, r.stderr).toBe(code);
  expect(lines[0]).toMatch(/^lab: /);
  expect(lines[0]).toMatch(message);
  if (hint) expect(lines[1]).toMatch(hint);
  expect(lines.length, r.stderr).toBeLessThanOrEqual(2);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("lab proxy: bad inputs, one clear line each", () => {
  it.each([
    [["--toxic", "nope=1"], /unknown toxic type 'nope'/, /known types: latency/],
    [["--toxic", "latency=100,stream=sideways"], /unknown stream 'sideways'/, /upstream .* or downstream/],
    [["--toxic", "latency=-5"], /latency of latency_downstream must be a number from 0 .* got -5/, undefined],
    [["--toxic", "latency=abc"], /latency of latency_downstream must be .* got "abc"$/, undefined],
    [["--toxic", "bandwidth=0"], /rate of bandwidth_downstream must be a number above 0/, /timeout toxic/],
    [
      ["--toxic", "latency=1,toxicity=2"],
      /toxicity of latency_downstream must be between 0 and 1, got 2/,
      undefined,
    ],
    [
      ["--toxic", "latency=1", "--toxic", "latency=2"],
      /toxic named 'latency_downstream' already exists/,
      /another name/,
    ],
    [
      ["--read-buffer-bytes", "10"],
      /--read-buffer-bytes must be a size from 1\.0 KiB to 64\.0 MiB \(64KiB, 1MiB; bare numbers are bytes\), got "10"/,
      /lab proxy --help/,
    ],
    [["--read-buffer-total", "-1"], /--read-buffer-total must be a size from 0 B to 16\.0 GiB/, undefined],
    [["--udp", "--api"], /--api drives TCP proxies \(toxiproxy's API has no UDP\)/, /drop --api/],
    [
      ["--reply-rate", "1MiB/s"],
      /^lab: --reply-rate bounds what --udp sends back$/,
      /add --udp, or drop --reply-rate/,
    ],
    [
      ["--udp", "--reply-rate", "soon"],
      /--reply-rate must be a rate such as 256KiB\/s .* got "soon"/,
      /lab proxy --udp/,
    ],
    [
      ["--busy-poll", "2ms"],
      /--busy-poll must be a time from 0s to 1ms \(50us, 0\.2ms; bare numbers are seconds\), got "2ms"/,
      undefined,
    ],
    [
      ["--max-buffer-bytes", "lots"],
      /--max-buffer-bytes must be a size from 1\.0 KiB to 2\.0 GiB/,
      undefined,
    ],
  ])("%j", { timeout: 15_000 }, async (args, message, hint) => {
    const r = await runLab(["proxy", "127.0.0.1:0", "127.0.0.1:9", ...args]);
    expectFailure(r, r.code === 2 ? 2 : 1, message, hint);
  });

  it("listen equal to upstream is a loop", { timeout: 15_000 }, async () => {
    const r = await runLab(["proxy", ":6101", "localhost:6101"]);
    expectFailure(r, 2, /would connect to itself/, /real server's port/);
  });

  it("an upstream refusing is said at start", { timeout: 15_000 }, async () => {
    const port = await closedPort();
    const r = await runLab(["proxy", "127.0.0.1:0", `127.0.0.1:${port}`]);
    expectFailure(
      r,
      1,
      new RegExp(`upstream 127\\.0\\.0\\.1:${port} is not answering: .*connection refused`),
      /start the server first/,
    );
  });

  it("an upstream name that does not resolve keeps the resolver's hint", { timeout: 15_000 }, async () => {
    // .invalid never resolves (RFC 2606), and the resolver says so without asking the network.
    const r = await runLab(["proxy", "127.0.0.1:0", "nonexistent.invalid:80"]);
    expectFailure(
      r,
      1,
      /upstream nonexistent\.invalid:80 is not answering: cannot resolve host nonexistent\.invalid/,
      /check the host name/,
    );
    expect(r.stderr).not.toContain("start the server first");
  });

  it("a listen address in use", { timeout: 15_000 }, async () => {
    const upstream = await echoServer();
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", r));
    const { port } = taken.address() as net.AddressInfo;
    try {
      const r = await runLab(["proxy", `127.0.0.1:${port}`, `127.0.0.1:${upstream}`]);
      expectFailure(r, 1, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`), /another/);
    } finally {
      taken.close();
    }
  });
});

describe("lab proxy: running", () => {
  it("half-close through the CLI, -v lines, sizes with units, and Ctrl-C stops it with exit 0", {
    timeout: 20_000,
  }, async () => {
    const upstream = await echoServer();
    const { lab, port } = await startProxy(upstream, [
      "-v",
      "--api",
      "127.0.0.1:0",
      "--toxic",
      "latency=10",
      "--read-buffer-bytes",
      "64KiB",
      "--read-buffer-total",
      "8MiB",
      "--max-buffer-bytes",
      "2MiB",
      "--busy-poll",
      "50µs",
    ]);
    await lab.waitForOutput(/api on http:\/\/127\.0\.0\.1:\d+/);
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on("data", (d: Buffer) => got.push(d));
    const ended = new Promise<void>((r) => s.once("end", () => r()));
    s.end("one\ntwo\n");
    await ended;
    s.destroy();
    expect(Buffer.concat(got).toString()).toBe("one\ntwo\n");
    await lab.waitForOutput(/#1 127\.0\.0\.1:\d+ connected; toxics: latency_downstream/);
    await lab.waitForOutput(/#1 closed \(closed by both sides\); 8 B up, 8 B down/);
    expect(await lab.stop("SIGINT")).toBe(0);
    expect(lab.stderr()).toMatch(/shutting down \(0 connections open\)\n\S+Z info {2}stopped\n$/);
  });
});

describe("lab proxy: the start-up check", () => {
  it("its connection is the first client's: the server sees no extra one", { timeout: 20_000 }, async () => {
    // A server that numbers its connections, as a chat server numbers guests.
    let accepted = 0;
    const server = net.createServer((c) => {
      accepted += 1;
      c.end(`you are #${accepted}\n`);
      c.on("error", () => {});
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { lab, port } = await startProxy((server.address() as net.AddressInfo).port);
    try {
      for (const want of ["you are #1\n", "you are #2\n"]) {
        const s = net.connect({ port, host: "127.0.0.1" });
        const got: Buffer[] = [];
        s.on("data", (d: Buffer) => got.push(d));
        await new Promise<void>((r) => s.once("close", () => r()));
        expect(Buffer.concat(got).toString()).toBe(want);
      }
      expect(accepted).toBe(2);
    } finally {
      await lab.stop("SIGINT");
      server.close();
    }
  });
});

describe("netlab's own programs through lab proxy", () => {
  it("chat under slicing: every line still arrives whole", { timeout: 30_000 }, async () => {
    const { port: chat } = await startServer(
      (p) => ["server", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const { port } = await startProxy(chat, [
      "--toxic",
      "slicer=3,size_variation=2,stream=both",
      "--seed",
      "1",
    ]);
    const bob = startLab(["client", "--port", String(port), "--nick", "bob"]);
    await bob.waitForOutput("* bob joined #lobby", { stream: "stdout" });
    const alice = startLab(["client", "--port", String(port), "--nick", "alice"]);
    await alice.waitForOutput("* alice joined #lobby", { stream: "stdout" });
    const lines = Array.from({ length: 5 }, (_, i) =>
      `line ${i}: ${"the quick brown fox ".repeat(3 + i)}`.trim(),
    );
    for (const line of lines) alice.write(`${line}\n`);
    for (const line of lines) await bob.waitForOutput(`<alice> ${line}\n`, { stream: "stdout" });
    alice.write("q\n");
    expect(await alice.exited).toBe(0);
  });

  it("transfer under reset_peer: the upload fails, --resume completes it, SHA-256 verified", {
    timeout: 60_000,
  }, async () => {
    const shared = path.join(dir, "shared");
    await import("node:fs/promises").then((fs) => fs.mkdir(shared));
    const { port: files } = await startServer(
      (p) => ["files", shared, "--port", String(p)],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    // Connection 1 (the proxy's start-up check does not count) is reset 500 ms in; later ones are clean.
    const { port } = await startProxy(files, ["--toxic", "reset_peer=500,connection=1"]);
    const src = path.join(dir, "big.bin");
    const data = randomBytes(8 * 1024 * 1024);
    await writeFile(src, data);
    const hash = createHash("sha256").update(data).digest("hex");
    const first = await runLab(["transfer", src, "--port", String(port), "--limit-rate", "4M"], {
      timeoutMs: 20_000,
    });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/^lab: connection to the server lost/);
    const again = await runLab(["transfer", src, "--resume", "--json", "--port", String(port)], {
      timeoutMs: 30_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const r = JSON.parse(again.stdout).files[0];
    expect(r.resumedAt).toBeGreaterThan(0);
    expect(r).toMatchObject({ bytes: data.length, sha256: hash });
    expect(
      createHash("sha256")
        .update(await readFile(path.join(shared, "big.bin")))
        .digest("hex"),
    ).toBe(hash);
  });

  it("lab client under timeout: the stall timeout fires", { timeout: 30_000 }, async () => {
    const { port: chat } = await startServer(
      (p) => ["server", "--port", String(p)],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    const { port } = await startProxy(chat, ["--toxic", "timeout=0"]);
    const r = await runLab(["client", "--port", String(port), "--nick", "carol", "--stall-timeout", "1"], {
      input: "hello\n",
      timeoutMs: 20_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lab: .*(stall|nothing|no answer|silent).*/im);
  });
});

describe("lab proxy --udp", () => {
  it("the --udp example in lab proxy --help emulates the milliseconds it reads as (a bare --delay is seconds)", {
    timeout: 30_000,
  }, async () => {
    const help = (await runLab(["proxy", "--help"])).stdout;
    const example = /^ {2}lab proxy (--udp .*)$/m.exec(help)?.[1];
    expect(example, help).toBeDefined();
    const [echo, proxyPort] = [await getPort({ host: "127.0.0.1" }), await getPort({ host: "127.0.0.1" })];
    const args = example!
      .trim()
      .split(/\s+/)
      .map((w) =>
        w === ":6003" ? `127.0.0.1:${proxyPort}` : w === "127.0.0.1:5003" ? `127.0.0.1:${echo}` : w,
      );
    const lab = startLab(["proxy", ...args]);
    const line = await lab.waitForOutput(/delay \d+ ms ± \d+ ms/);
    const [, delay, jitter] = /delay (\d+) ms ± (\d+) ms/.exec(line)!.map(Number);
    expect(delay, line).toBeLessThan(1000);
    expect(jitter, line).toBeLessThan(1000);
  });

  it("passes datagrams both ways through the emulator, and drops them all at --loss 1", {
    timeout: 30_000,
  }, async () => {
    const { port: echo } = await startServer(
      (p) => ["udp", "echo", "--port", String(p)],
      (p) => `listening on udp 127.0.0.1:${p}`,
    );
    const proxyPort = await getPort({ host: "127.0.0.1" });
    const lab = startLab([
      "proxy",
      "--udp",
      `127.0.0.1:${proxyPort}`,
      `127.0.0.1:${echo}`,
      "--delay",
      "50ms",
      "--seed",
      "3",
      "-v",
    ]);
    await lab.waitForOutput(`proxying udp 127.0.0.1:${proxyPort}`);
    const r = await runLab(
      ["udp", "ping", "--port", String(proxyPort), "-c", "3", "--interval", "0.1", "-W", "2", "--json"],
      {
        timeoutMs: 20_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.received).toBe(3);
    expect(summary.rtt.minMs).toBeGreaterThanOrEqual(99); // 50 ms each way
    await lab.waitForOutput(/← 127\.0\.0\.1:\d+ \d+ bytes sent after 50\.0 ms/);

    const lossy = startLab(["proxy", "--udp", "127.0.0.1:0", `127.0.0.1:${echo}`, "--loss", "1"]);
    const line = await lossy.waitForOutput(/proxying udp 127\.0\.0\.1:(\d+)/);
    const lossyPort = /:(\d+)/.exec(line)?.[1] ?? "";
    const lost = await runLab(
      ["udp", "ping", "--port", lossyPort, "-c", "2", "--interval", "0.1", "-W", "0.5", "--json"],
      {
        timeoutMs: 20_000,
      },
    );
    expect(JSON.parse(lost.stdout).received).toBe(0);
  });
});
