/**
 * Issue #13, the file-transfer client: `lab transfer` against servers that hang, lie, or send
 * text meant for a terminal. Each hostile server is a plain net.Server on 127.0.0.1 that speaks the
 * transfer wire protocol by hand (a u32 big-endian length, then a JSON header; see
 * packages/transfer/src/header.ts), so these tests do not trust the code they test.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import getPort from "get-port";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import {
  type LabProcess,
  type LabResult,
  runLab,
  SIGNAL_EXIT_MS,
  startLab,
  startProcess,
  startServer,
} from "../helpers/lab.js";
import { connectsWithin, serve } from "../helpers/tcp.js";
import { frame, LIVE_CONTROLS } from "../helpers/transfer-wire.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-adv-xfer-client-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Hostile {
  port: number;
  /** Resolves with the first header of the first connection. */
  firstRequest: Promise<Record<string, unknown>>;
}

/**
 * A server that reads each connection's first header and hands it to `script` (which may answer,
 * or not); `script` undefined = accept and never answer.
 */
async function hostileServer(
  script?: (socket: net.Socket, request: Record<string, unknown>) => void,
): Promise<Hostile> {
  let gotFirst: (r: Record<string, unknown>) => void = () => {};
  const firstRequest = new Promise<Record<string, unknown>>((resolve) => {
    gotFirst = resolve;
  });
  const port = await serve((socket) => {
    let buf = Buffer.alloc(0);
    let handled = false;
    socket.on("data", (chunk) => {
      if (handled) return;
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 4) return;
      const length = buf.readUInt32BE(0);
      if (buf.length < 4 + length) return;
      handled = true;
      const request = JSON.parse(buf.subarray(4, 4 + length).toString("utf8")) as Record<string, unknown>;
      gotFirst(request);
      script?.(socket, request);
    });
  });
  return { port, firstRequest };
}

/** A server that accepts, reads whatever comes (so the client's writes never block), and never writes. */
async function silentServer(): Promise<Hostile> {
  let gotFirst: (r: Record<string, unknown>) => void = () => {};
  const firstRequest = new Promise<Record<string, unknown>>((resolve) => {
    gotFirst = resolve;
  });
  const port = await serve((socket) => {
    socket.on("data", (chunk) => gotFirst({ bytes: chunk.length }));
  });
  return { port, firstRequest };
}

/** Answers a `get` with a `file` header, `body`, then `end` (with `endHeader` fields). */
function serveBody(
  body: Buffer,
  fileHeader: Record<string, unknown> = {},
  endHeader: Record<string, unknown> = { sha256: createHash("sha256").update(body).digest("hex") },
) {
  return (socket: net.Socket, req: Record<string, unknown>) => {
    socket.write(
      frame({ op: "file", name: req.name, size: body.length, offset: 0, mtimeMs: 1e12, ...fileHeader }),
    );
    socket.write(body);
    socket.write(frame({ op: "end", ...endHeader }));
  };
}

/** Runs `lab ARGS` to its end, killed after `timeoutMs`; also how long it took. */
async function timed(args: string[], timeoutMs = 15_000): Promise<LabResult & { ms: number }> {
  const started = performance.now();
  const r = await runLab(args, { cwd: dir, timeoutMs });
  return { ...r, ms: performance.now() - started };
}

/** The failure is one `lab:` line and one `hint:` line, escaped, with nothing the code made up. */
function expectCleanFailure(r: LabResult, message: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  expect(r.stderr).toMatch(/^lab: .+$/m);
  expect(r.stderr).toMatch(/^hint: .+$/m);
  expect(r.stderr.match(/^lab: (.*)$/m)?.[1]).toMatch(message);
  expect(r.stderr).not.toMatch(/undefined|Invalid time value|NaN|at .*\.js:\d+/);
  expect(r.stderr).not.toMatch(LIVE_CONTROLS);
}

