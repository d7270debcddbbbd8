// Issue #13, `lab get` against servers nobody vouches for: no library stack trace ever reaches the
// user, curl's --max-time and --max-filesize hold, a gzip bomb does not fill the disk, and one
// Ctrl-C ends the download without leaving a partial file.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import getPort from "get-port";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { type Route, type RouteServer, startRouteServer } from "../helpers/http.js";
import { type LabResult, runLab, startLab, startProcess } from "../helpers/lab.js";

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
  // Claims 1000 bytes, sends 1 MiB: Node's parser stops at the claim, the rest is not body.
  // Sends a first chunk, then keeps the connection open until released (or the test ends).
  "/slow": (_req, res) => {
    res.writeHead(200, { "content-length": 10 * MiB });
    res.write(ONE_MIB.subarray(0, 64 * 1024));
    releaseSlow = () => res.destroy();
  },
  "/trickle": (_req, res) => {
    res.writeHead(200);
    const timer = setInterval(() => res.write("x"), 100);
    res.on("close", () => clearInterval(timer));
  },
  "/hostile-error": (_req, res) => {
    res.writeHead(500, "Oops \u009b2J \u202eevil");
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
