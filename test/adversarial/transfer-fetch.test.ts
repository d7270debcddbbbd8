/**
 * Issue #20, the download side of a folder: `lab transfer --get DIR/` against a hostile server (a
 * plain net.Server on 127.0.0.1 speaking the transfer protocol by hand: a u32 big-endian length,
 * then a JSON header) whose listing and bytes lie. The client must refuse each with one `lab:` line
 * and write nothing outside the folder it was given.
 */
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type LabResult, runLab } from "../helpers/lab.js";
import { serve } from "../helpers/tcp.js";
import { frame, LIVE_CONTROLS } from "../helpers/transfer-wire.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-adv-fetch-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Request = Record<string, unknown> & { op: string; name?: string };
/** Answers one request; may be async (to change the disk between two steps). */
type Script = (socket: net.Socket, request: Request) => void | Promise<void>;

/**
 * A server that reads every header of every connection in order and hands each to `script`; its
 * sockets are destroyed and it is closed when the test finishes.
 */
function hostileServer(script: Script): Promise<number> {
  return serve((socket) => {
    let buf = Buffer.alloc(0);
    let chain = Promise.resolve();
    socket.on("data", (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const length = buf.readUInt32BE(0);
        const request = JSON.parse(buf.subarray(4, 4 + length).toString("utf8")) as Request;
        buf = buf.subarray(4 + length);
        chain = chain
          .then(() => script(socket, request))
          .catch(() => {
            socket.destroy();
          });
      }
    });
  });
}

/** Answers a `list` with `names`, each listed at 5 bytes. */
function writeListing(socket: net.Socket, names: string[]): void {
  socket.write(frame({ op: "entries", entries: names.map((name) => ({ name, size: 5, mtimeMs: 1e12 })) }));
  socket.write(frame({ op: "listed", count: names.length, truncated: false }));
}

/** A listing of `names` (each 5 bytes), and for any `get` the 5 bytes `hello` with their hash. */
function listing(names: string[], onGet?: (req: Request) => Promise<void>): Script {
  const body = Buffer.from("hello");
  const sha256 = createHash("sha256").update(body).digest("hex");
  return async (socket, req) => {
    if (req.op === "list") {
      writeListing(socket, names);
      return;
    }
    await onGet?.(req);
    socket.write(frame({ op: "file", name: req.name, size: 5, offset: 0, mtimeMs: 1e12 }));
    socket.write(body);
    socket.write(frame({ op: "end", sha256 }));
  };
}

function fetch(port: number, extra: string[] = []): Promise<LabResult> {
  return runLab(["transfer", "--get", "d/", "-o", "dest", "--port", String(port), ...extra], {
    cwd: dir,
    timeoutMs: 20_000,
  });
}

/** One `lab:` line matching `message`, one `hint:` line, nothing live, no stack. */
function expectRefused(r: LabResult, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines.filter((l) => l.startsWith("lab: "))).toHaveLength(1);
  expect(r.stderr.match(/^lab: (.*)$/m)?.[1]).toMatch(message);
  expect(r.stderr).toMatch(/^hint: .+$/m);
  expect(r.stderr).not.toMatch(/undefined|NaN|at .*\.js:\d+/);
  expect(r.stderr).not.toMatch(LIVE_CONTROLS);
}

/** Every file under `root`, relative, sorted. */
async function tree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)) + (e.isDirectory() ? "/" : ""))
    .sort();
}

