// Issue #13, the file server's slice: `lab files` against a hostile peer, or a hostile local user.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ByteQueue } from "../../packages/protocol/src/index.js";
import {
  encodeHeader,
  type Header,
  headerDecoder,
  TransferClient,
} from "../../packages/transfer/src/index.js";
import {
  type LabProcess,
  runLab,
  SIGNAL_EXIT_MS,
  type StartOptions,
  startProcess,
  startServer,
} from "../helpers/lab.js";

let dir: string;
let shared: string;
let outside: string;
let local: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-adv-files-"));
  shared = path.join(dir, "shared");
  outside = path.join(dir, "outside");
  local = path.join(dir, "local");
  await Promise.all([mkdir(shared), mkdir(outside), mkdir(local)]);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** `lab files SHARED` on a free port, with extra flags; resolves once it says it is serving. */
function serveFiles(
  flags: string[] = [],
  opts: StartOptions = {},
): Promise<{ lab: LabProcess; port: number }> {
  return startServer(
    (p) => ["files", shared, "--port", String(p), ...flags],
    (p) => `on 127.0.0.1:${p}`,
    opts,
  );
}

const clients: TransferClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
});

async function connect(port: number): Promise<TransferClient> {
  const c = await TransferClient.connect({ port, stream: { fsync: false } });
  clients.push(c);
  return c;
}