/** Polls (every 10 ms, bounded) until `file` holds at least `bytes`. */
async function waitForSize(file: string, bytes: number, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const size = await stat(file).then(
      (s) => s.size,
      () => -1,
    );
    if (size >= bytes) return size;
    if (Date.now() > deadline) throw new Error(`${file} did not reach ${bytes} bytes in ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Sends `signal` and resolves with the exit code and how long the exit took, in ms. */
async function interrupt(lab: LabProcess, signal: NodeJS.Signals): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  lab.child.kill(signal);
  const code = await lab.exited;
  return { code, ms: performance.now() - started };
}

describe("#13: lab transfer never hangs on a server that accepts and never answers", () => {
  it("upload, --get, --list and --get --raw each end with lab:/hint: after --stall-timeout", async () => {
    const src = path.join(dir, "up.bin");
    await writeFile(src, "hello\n");
    const runs = await Promise.all(
      [
        ["transfer", src],
        ["transfer", "--get", "x.bin", "-o", path.join(dir, "x.bin")],
        ["transfer", "--list"],
        ["transfer", "--get", "--raw", "-o", path.join(dir, "raw.bin")],
      ].map(async (args) => {
        const { port } = await silentServer();
        return timed([...args, "--port", String(port), "--stall-timeout", "1"]);
      }),
    );
    for (const r of runs) {
      expectCleanFailure(r, /no byte to or from the server for 1 s/);
      expect(r.stderr).toMatch(/^hint: .*--stall-timeout/m);
      expect(r.ms).toBeLessThan(8_000);
    }
    // Nothing half-written is left behind by a transfer that never started.
    expect(await readdir(dir)).toEqual(["up.bin"]);
  }, 20_000);

  it("a stall mid-download keeps the bytes received in the .part and says how to resume", async () => {
    const body = Buffer.alloc(300_000, 7);
    const { port } = await hostileServer((socket, req) => {
      socket.write(frame({ op: "file", name: req.name, size: body.length * 2, offset: 0, mtimeMs: 1e12 }));
      socket.write(body);
    });
    const out = path.join(dir, "half.bin");
    const r = await timed([
      "transfer",
      "--get",
      "half.bin",
      "-o",
      out,
      "--port",
      String(port),
      "--stall-timeout",
      "1",
    ]);
    expectCleanFailure(
      r,
      /^no byte to or from the server for 1 s \(stall timeout\); 300000 of 600000 bytes of half\.bin are kept in .*half\.bin\.part$/,
    );
    expect(r.stderr).toMatch(/^hint: run the same command again to continue/m);
    expect((await stat(`${out}.part`)).size).toBe(body.length);
  }, 15_000);

  it("--get and --list end after --header-timeout when the server trickles a header a byte at a time", async () => {
    // A byte each 200 ms: the stall clock (no byte either way) never fires; only the header's own does.
    const trickled = (socket: net.Socket, req: Record<string, unknown>) => {
      const header = frame({ op: "file", name: req.name ?? "x", size: 1, offset: 0, mtimeMs: 1e12 });
      let at = 0;
      const timer = setInterval(() => {
        if (at < header.length - 1) socket.write(header.subarray(at, ++at));
      }, 200);
      socket.on("close", () => clearInterval(timer));
    };
    const runs = await Promise.all(
      [
        ["transfer", "--get", "x.bin", "-o", path.join(dir, "x.bin")],
        ["transfer", "--list"],
      ].map(async (args) => {
        const { port } = await hostileServer(trickled);
        return timed([...args, "--port", String(port), "--header-timeout", "2s"], 30_000);
      }),
    );
    for (const r of runs) {
      expectCleanFailure(r, /^the server sent part of a header and not the rest in 2 s \(header timeout\)/);
      expect(r.stderr).toMatch(/^hint: .*--header-timeout/m);
      // Under the 30 s stall timeout, which a trickle keeps from firing at all.
      expect(r.ms).toBeLessThan(12_000);
    }
  }, 40_000);

  it("--connect-timeout ends a connect that gets no answer (a listener whose backlog is full)", async () => {
    // A listener that never accepts: a child process that listens, then is stopped. Once its
    // accept queue is full the kernel drops further SYNs, so a connect waits for an answer that
    // never comes, as it would for a host that drops packets (only loopback is used here).
    const port = await getPort({ host: "127.0.0.1" });
    const listener = startProcess(process.execPath, [
      "-e",
      `require("node:net").createServer().listen({ port: ${port}, host: "127.0.0.1", backlog: 1 }, () => console.log("listening"))`,
    ]);
    await listener.waitForOutput("listening");
    listener.child.kill("SIGSTOP");
    const fillers: net.Socket[] = [];
    onTestFinished(() => {
      for (const s of fillers) s.destroy();
    });
    for (let i = 0; i < 32; i++) {
      const socket = net.connect({ port, host: "127.0.0.1" });
      socket.on("error", () => {});
      fillers.push(socket);
      if (!(await connectsWithin(socket, 300))) break;
    }
    const r = await timed(["transfer", "--list", "--port", String(port), "--connect-timeout", "0.5"]);
    expectCleanFailure(r, /cannot connect to 127\.0\.0\.1:\d+: timed out \(no answer in 0\.5 s\)/);
    expect(r.stderr).toMatch(/^hint: .*--connect-timeout/m);
    // The whole run, lab's start included (6.5 s at load 13 on 2 cores): under the 10 s default
    // connect timeout, which a run that ignored --connect-timeout 0.5 would wait out on top of that.
    expect(r.ms).toBeLessThan(10_000);
  }, 20_000);

  it("--help names both timeouts and their defaults", async () => {
    const r = await runLab(["transfer", "--help"]);
    expect(r.stdout).toMatch(/--connect-timeout <time>[^-]*\(default:\s+10s\)/);
    expect(r.stdout).toMatch(/--stall-timeout <time>[^-]*\(default:\s+30s\)/);
    expect(r.stdout).toMatch(/--header-timeout <time>[^-]*\(default:\s+30s\)/);
    expect(r.stdout).toMatch(/--max-size <bytes>[\s\S]*free on\s+the\s+disk/);
  });
});

describe("#13: one Ctrl-C or SIGTERM ends lab transfer within 1 s with exit 130", () => {
  it("SIGINT during an upload to a silent server", async () => {
    const src = path.join(dir, "up.bin");
    await writeFile(src, "hello\n");
    const server = await silentServer();
    const lab = startLab(["transfer", src, "--port", String(server.port)], { cwd: dir });
    await server.firstRequest;
    const { code, ms } = await interrupt(lab, "SIGINT");
    expect(code, lab.stderr()).toBe(130);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
    expect(lab.stderr()).toMatch(/^lab: interrupted while uploading .*up\.bin$/m);
    // Nothing was sent: the hint must not say the server has a partial file.
    expect(lab.stderr()).toMatch(
      /^hint: the server keeps whatever it received as a \.part file; run the same command again to continue from there$/m,
    );
  }, 15_000);

  it("SIGTERM during --list and during --get --raw", async () => {
    for (const args of [["--list"], ["--get", "--raw", "-o", path.join(dir, "raw.bin")]]) {
      const server = await silentServer();
      const lab = startLab(["transfer", ...args, "--port", String(server.port)], { cwd: dir });
      await server.firstRequest;
      const { code, ms } = await interrupt(lab, "SIGTERM");
      expect(code, lab.stderr()).toBe(130);
      expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
      expect(lab.stderr()).toMatch(/^lab: interrupted while/m);
    }
  }, 15_000);

  it("SIGINT mid-download keeps every byte received in the .part, and a re-run completes it", async () => {
    const shared = path.join(dir, "shared");
    await mkdir(shared);
    const whole = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < whole.length; i += 4) whole.writeUInt32BE(i, i);
    await writeFile(path.join(shared, "big.bin"), whole);
    const sent = 3 * 1024 * 1024 + 12345;
    // Sends the first `sent` bytes of the real file, then goes silent.
    const hostile = await hostileServer((socket, req) => {
      socket.write(frame({ op: "file", name: req.name, size: whole.length, offset: 0, mtimeMs: 1e12 }));
      socket.write(whole.subarray(0, sent));
    });
    const out = path.join(dir, "big.bin");
    const lab = startLab(["transfer", "--get", "big.bin", "-o", out, "--port", String(hostile.port)], {
      cwd: dir,
    });
    // The client writes in 1 MiB batches: once one landed, the rest is in flight or in its buffer.
    await waitForSize(`${out}.part`, 1024 * 1024);
    const { code, ms } = await interrupt(lab, "SIGINT");
    expect(code, lab.stderr()).toBe(130);
    expect(ms).toBeLessThan(SIGNAL_EXIT_MS);
    expect(lab.stderr()).toMatch(/^lab: interrupted while downloading big\.bin$/m);
    expect(lab.stderr()).toMatch(/^hint: .*run the same command again to continue/m);
    const kept = (await stat(`${out}.part`)).size;
    expect(kept).toBeGreaterThanOrEqual(1024 * 1024);
    expect(kept).toBeLessThanOrEqual(sent);

    const { port } = await startServer(
      (p) => ["files", shared, "--port", String(p)],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const r = await timed(["transfer", "--get", "big.bin", "-o", out, "--json", "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { files: { resumedAt: number; sha256: string }[] };
    expect(summary.files[0]!.resumedAt).toBe(kept);
    expect(summary.files[0]!.sha256).toBe(createHash("sha256").update(whole).digest("hex"));
    expect((await readFile(out)).equals(whole)).toBe(true);
  }, 25_000);
});

describe("#13: sizes and fields from the server are checked", () => {
  it("--get refuses a size over --max-size before writing anything", async () => {
    const { port } = await hostileServer((socket, req) => {
      socket.write(frame({ op: "file", name: req.name, size: 10 * 1024 * 1024, offset: 0, mtimeMs: 1e12 }));
      socket.write(Buffer.alloc(64 * 1024));
    });
    const out = path.join(dir, "out");
    await mkdir(out);
    const r = await timed([
      "transfer",
      "--get",
      "big.bin",
      "-o",
      `${out}/`,
      "--max-size",
      "1M",
      "--port",
      String(port),
    ]);
    expectCleanFailure(
      r,
      /big\.bin is 10\.0 MiB \(10485760 bytes\), more than --max-size allows \(1\.0 MiB\)/,
    );
    expect(await readdir(out)).toEqual([]);
  });

  it("--get --raw stops a server that sends more than --max-size, and keeps nothing", async () => {
    // 4 MiB to whoever connects: a bounded stand-in for an endless sender.
    const floodPort = await serve((socket) => {
      socket.resume();
      socket.end(Buffer.alloc(4 * 1024 * 1024, 1));
    });
    const out = path.join(dir, "raw.bin");
    const r = await timed([
      "transfer",
      "--get",
      "--raw",
      "-o",
      out,
      "--max-size",
      "1M",
      "--port",
      String(floodPort),
    ]);
    expectCleanFailure(
      r,
      /^the server sent more than --max-size allows \(1\.0 MiB\); .*raw\.bin was not kept$/,
    );
    expect(await readdir(dir)).toEqual([]);
  });

  it("--get refuses by default a size larger than the disk has free", async () => {
    const { port } = await hostileServer((socket, req) => {
      socket.write(
        frame({ op: "file", name: req.name, size: Number.MAX_SAFE_INTEGER, offset: 0, mtimeMs: 1e12 }),
      );
      socket.end();
    });
    const out = path.join(dir, "out");
    await mkdir(out);
    const r = await timed(["transfer", "--get", "huge.bin", "-o", `${out}/`, "--port", String(port)]);
    expectCleanFailure(r, /huge\.bin is .* more than the disk has free/);
    expect(await readdir(out)).toEqual([]);
  });

  it("--get refuses a resume point it did not ask for (which would leave a hole of zeros)", async () => {
    const { port } = await hostileServer((socket, req) => {
      socket.write(frame({ op: "file", name: req.name, size: 2 ** 40, offset: 2 ** 40 - 1, mtimeMs: 1e12 }));
    });
    const r = await timed(["transfer", "--get", "sparse.bin", "--port", String(port)]);
    expectCleanFailure(r, /the server offered sparse\.bin from byte \d+ of \d+; asked for 0/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("an impossible mtimeMs (out of a Date's range either way, not a number) in a listing is one clear line", async () => {
    const runs = await Promise.all(
      [-1e300, 1e300, "NaN"].map(async (mtimeMs) => {
        const { port } = await hostileServer((socket) => {
          socket.write(frame({ op: "entries", entries: [{ name: "a.txt", size: 1, mtimeMs }] }));
          socket.write(frame({ op: "listed", count: 1, truncated: false }));
        });
        return timed(["transfer", "--list", "--port", String(port)]);
      }),
    );
    for (const r of runs) {
      expectCleanFailure(r, /^the server sent a bad header: entries\.0\.mtimeMs: /);
      expect(r.stderr.split("\n").filter((l) => l.startsWith("lab:"))).toHaveLength(1);
      expect(r.stdout).toBe("");
    }
  });

  it("an impossible mtimeMs on a download is refused before anything is written", async () => {
    const { port } = await hostileServer(serveBody(Buffer.from("hello"), { mtimeMs: -9e15 }));
    const r = await timed(["transfer", "--get", "t.txt", "--port", String(port)]);
    expectCleanFailure(r, /^the server sent a bad header: mtimeMs: /);
    expect(await readdir(dir)).toEqual([]);
  });

  it("a download whose end carries no checksum is not kept, and says why", async () => {
    const { port } = await hostileServer(serveBody(Buffer.from("hello"), {}, {}));
    const r = await timed(["transfer", "--get", "t.txt", "--port", String(port)]);
    expectCleanFailure(r, /the server sent t\.txt without its SHA-256/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("a malformed checksum is one clear line", async () => {
    const { port } = await hostileServer(serveBody(Buffer.from("hello"), {}, { sha256: "not-hex" }));
    const r = await timed(["transfer", "--get", "t.txt", "--port", String(port)]);
    expectCleanFailure(r, /^the server sent a bad header: sha256: expected 64 lowercase hex digits/);
    expect(await readdir(dir)).toEqual([]);
  });

  it("an upload confirmed without the checksum that was sent is a failure", async () => {
    const src = path.join(dir, "up.txt");
    await writeFile(src, "hello\n");
    const { port } = await hostileServer((socket, req) => {
      socket.write(frame({ op: "accept", offset: 0 }));
      // Waits for the data and the end header, then confirms with no checksum.
      socket.on("data", (chunk) => {
        if (chunk.includes('"op":"end"')) socket.write(frame({ op: "done", name: req.name, size: 6 }));
      });
    });
    const r = await timed(["transfer", src, "--port", String(port)]);
    expectCleanFailure(r, /the server confirmed up\.txt without its SHA-256/);
  });

  it("an over-long error text from the server is cut, in the lab: line and in --json", async () => {
    const attack = `\u001b]0;PWNED\u0007${"A".repeat(30_000)}`;
    const { port } = await hostileServer((socket) => {
      socket.write(
        frame({ op: "error", code: "NOT_FOUND", message: attack, hint: `\u001b[2J${"B".repeat(30_000)}` }),
      );
    });
    const r = await timed(["transfer", "--get", "x.bin", "--port", String(port)]);
    expectCleanFailure(r, /^\^\[\]0;PWNED\^GAAAA.*…$/);
    for (const line of r.stderr.split("\n")) expect(line.length).toBeLessThanOrEqual(520);
    const j = await timed(["transfer", "--get", "x.bin", "--json", "--port", String(port)]);
    expect(j.code).toBe(1);
    const summary = JSON.parse(j.stdout) as { error: { code: string; message: string; hint: string } };
    expect(summary.error.code).toBe("NOT_FOUND");
    expect(summary.error.message.length).toBeLessThanOrEqual(1_000);
    expect(summary.error.hint.length).toBeLessThanOrEqual(1_000);
    expect(summary.error.message.startsWith("\u001b]0;PWNED\u0007AAA")).toBe(true);
  });

  it("an error with no text still says what happened", async () => {
    const { port } = await hostileServer((socket) => {
      socket.write(frame({ op: "error", code: "WHATEVER", message: "  " }));
    });
    const r = await timed(["transfer", "--list", "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lab: the server reported IO_ERROR without saying why$/m);
  });
});

describe("#13: terminal safety and confinement of what the server names", () => {
  const nasty = [
    "title\u001b]0;PWNED\u0007.txt",
    "clear\u001b[2J\r* server is shutting down",
    "rtl\u202egnp.exe",
    "c1\u009b31m.txt",
    "back\b\b\bspace\u007f.txt",
  ];

  it("--list shows names escaped for a person, and exactly in --json", async () => {
    const { port } = await hostileServer((socket) => {
      socket.write(
        frame({ op: "entries", entries: nasty.map((name) => ({ name, size: 3, mtimeMs: 1e12 })) }),
      );
      socket.write(frame({ op: "listed", count: nasty.length, truncated: false }));
    });
    const r = await timed(["transfer", "--list", "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(LIVE_CONTROLS);
    expect(r.stdout).toContain("title^[]0;PWNED^G.txt");
    expect(r.stdout).toContain("clear^[[2J^M* server is shutting down");
    expect(r.stdout).toContain("rtl<U+202E>gnp.exe");
    expect(r.stdout.trimEnd().split("\n")).toHaveLength(nasty.length);
    const j = await timed(["transfer", "--list", "--json", "--port", String(port)]);
    expect(j.code, j.stderr).toBe(0);
    expect((JSON.parse(j.stdout) as { files: { name: string }[] }).files.map((f) => f.name)).toEqual(nasty);
  });

  it("no name makes --get write outside the folder it was given", async () => {
    const body = Buffer.from("payload");
    // Serves any name, and claims it is called ../escaped.txt.
    const { port } = await hostileServer(serveBody(body, { name: "../escaped.txt" }));
    const out = path.join(dir, "a", "b");
    await mkdir(out, { recursive: true });
    const refused = await Promise.all(
      // (`x/` fetches a folder: test/adversarial/transfer-fetch.test.ts)
      ["x/..", "x/.", "..", ".", "x\\..\\..\\y"].map((name) =>
        timed(["transfer", "--get", name, "-o", `${out}/`, "--overwrite", "--port", String(port)]),
      ),
    );
    for (const r of refused) expectCleanFailure(r, /cannot save .*: its last part is not a file name/);
    const ok = await timed(["transfer", "--get", "in/../ok.txt", "-o", `${out}/`, "--port", String(port)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readdir(out)).toEqual(["ok.txt"]);
    expect(await readdir(path.join(dir, "a"))).toEqual(["b"]);
    expect(await readdir(dir)).toEqual(["a"]);
  });
});

describe("lab transfer bounds a server that trickles file data (--speed-limit, --speed-time)", () => {
  /** Writes one byte of `body` every 100 ms (10 B/s): each byte is progress to the stall clock. */
  const trickle = (socket: net.Socket, body: Buffer, after?: Buffer) => {
    if (after) socket.write(after);
    let at = 0;
    const timer = setInterval(() => {
      if (at < body.length && !socket.destroyed) socket.write(body.subarray(at, ++at));
    }, 100);
    socket.on("close", () => clearInterval(timer));
    socket.on("error", () => {});
  };
  const limits = ["--speed-limit", "1K", "--speed-time", "2s"];

  it("--get and --get --raw end with lab:/hint: once the data averages under --speed-limit", async () => {
    const body = Buffer.alloc(100_000, 7);
    const get = await hostileServer((socket, req) =>
      trickle(
        socket,
        body,
        frame({ op: "file", name: req.name, size: body.length, offset: 0, mtimeMs: 1e12 }),
      ),
    );
    const raw = await serve((socket) => trickle(socket, body));
    const runs = await Promise.all([
      timed(
        ["transfer", "--get", "x.bin", "-o", path.join(dir, "x.bin"), "--port", String(get.port), ...limits],
        40_000,
      ),
      timed(
        ["transfer", "--get", "--raw", "-o", path.join(dir, "raw.bin"), "--port", String(raw), ...limits],
        40_000,
      ),
    ]);
    for (const r of runs) {
      expectCleanFailure(
        r,
        /^the server moved \d+ bytes in [\d.]+ s, under the speed limit of 1\.0 KiB\/s over 2 s/,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^hint: .*--speed-limit/m);
      // Far under the 30 s stall timeout, which a trickle keeps from firing at all.
      expect(r.ms).toBeLessThan(20_000);
    }
    // What did arrive of the --get is kept for a resume, as after a stall.
    expect(runs[0]!.stderr).toMatch(/kept in .*x\.bin\.part/);
  }, 60_000);

  it("a folder fetch (--get DIR/) names the file the server trickled, under --speed-limit, and exits 1", async () => {
    const body = Buffer.alloc(100_000, 7);
    // Answers every request of the connection: the listing, then each get, trickled.
    const port = await serve((socket) => {
      let buf = Buffer.alloc(0);
      socket.on("data", (chunk) => {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const length = buf.readUInt32BE(0);
          const req = JSON.parse(buf.subarray(4, 4 + length).toString("utf8")) as Record<string, unknown>;
          buf = buf.subarray(4 + length);
          if (req.op === "list") {
            socket.write(
              frame({ op: "entries", entries: [{ name: "dir/a.bin", size: body.length, mtimeMs: 1e12 }] }),
            );
            socket.write(frame({ op: "listed", count: 1, truncated: false }));
          } else if (req.op === "get") {
            const head = frame({ op: "file", name: req.name, size: body.length, offset: 0, mtimeMs: 1e12 });
            trickle(socket, body, head);
          }
        }
      });
    });
    const r = await timed(
      ["transfer", "--get", "dir/", "-o", path.join(dir, "out"), "--port", String(port), ...limits],
      40_000,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/a\.bin/);
    expect(r.stderr).toMatch(/under the speed limit of 1\.0 KiB\/s over 2 s/);
    expect(r.stderr).not.toMatch(LIVE_CONTROLS);
    expect(r.ms).toBeLessThan(20_000);
  }, 60_000);

  it("an upload to a server that reads slower than --speed-limit ends with lab:/hint:", async () => {
    const src = path.join(dir, "big.bin");
    await writeFile(src, Buffer.alloc(32 * 1024 * 1024, 1));
    const port = await serve((socket) => {
      // Answers the put before reading it (the client reads only once it has sent), then takes
      // 1 KiB each 100 ms in paused mode: Node refills its buffer from the kernel only as it is
      // read, so once the kernel's buffers are full the client's bytes move at 10 KiB/s.
      socket.write(frame({ op: "accept", offset: 0 }));
      socket.pause();
      socket.read(0);
      const timer = setInterval(() => {
        if (socket.readableLength > 0) socket.read(Math.min(1024, socket.readableLength));
      }, 100);
      socket.on("close", () => clearInterval(timer));
    });
    const r = await timed(
      ["transfer", src, "--port", String(port), "--speed-limit", "1M", "--speed-time", "2s"],
      40_000,
    );
    expectCleanFailure(r, /under the speed limit of 1\.0 MiB\/s over 2 s/);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(25_000);
  }, 60_000);

  it("--limit-rate under --speed-limit never trips it: our own pacing is not the server's slowness", async () => {
    const served = path.join(dir, "srv");
    await mkdir(served);
    const body = Buffer.alloc(12 * 1024, 3);
    await writeFile(path.join(served, "paced.bin"), body);
    const { port } = await startServer(
      (p) => ["files", served, "--port", String(p)],
      (p) => `127.0.0.1:${p}`,
    );
    const out = path.join(dir, "paced.bin");
    const r = await timed(
      [
        "transfer",
        "--get",
        "paced.bin",
        "-o",
        out,
        "--port",
        String(port),
        "--limit-rate",
        "4K",
        "--speed-limit",
        "100K",
        "--speed-time",
        "1s",
      ],
      40_000,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(out)).toEqual(body);
    // It was paced (12 KiB at 4 KiB/s), so the 1 s windows had every chance to fire.
    expect(r.ms).toBeGreaterThan(1_500);
  }, 60_000);

  it("refuses a --speed-limit that is not a rate", async () => {
    const r = await runLab(["transfer", "--list", "--speed-limit", "fast"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lab: --speed-limit must be a rate such as 1KiB\/s/m);
  });
});
