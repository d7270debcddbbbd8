// Issue #13, `lab get` against servers nobody vouches for: no library stack trace ever reaches the
// user, curl's --max-time and --max-filesize hold, a gzip bomb does not fill the disk, and one
// Ctrl-C ends the download without leaving a partial file.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type Route, type RouteServer, startRouteServer } from "../helpers/http.js";
import { type LabResult, runLab, SIGNAL_EXIT_MS, startLab, startProcess } from "../helpers/lab.js";

const MiB = 1024 * 1024;
/** 1 MiB of bytes that do not compress, so the file is really 1 MiB on the wire. */
const ONE_MIB = Buffer.alloc(MiB);
for (let i = 0; i < ONE_MIB.length; i += 4) ONE_MIB.writeUInt32LE((i * 2654435761) >>> 0, i);
/** About 1 MB of gzip that inflates to 1 GiB of zeros. */
let BOMB: Buffer;

let releaseSlow: (() => void) | undefined;

const routes: Record<string, Route> = {
  "/bomb": (_req, res) => {
    res.writeHead(200, { "content-encoding": "gzip", "content-length": BOMB.length });
    res.end(BOMB);
  },
  "/gzip-text": (_req, res) => {
    const body = gzipSync(Buffer.from("hello, compressed\n".repeat(1000)));
    res.writeHead(200, { "content-encoding": "gzip", "content-length": body.length });
    res.end(body);
  },
  "/one-mib": (_req, res) => {
    res.writeHead(200, { "content-length": ONE_MIB.length });
    res.end(ONE_MIB);
  },
  // Streams 1 MiB without a Content-Length (chunked): only counting can enforce a limit.
  "/one-mib-chunked": (_req, res) => {
    res.writeHead(200);
    res.end(ONE_MIB);
  },
  // Content-Length says 200-odd bytes; decoded, the body is 18 000.
  // Sends a first chunk, then keeps the connection open until released (or the test ends).
  "/slow": (_req, res) => {
    res.writeHead(200, { "content-length": 10 * MiB });
    res.write(ONE_MIB.subarray(0, 64 * 1024));
    releaseSlow = () => res.destroy();
  },
  "/silent": () => {},
  "/trickle": (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write("x"), 100);
    res.on("close", () => clearInterval(timer));
  },
  "/hostile-error": (_req, res) => {
    // A C1 CSI (U+009B, sent as the byte 0x9B) in the reason phrase: "clear the screen".
    res.writeHead(500, "Oops \u009b2J");
    res.end();
  },
};

let http: RouteServer;
let base: string;
let dir: string;

beforeAll(async () => {
  // 1 GiB of zeros, gzipped in 64 MiB pieces (a concatenation of gzip members is one gzip body).
  const piece = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
  BOMB = Buffer.concat(Array.from({ length: 16 }, () => piece));
  dir = mkdtempSync(join(tmpdir(), "lab-get-adv-"));
  http = await startRouteServer(routes);
  ({ base } = http);
});

afterAll(async () => {
  releaseSlow?.();
  rmSync(dir, { recursive: true, force: true });
  await http.close();
});

/** No library's stack trace or internal error text: every failure is `lab:` then `hint:`. */
function expectCleanFailure(r: LabResult): void {
  expect(r.stderr).not.toMatch(/\n\s+at |AssertionError|node:internal|Node\.js v\d/);
  expect(r.stderr).toMatch(/^lab: .+\nhint: .+\n$/);
}

function hasPython(): boolean {
  return spawnSync("python3", ["--version"]).status === 0;
}

describe("#13 lab get: the known crash", () => {
  it("#13: downloads a 1 MiB file from python3 -m http.server with -o, three times in a row, with no AssertionError", async (ctx) => {
    if (!hasPython()) {
      ctx.skip("python3 is not installed (apt-get install python3) — needed to serve files as http.server");
    }
    const served = mkdtempSync(join(tmpdir(), "lab-get-py-"));
    onTestFinished(() => rmSync(served, { recursive: true, force: true }));
    writeFileSync(join(served, "one.bin"), ONE_MIB);
    const port = await getPort({ host: "127.0.0.1" });
    const py = startProcess("python3", ["-u", "-m", "http.server", "--bind", "127.0.0.1", String(port)], {
      cwd: served,
    });
    await py.waitForOutput(`port ${port}`);
    const want = createHash("sha256").update(ONE_MIB).digest("hex");
    for (let i = 0; i < 3; i++) {
      const out = join(dir, `py-${i}.bin`);
      const r = await runLab(["get", "-o", out, `http://127.0.0.1:${port}/one.bin`]);
      expect(r, `run ${i}`).toEqual({ code: 0, stdout: "", stderr: "" });
      expect(createHash("sha256").update(readFileSync(out)).digest("hex")).toBe(want);
      expect(existsSync(`${out}.part`)).toBe(false);
    }
  }, 30_000);
});

/** Polls `check` every 20 ms until it holds (fails after `timeoutMs`): for conditions no event announces. */
async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function leftovers(prefix: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith(prefix));
}