describe("#20: a folder fetch treats the server's listing as hostile", () => {
  it.each([
    ["d/../x", /'\.\.' is not allowed; nothing was fetched$/],
    ["../x", /'\.\.' is not allowed; nothing was fetched$/],
    ["/etc/x", /absolute paths are not allowed; nothing was fetched$/],
    ["d/a\\..\\..\\x", /backslashes are not allowed; nothing was fetched$/],
    ["d/a\u0000b", /contains a NUL byte; nothing was fetched$/],
    ["d/x.part", /reserved for partial files; nothing was fetched$/],
    ["d/\u001b]0;PWN\u0007", /control character or bidi mark; nothing was fetched$/],
  ])("refuses a listing naming %j before writing anything", async (bad, message) => {
    const port = await hostileServer(listing(["d/fine.txt", bad]));
    const r = await fetch(port);
    expectRefused(r, message);
    expect(await tree(dir)).toEqual([]);
  });

  it("refuses a name listed twice and one nested past --max-depth", async () => {
    const twice = await hostileServer(listing(["d/a.txt", "d/a.txt"]));
    expectRefused(await fetch(twice), /listed "d\/a\.txt" twice; nothing was fetched$/);
    const deep = await hostileServer(listing(["d/1/2/3/x.txt"]));
    expectRefused(
      await fetch(deep, ["--max-depth", "2"]),
      /nested more than 2 folders below d\/; nothing was fetched$/,
    );
    expect(await tree(dir)).toEqual([]);
  });

  it("cuts a listing of 10^6 entries off at --max-files (default 100 000), quickly", async () => {
    const port = await hostileServer((socket, req) => {
      if (req.op !== "list") return;
      // 1 000 frames of 1 000 entries, written as the client reads (it should stop early).
      let frames = 0;
      const more = () => {
        while (frames < 1_000) {
          const entries = Array.from({ length: 1_000 }, (_, i) => ({
            name: `d/${frames}-${i}.txt`,
            size: 1,
            mtimeMs: 1e12,
          }));
          frames++;
          if (!socket.write(frame({ op: "entries", entries }))) return void socket.once("drain", more);
        }
        socket.write(frame({ op: "listed", count: 1_000_000, truncated: false }));
      };
      more();
    });
    const started = performance.now();
    const r = await fetch(port);
    expectRefused(r, /^d on the server holds more than 100000 files; nothing was fetched$/);
    expect(r.stderr).toMatch(/^hint: .*--max-files/m);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await tree(dir)).toEqual([]);
  });

  it("does not follow a symlink planted in the destination, before or during the fetch", async () => {
    const outside = path.join(dir, "outside");
    await mkdir(outside);
    // Before: dest/a is a link to a folder outside.
    await mkdir(path.join(dir, "dest"));
    await symlink(outside, path.join(dir, "dest", "a"));
    const planted = await hostileServer(listing(["d/a/x.txt"]));
    const r = await fetch(planted);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^failed d\/a\/x\.txt: "a\/x\.txt" leads outside dest \(a symlink there\); nothing was written$/m,
    );
    expect(await readdir(outside)).toEqual([]);

    // A link where the file or its .part goes: neither is followed, even with --overwrite.
    await writeFile(path.join(outside, "keep.txt"), "mine");
    await rm(path.join(dir, "dest"), { recursive: true });
    await mkdir(path.join(dir, "dest"));
    await symlink(path.join(outside, "keep.txt"), path.join(dir, "dest", "f.txt"));
    await symlink(path.join(outside, "keep.txt"), path.join(dir, "dest", "g.txt.part"));
    const links = await hostileServer(listing(["d/f.txt", "d/g.txt"]));
    const l = await fetch(links);
    expect(l.code, l.stderr).toBe(1);
    expect(l.stderr).toMatch(/^failed d\/f\.txt: .*already exists here \(a different file\)$/m);
    expect(l.stderr).toMatch(/^failed d\/g\.txt: .*g\.txt\.part/m);
    const o = await fetch(links, ["--overwrite"]);
    expect(o.code, o.stderr).toBe(1);
    expect(o.stderr).toMatch(/^failed d\/g\.txt: /m);
    expect(await readFile(path.join(outside, "keep.txt"), "utf8")).toBe("mine");
    expect(await readdir(outside)).toEqual(["keep.txt"]);
    await rm(path.join(outside, "keep.txt"));

    // During: once the client made dest/b and asked for b/y.txt, b is swapped for a link outside.
    await rm(path.join(dir, "dest"), { recursive: true });
    const moved = path.join(dir, "moved");
    const racing = await hostileServer(
      listing(["d/b/y.txt"], async () => {
        await rename(path.join(dir, "dest", "b"), moved);
        await symlink(outside, path.join(dir, "dest", "b"));
      }),
    );
    const raced = await fetch(racing);
    expect(raced.code, raced.stderr).toBe(0);
    expect(await readdir(outside)).toEqual([]);
    // The file landed in the folder the client opened, wherever it was moved to.
    expect(await readdir(moved)).toEqual(["y.txt"]);
  });

  it("keeps only the names under the folder from a server that ignores the listing's prefix", async () => {
    let asked: unknown;
    const port = await hostileServer((socket, req) => {
      if (req.op === "list") asked = req.prefix;
      return listing(["a.txt", "d/x.txt", "d/sub/y.txt", "dd/z.txt"])(socket, req);
    });
    const r = await fetch(port);
    expect(r.code, r.stderr).toBe(0);
    expect(asked).toBe("d");
    expect(await tree(path.join(dir, "dest"))).toEqual(["sub/", "sub/y.txt", "x.txt"]);
  });

  it("keeps no file whose bytes do not match the server's SHA-256", async () => {
    const port = await hostileServer(async (socket, req) => {
      if (req.op === "list") {
        writeListing(socket, ["d/x.bin"]);
        return;
      }
      socket.write(frame({ op: "file", name: req.name, size: 5, offset: 0, mtimeMs: 1e12 }));
      socket.write(Buffer.from("hello"));
      socket.write(frame({ op: "end", sha256: "0".repeat(64) }));
    });
    const r = await fetch(port);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^failed d\/x\.bin: d\/x\.bin: SHA-256 mismatch .*the file was not kept$/m);
    expect(r.stderr).toMatch(/^lab: 1 of 1 file failed: d\/x\.bin$/m);
    expect(await tree(path.join(dir, "dest"))).toEqual([]);
  });

  it("refuses a file offered at another size than listed", async () => {
    const port = await hostileServer(async (socket, req) => {
      if (req.op === "list") {
        writeListing(socket, ["d/x.bin"]);
        return;
      }
      socket.write(frame({ op: "file", name: req.name, size: 5_000_000, offset: 0, mtimeMs: 1e12 }));
    });
    const r = await fetch(port);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /^failed d\/x\.bin: the server listed d\/x\.bin as 5 bytes but offered 5000000/m,
    );
    expect(await tree(path.join(dir, "dest"))).toEqual([]);
  });
});