/** A raw TCP connection that collects the headers the server sends. */
async function rawConnection(port: number) {
  const socket = net.connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.on("error", () => {});
  const decoder = headerDecoder();
  const queue = new ByteQueue();
  const headers: Header[] = [];
  let waiter: (() => void) | undefined;
  let isClosed = false;
  let bodyBytes = 0;
  socket.on("data", (chunk: Buffer) => {
    // After a `file` header come raw file bytes, not headers: count them instead.
    if (headers.at(-1)?.op === "file") bodyBytes += chunk.length;
    else {
      queue.append(chunk);
      for (let h = decoder.decode(queue); h !== undefined; h = decoder.decode(queue)) headers.push(h);
    }
    waiter?.();
  });
  socket.on("close", () => {
    isClosed = true;
    waiter?.();
  });
  /** Resolves when `ok()` holds (checked on every header and at close), or rejects after `timeoutMs`. */
  const until = (ok: () => boolean, what: string, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(headers)}`)),
        timeoutMs,
      );
      const check = () => {
        if (!ok()) return;
        clearTimeout(timer);
        waiter = undefined;
        resolve();
      };
      waiter = check;
      check();
    });
  return {
    socket,
    headers,
    get isClosed() {
      return isClosed;
    },
    get bodyBytes() {
      return bodyBytes;
    },
    until,
    send: (h: Parameters<typeof encodeHeader>[0]) => socket.write(encodeHeader(h)),
  };
}

describe("issue #13: lab files against hostile peers", () => {
  it("#13: a folder swapped for a symlink in a tight loop leaks no byte and lets no file out", {
    timeout: 60_000,
  }, async () => {
    const marker = `OUTSIDE-SECRET-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}`;
    await writeFile(path.join(outside, "secret.txt"), marker);
    await mkdir(path.join(shared, "race"));
    await writeFile(path.join(shared, "race", "secret.txt"), "inside\n");
    await symlink(outside, path.join(shared, "race-link"));
    await writeFile(path.join(local, "up.bin"), Buffer.alloc(64 * 1024, 7));
    const { port } = await serveFiles();

    // The attacker: another process, renaming `race` between the real folder and the symlink.
    const racer = startProcess(process.execPath, ["-e", RACER, shared, "10000", "400000"], { name: "racer" });
    let raceOver = false;
    const raceDone = racer.exited.then((code) => {
      raceOver = true;
      return code;
    });
    await racer.waitForOutput("racing", { timeoutMs: 10_000 });

    const got = { ok: 0, refused: 0, leaked: 0 };
    const put = { ok: 0, refused: 0 };
    const downloader = async (w: number) => {
      let c = await connect(port);
      const out = path.join(local, `got-${w}.txt`);
      for (let i = 0; !raceOver; i++) {
        try {
          if (i % 10 === 9) {
            // A listing must not describe the outside folder either (its secret.txt has another size).
            const { entries } = await c.list();
            if (entries.some((e) => e.name.endsWith("secret.txt") && e.size === marker.length)) got.leaked++;
            continue;
          }
          await c.download("race/secret.txt", out, { overwrite: true, verify: i % 2 === 0 });
          got.ok++;
          if ((await readFile(out, "utf8")).includes("OUTSIDE-SECRET")) got.leaked++;
        } catch (err) {
          got.refused++;
          if ((err as { code?: string }).code === "CONNECTION_LOST") c = await connect(port);
        }
      }
    };
    const uploader = async (w: number) => {
      let c = await connect(port);
      for (let i = 0; !raceOver; i++) {
        try {
          await c.upload(path.join(local, "up.bin"), { name: `race/up-${w}-${i}.bin` });
          put.ok++;
        } catch (err) {
          put.refused++;
          if ((err as { code?: string }).code === "CONNECTION_LOST") c = await connect(port);
        }
      }
    };
    await Promise.all([0, 1, 2].flatMap((w) => [downloader(w), uploader(w)]));
    expect(await raceDone).toBe(0);
    const race = JSON.parse(racer.stdout().trim().split("\n").at(-1)!) as { swaps: number };

    // The race really happened, and both outcomes were seen.
    expect(race.swaps).toBeGreaterThan(2_000);
    expect(got.ok).toBeGreaterThan(0);
    expect(got.refused).toBeGreaterThan(0);
    expect(put.ok).toBeGreaterThan(0);
    // Nothing crossed.
    expect(got.leaked).toBe(0);
    expect(await readdir(outside)).toEqual(["secret.txt"]);
    expect(await readFile(path.join(outside, "secret.txt"), "utf8")).toBe(marker);
  });

  it("#13: refuses file names with controls, bidi marks, separators, a BOM, only dots, or .part in any case", {
    timeout: 20_000,
  }, async () => {
    const { lab, port } = await serveFiles();
    const conn = await rawConnection(port);
    const names = [
      "a\u001b]0;PWNED\u0007.txt",
      "a\u009b2J.txt",
      "evil\u202etxt.exe",
      "x\u2066y",
      "line\u2028break",
      "\ufeffbom.txt",
      "...",
      "in/. ./x",
      "x.PART",
      "x.Part",
      "dir.part/x",
    ];
    for (const [i, name] of names.entries()) {
      conn.send({ op: "put", v: 1, name, size: 1 });
      await conn.until(() => conn.headers.length > i, `the reply to ${JSON.stringify(name)}`);
      expect(conn.headers[i], JSON.stringify(name)).toMatchObject({ op: "error", code: "INVALID_NAME" });
    }
    conn.socket.destroy();
    expect(await readdir(shared)).toEqual([]);
    // The operator's log shows the refused names escaped, never as live control codes.
    await lab.waitForOutput("refused upload of");
    expect(lab.stderr()).not.toMatch(/[\u001b\u0007\u009b\u202e\u2066\u2028\ufeff]/);
  });

  it("#13: hides dotfiles from list, get and put unless --dotfiles", { timeout: 20_000 }, async () => {
    await writeFile(path.join(shared, ".env"), "TOKEN=1");
    await mkdir(path.join(shared, ".git"));
    await writeFile(path.join(shared, ".git", "config"), "[core]");
    await writeFile(path.join(shared, "plain.txt"), "plain");
    await writeFile(path.join(local, "up.txt"), "overwritten");
    {
      const { lab, port } = await serveFiles();
      const c = await connect(port);
      expect((await c.list()).entries.map((e) => e.name)).toEqual(["plain.txt"]);
      for (const name of [".env", ".git/config"]) {
        await expect(c.download(name, path.join(local, "x"))).rejects.toMatchObject({
          code: "INVALID_NAME",
          message: expect.stringContaining("names starting with '.' are not served"),
        });
        await expect(c.upload(path.join(local, "up.txt"), { name, overwrite: true })).rejects.toMatchObject({
          code: "INVALID_NAME",
        });
      }
      expect(await readFile(path.join(shared, ".env"), "utf8")).toBe("TOKEN=1");
      await c.close();
      await lab.stop("SIGTERM");
    }
    const { port } = await serveFiles(["--dotfiles"]);
    const c = await connect(port);
    expect((await c.list()).entries.map((e) => e.name)).toEqual([".env", ".git/config", "plain.txt"]);
    await c.download(".env", path.join(local, "env"));
    expect(await readFile(path.join(local, "env"), "utf8")).toBe("TOKEN=1");
  });

  it("#13: cuts a peer whose header dribbles in slower than --header-timeout", {
    timeout: 20_000,
  }, async () => {
    const { lab, port } = await serveFiles(["--header-timeout", "1"]);
    const conn = await rawConnection(port);
    const header = encodeHeader({ op: "list", v: 1 });
    // Two bytes now, then nothing: the header never completes.
    conn.socket.write(header.subarray(0, 2));
    const started = Date.now();
    await conn.until(() => conn.isClosed, "the server to close the connection", 8_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(conn.headers[0]).toMatchObject({
      op: "error",
      message: expect.stringContaining("not complete within 1 s"),
    });
    await lab.waitForOutput("request header not complete within 1 s");
    // A prompt client on the same server is served.
    const c = await connect(port);
    expect((await c.list()).entries).toEqual([]);
  });

  it("#13: closes a connection idle past --idle-timeout, and refuses one over --max-clients", {
    timeout: 20_000,
  }, async () => {
    const { lab, port } = await serveFiles(["--idle-timeout", "1", "--max-clients", "2"]);
    const a = await rawConnection(port);
    const b = await rawConnection(port);
    // Both slots are taken (each sends a request, so each has a handler): the third is turned away.
    a.send({ op: "list", v: 1 });
    b.send({ op: "list", v: 1 });
    await a.until(() => a.headers.some((h) => h.op === "listed"), "a's listing");
    await b.until(() => b.headers.some((h) => h.op === "listed"), "b's listing");
    const third = net.connect({ host: "127.0.0.1", port });
    third.on("error", () => {});
    let text = "";
    third.on("data", (d) => {
      text += d.toString("latin1");
    });
    await new Promise<void>((resolve) => third.once("close", () => resolve()));
    expect(text).toBe("ERR server full (2 connections)\n");
    await lab.waitForOutput("server full");
    // Then both go quiet, and are closed after about a second.
    const started = Date.now();
    await a.until(() => a.isClosed, "the idle connection to close", 8_000);
    await b.until(() => b.isClosed, "the idle connection to close", 8_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("#13: does not count a long download to a client that sends nothing as idle", {
    timeout: 20_000,
  }, async () => {
    const size = 8 * 1024 * 1024;
    await writeFile(path.join(shared, "slow.bin"), Buffer.alloc(size, 3));
    const { port } = await serveFiles(["--idle-timeout", "1"]);
    // About 2.5 s at 3.2 MB/s: longer than the idle timeout, with bytes moving all along.
    const c = await TransferClient.connect({ port, stream: { fsync: false, rateBytesPerSecond: 3_200_000 } });
    clients.push(c);
    const started = Date.now();
    const r = await c.download("slow.bin", path.join(local, "slow.bin"));
    expect(Date.now() - started).toBeGreaterThan(1_500);
    expect(r.bytes).toBe(size);
  });

  it("#13: keeps every byte received before a reset in the .part, so a resume sends only the rest", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const size = 3 * 1024 * 1024;
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 11)) & 0xff;
    await writeFile(path.join(local, "big.bin"), data);
    // Within TCP's first window on loopback, so write(2) hands it all to the server's side before the
    // reset; and under one 1 MiB write batch, which is all the old code kept (it kept nothing).
    const sent = 60_000;
    const conn = await rawConnection(port);
    conn.send({ op: "put", v: 1, name: "big.bin", size });
    await conn.until(() => conn.headers.some((h) => h.op === "accept"), "accept");
    conn.send({ op: "data", offset: 0 });
    await new Promise<void>((resolve) => conn.socket.write(data.subarray(0, sent), () => resolve()));
    const part = path.join(shared, "big.bin.part");
    // A reset right behind the data: Linux still hands the server every byte queued before it.
    conn.socket.resetAndDestroy();
    await waitFor(async () => (await stat(part)).size === sent, `the .part to hold ${sent} bytes`);
    const c = await connect(port);
    const r = await c.upload(path.join(local, "big.bin"), { resume: true });
    expect(r.offset).toBe(sent);
    expect(r.transferredBytes).toBe(size - sent);
    expect((await readFile(path.join(shared, "big.bin"))).equals(data)).toBe(true);
  });

  it("#13: ends within a second on SIGTERM with an upload and a stalled download open, keeping the .part", {
    timeout: 30_000,
  }, async () => {
    await writeFile(path.join(shared, "big.bin"), Buffer.alloc(32 * 1024 * 1024, 1));
    const { lab, port } = await serveFiles();
    // An upload that stops partway (60 000 bytes: within the first TCP window, so sent at once).
    const up = await rawConnection(port);
    up.send({ op: "put", v: 1, name: "half.bin", size: 1_000_000 });
    await up.until(() => up.headers.some((h) => h.op === "accept"), "accept");
    up.send({ op: "data", offset: 0 });
    await new Promise<void>((resolve) => up.socket.write(Buffer.alloc(60_000, 2), () => resolve()));
    const part = path.join(shared, "half.bin.part");
    // Then a download the client never reads: the server's writes block on a full socket. Its
    // first header also tells that the server has gone past the upload's bytes, sent before it.
    const reader = await rawConnection(port);
    reader.send({ op: "get", v: 1, name: "big.bin" });
    await reader.until(() => reader.headers.some((h) => h.op === "file"), "the file header");
    reader.socket.pause();
    // Stuck for real: the kernel holds a send queue the paused client's window does not take.
    await waitFor(
      async () => (await sendQueueBytes(port, reader.socket.localPort!)) > 256 * 1024,
      "the download to stall",
    );
    const bodyBefore = reader.bodyBytes;
    const started = Date.now();
    const code = await lab.stop("SIGTERM");
    expect(Date.now() - started).toBeLessThan(SIGNAL_EXIT_MS);
    expect(code).toBe(0);
    expect((await stat(part)).size).toBe(60_000);
    // The download really was stuck: the client had read little of it.
    expect(bodyBefore).toBeLessThan(32 * 1024 * 1024);
    expect(lab.stderr()).toContain("partial uploads stay as NAME.part");
  });

  it("#13: sends short error texts, one line each", { timeout: 20_000 }, async () => {
    const { port } = await serveFiles();
    const conn = await rawConnection(port);
    conn.send({ op: "get", v: 1, name: `${"a/".repeat(1500)}x` });
    await conn.until(() => conn.headers.length > 0, "the reply");
    const reply = conn.headers[0] as { op: string; message: string; hint?: string };
    expect(reply.op).toBe("error");
    expect(reply.message.length).toBeLessThanOrEqual(300);
    expect(reply.message).not.toContain("\n");
    expect(reply.message).not.toContain("/proc/self");
  });
});

describe("issue #20: relative paths of a folder send against a hostile local user and peer", () => {
  it("#20: uploads making nested subfolders under a folder swapped for a symlink never write outside", {
    timeout: 60_000,
  }, async () => {
    // The racing folder sits three levels down, and each upload makes two new folders below it.
    const base = path.join(shared, "deep", "er");
    await mkdir(path.join(base, "race", "sub"), { recursive: true });
    await symlink(outside, path.join(base, "race-link"));
    await writeFile(path.join(outside, "secret.txt"), "outside");
    await writeFile(path.join(local, "up.bin"), Buffer.alloc(16 * 1024, 5));
    const { port } = await serveFiles();
    const racer = startProcess(process.execPath, ["-e", RACER, base, "5000", "200000"], { name: "racer" });
    let raceOver = false;
    const raceDone = racer.exited.then((code) => {
      raceOver = true;
      return code;
    });
    await racer.waitForOutput("racing", { timeoutMs: 10_000 });
    const put = { ok: 0, refused: 0 };
    const uploader = async (w: number) => {
      let c = await connect(port);
      for (let i = 0; !raceOver; i++) {
        const name = i % 2 === 0 ? `deep/er/race/n-${w}-${i}/x/y.bin` : `deep/er/race/sub/m-${w}-${i}/z.bin`;
        try {
          await c.upload(path.join(local, "up.bin"), { name });
          put.ok++;
        } catch (err) {
          put.refused++;
          if ((err as { code?: string }).code === "CONNECTION_LOST") c = await connect(port);
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(uploader));
    expect(await raceDone).toBe(0);
    const race = JSON.parse(racer.stdout().trim().split("\n").at(-1)!) as { swaps: number };
    expect(race.swaps).toBeGreaterThan(1_000);
    expect(put.ok).toBeGreaterThan(0);
    expect(put.refused).toBeGreaterThan(0);
    // Nothing was made or written through the link.
    expect(await readdir(outside, { recursive: true })).toEqual(["secret.txt"]);
    expect(await readFile(path.join(outside, "secret.txt"), "utf8")).toBe("outside");
  });

  it("#20: refuses nested names that climb, are empty, absolute, hold NUL or backslashes, or are too deep", {
    timeout: 20_000,
  }, async () => {
    const { lab, port } = await serveFiles(["--max-depth", "3"]);
    const conn = await rawConnection(port);
    const cases: Array<[string, string]> = [
      ["a/b/../../../x", "'..' is not allowed"],
      ["a/../b", "'..' is not allowed"],
      ["a//b", "empty or '.' path segments"],
      ["a/./b", "empty or '.' path segments"],
      ["a/b/", "empty or '.' path segments"],
      ["a\\..\\..\\x", "backslashes are not allowed"],
      ["a/b\u0000/c", "NUL"],
      ["/a/b", "absolute paths are not allowed"],
      ["C:/a/b", "drive-letter paths are not allowed"],
      ["a/b/c/d", "4 path segments, more than the server's limit of 3"],
      [Array(200).fill("x").join("/"), "200 path segments, more than the server's limit of 3"],
    ];
    for (const [i, [name, why]] of cases.entries()) {
      conn.send({ op: "put", v: 1, name, size: 1 });
      await conn.until(() => conn.headers.length > i, `the reply to ${JSON.stringify(name)}`);
      expect(conn.headers[i], JSON.stringify(name)).toMatchObject({ op: "error", code: "INVALID_NAME" });
      expect((conn.headers[i] as { message: string }).message, JSON.stringify(name)).toContain(why);
    }
    // Not one folder was made for any of them; three segments are still fine.
    expect(await readdir(shared)).toEqual([]);
    conn.send({ op: "put", v: 1, name: "a/b/c", size: 1 });
    await conn.until(() => conn.headers.length > cases.length, "the reply to a/b/c");
    expect(conn.headers[cases.length]).toMatchObject({ op: "accept", offset: 0 });
    conn.socket.destroy();
    await lab.waitForOutput("lost upload of a/b/c");
  });

  it("#20: a folder whose file names are hostile sends the rest, names the failures escaped, writes nothing outside", {
    timeout: 20_000,
  }, async () => {
    const { port } = await serveFiles();
    const evil = path.join(local, "evil");
    await mkdir(path.join(evil, "sub"), { recursive: true });
    await writeFile(path.join(evil, "..\\..\\escape.txt"), "climb");
    await writeFile(path.join(evil, "\u001b]0;PWNED\u0007.txt"), "title");
    await writeFile(path.join(evil, "sub", "ok.txt"), "fine");
    const r = await runLab(["transfer", evil, "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(await readFile(path.join(shared, "evil", "sub", "ok.txt"), "utf8")).toBe("fine");
    expect(await readdir(path.join(shared, "evil"))).toEqual(["sub"]);
    expect((await readdir(dir)).sort()).toEqual(["local", "outside", "shared"]);
    expect(r.stderr).not.toMatch(/[\u001b\u0007]/);
    expect(r.stderr).toContain("failed evil/..\\..\\escape.txt: invalid name");
    expect(r.stderr).toContain("failed evil/^[]0;PWNED^G.txt: invalid name");
    expect(r.stderr).toMatch(/^lab: 2 of 3 files failed: /m);
  });
});

/**
 * Bytes queued in the kernel for the TCP connection 127.0.0.1:`localPort` → 127.0.0.1:`remotePort`
 * (tx_queue in /proc/net/tcp, Linux): sent but not yet taken by the peer.
 */
async function sendQueueBytes(localPort: number, remotePort: number): Promise<number> {
  const hex = (port: number) => `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of (await readFile("/proc/net/tcp", "utf8")).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === hex(localPort) && f[2] === hex(remotePort)) return Number.parseInt(f[4]!.split(":")[0]!, 16);
  }
  return 0;
}