describe("#13 lab get: limits on what a server sends", () => {
  it("#13: --max-time ends a transfer that trickles forever with exit 28, leaving no file", async () => {
    const out = join(dir, "trickle.txt");
    const started = Date.now();
    const r = await runLab(["get", "--max-time", "1", "-o", out, `${base}/trickle`]);
    expect(r.code).toBe(28);
    expect(r.stderr).toContain(`lab: operation timed out after 1 s (${base}/trickle)`);
    expectCleanFailure(r);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(leftovers("trickle")).toEqual([]);
  });

  it("#13: --max-filesize refuses a larger Content-Length with exit 63 before writing anything", async () => {
    const r = await runLab(["get", "--max-filesize", "1000", "-o", join(dir, "cl.bin"), `${base}/one-mib`]);
    expect(r.code).toBe(63);
    expect(r.stderr).toContain(`is ${MiB} bytes (Content-Length), more than the limit of 1000 bytes`);
    expectCleanFailure(r);
    expect(leftovers("cl.bin")).toEqual([]);
  });

  it("#13: --max-filesize stops a body without a Content-Length once it passes the limit (exit 63)", async () => {
    const r = await runLab([
      "get",
      "--max-filesize",
      "100K",
      "-o",
      join(dir, "chunked.bin"),
      `${base}/one-mib-chunked`,
    ]);
    expect(r.code).toBe(63);
    expect(r.stderr).toContain("is larger, more than the limit of 102400 bytes");
    expectCleanFailure(r);
    expect(leftovers("chunked.bin")).toEqual([]);
  });

  it("#13: --max-filesize counts decoded bytes, so a small Content-Length cannot hide a large body", async () => {
    const r = await runLab([
      "get",
      "--max-filesize",
      "10000",
      "-o",
      join(dir, "lie.txt"),
      `${base}/gzip-text`,
    ]);
    expect(r.code).toBe(63);
    expectCleanFailure(r);
    expect(leftovers("lie.txt")).toEqual([]);
  });

  it("still decodes an honest gzip body", async () => {
    const r = await runLab(["get", `${base}/gzip-text`]);
    expect(r).toEqual({ code: 0, stdout: "hello, compressed\n".repeat(1000), stderr: "" });
  });

  it("#13: a 1 MB gzip bomb (1 GiB decoded) fails with exit 63 and leaves no file, having written little", async () => {
    const out = join(dir, "bomb.bin");
    const r = await runLab(["get", "-o", out, `${base}/bomb`]);
    expect(r.code).toBe(63);
    expect(r.stderr).toMatch(
      /lab: the gzip body of .*\/bomb grew to \d+ bytes from \d+ received: more than 100 times larger/,
    );
    expectCleanFailure(r);
    // What was decoded before the guard tripped stays far below the gigabyte.
    const decoded = Number(/grew to (\d+) bytes/.exec(r.stderr)?.[1]);
    expect(decoded).toBeLessThan(64 * MiB);
    expect(leftovers("bomb.bin")).toEqual([]);
  });

  it("#13: shows a server's reason phrase escaped, never as live control codes", async () => {
    const r = await runLab(["get", "-f", `${base}/hostile-error`]);
    expect(r.code).toBe(22);
    expect(r.stderr.split("\n")[0]).toBe("lab: HTTP Error 500: Oops <U+009B>2J");
    expect(r.stderr).not.toContain("\u009b");
    expectCleanFailure(r);
  });
});

describe("#13 lab get: one signal stops it", () => {
  it.each(["SIGINT", "SIGTERM", "SIGHUP"] as const)(
    "#13: one %s ends a download within 1 s, exit 130, no partial file left",
    async (signal) => {
      const out = join(dir, `stopped-${signal}.bin`);
      const lab = startLab(["get", "-o", out, `${base}/slow`]);
      await until(() => existsSync(`${out}.part`) && statSync(`${out}.part`).size > 0, "the .part file");
      const sent = Date.now();
      expect(await lab.stop(signal)).toBe(130);
      expect(Date.now() - sent).toBeLessThan(SIGNAL_EXIT_MS);
      expect(lab.stderr()).toBe(
        "lab: interrupted\nhint: nothing was saved; run the command again to fetch it\n",
      );
      expect(leftovers(`stopped-${signal}`)).toEqual([]);
    },
  );

  it("#13: one SIGINT ends it within 1 s while it waits for an answer that never comes", async () => {
    const out = join(dir, "silent.txt");
    let asked: () => void = () => {};
    const isAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    http.server.once("request", () => asked());
    const lab = startLab(["get", "-o", out, `${base}/silent`]);
    await isAsked;
    const sent = Date.now();
    expect(await lab.stop("SIGINT")).toBe(130);
    expect(Date.now() - sent).toBeLessThan(SIGNAL_EXIT_MS);
    expect(lab.stderr()).toBe(
      "lab: interrupted\nhint: the server had not answered yet; run the command again\n",
    );
    expect(leftovers("silent")).toEqual([]);
  });

  it("#13: one SIGINT ends it within 1 s while -o FIFO waits for a reader that never comes", async () => {
    const fifo = join(dir, "lonely.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    let asked: () => void = () => {};
    const isAsked = new Promise<void>((resolve) => {
      asked = resolve;
    });
    http.server.once("request", () => asked());
    const lab = startLab(["get", "-o", fifo, `${base}/one-mib`]);
    await isAsked;
    const sent = Date.now();
    expect(await lab.stop("SIGINT")).toBe(130);
    expect(Date.now() - sent).toBeLessThan(SIGNAL_EXIT_MS);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it("#13: one SIGINT ends it within 1 s even when the reader of -o FIFO stopped reading", async () => {
    const fifo = join(dir, "stuck.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // A reader that opens the FIFO and never reads: the pipe fills, lab's writes block.
    const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    onTestFinished(() => closeSync(fd));
    const lab = startLab(["get", "-o", fifo, `${base}/one-mib`]);
    // Bytes in the FIFO: lab is writing; it fills the pipe again at once and stays blocked.
    const peek = Buffer.alloc(16);
    await until(() => {
      try {
        return readSync(fd, peek) > 0;
      } catch {
        return false; // EAGAIN: nothing written yet
      }
    }, "lab to write into the FIFO");
    const sent = Date.now();
    expect(await lab.stop("SIGINT")).toBe(130);
    expect(Date.now() - sent).toBeLessThan(SIGNAL_EXIT_MS);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });
});