/** Polls `ok` every 10 ms until it holds (bounded by `timeoutMs`). */
async function waitFor(ok: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await ok().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * The racing local user, run as `node -e RACER ROOT MS MAX_SWAPS`: swaps ROOT/race between a real
 * folder and ROOT/race-link (a symlink to the outside) with rename(2) as fast as it can, for MS
 * milliseconds or MAX_SWAPS swaps. A folder the server creates in the gap between two renames is
 * moved aside (still inside ROOT). Prints `racing`, then `{"swaps":N,"failed":M}`.
 */
const RACER = `
const fs = require("node:fs");
const [root, ms, max] = process.argv.slice(1);
const race = root + "/race", dir = root + "/race-dir", link = root + "/race-link";
const kind = (p) => { try { return fs.lstatSync(p).isSymbolicLink() ? "link" : "dir"; } catch { return "none"; } };
let swaps = 0, failed = 0, strays = 0;
console.log("racing");
const end = Date.now() + Number(ms);
while (Date.now() < end && swaps < Number(max)) {
  try {
    const now = kind(race);
    if (now === "dir") {
      fs.renameSync(race, kind(dir) === "none" ? dir : root + "/stray-" + strays++);
      fs.renameSync(link, race); swaps++;
    } else if (now === "link") {
      fs.renameSync(race, link);
      fs.renameSync(dir, race); swaps++;
    } else if (kind(link) === "link") {
      fs.renameSync(link, race); swaps++;
    } else {
      fs.renameSync(dir, race); swaps++;
    }
  } catch { failed++; }
}
console.log(JSON.stringify({ swaps, failed }));
`;
