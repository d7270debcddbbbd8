import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  encodeHeader,
  FileServer,
  type FileServerOptions,
  SocketWire,
  TransferClient,
  type WriteFn,
  writeAll,
} from "../src/index.js";

let dir: string;
let root: string;
const servers: FileServer[] = [];
const clients: TransferClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-transfer-"));
  root = path.join(dir, "root");
  await import("node:fs/promises").then((fs) => fs.mkdir(root));
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.shutdown();
  await rm(dir, { recursive: true, force: true });
});

async function start(opts: Partial<FileServerOptions> = {}): Promise<FileServer> {
  const server = new FileServer({ root, host: "127.0.0.1", port: 0, ...opts });
  await server.listen();
  void server.serveForever();
  servers.push(server);
  return server;
}

async function client(server: FileServer): Promise<TransferClient> {
  const c = await TransferClient.connect({ host: "127.0.0.1", port: server.address.port });
  clients.push(c);
  return c;
}

/** Deterministic bytes: byte i of seed s. */
function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("FileServer + TransferClient", () => {
  it.each([0, 1, 1023, 1024 * 1024 + 7, 3 * 1024 * 1024 + 1])(
    "uploads and downloads %d bytes byte for byte",
    async (n) => {
      const server = await start();
      const c = await client(server);
      const data = bytes(n, n);
      await writeFile(path.join(dir, "src.bin"), data);
      const up = await c.upload(path.join(dir, "src.bin"), { name: "d/file.bin" });
      expect(up).toMatchObject({ bytes: n, transferredBytes: n, offset: 0, sha256: sha(data) });
      expect(sha(await readFile(path.join(root, "d", "file.bin")))).toBe(sha(data));
      const down = await c.download("d/file.bin", path.join(dir, "out.bin"));
      expect(down.sha256).toBe(sha(data));
      expect(sha(await readFile(path.join(dir, "out.bin")))).toBe(sha(data));
      expect(await readdir(path.join(root, "d"))).toEqual(["file.bin"]);
    },
  );

  it("emits progress up to the total", async () => {
    const server = await start();
    const c = await client(server);
    await writeFile(path.join(dir, "src.bin"), bytes(3 * 1024 * 1024));
    const seen: number[] = [];
    c.on("progress", (p) => seen.push(p.bytesDone));
    await c.upload(path.join(dir, "src.bin"));
    expect(seen.at(-1)).toBe(3 * 1024 * 1024);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });

  it("refuses to overwrite without overwrite, and replaces with it", async () => {
    const server = await start();
    const c = await client(server);
    await writeFile(path.join(root, "a.txt"), "old");
    await writeFile(path.join(dir, "a.txt"), "new!");
    await expect(c.upload(path.join(dir, "a.txt"))).rejects.toMatchObject({ code: "ALREADY_EXISTS" });
    expect(await readFile(path.join(root, "a.txt"), "utf8")).toBe("old");
    await c.upload(path.join(dir, "a.txt"), { overwrite: true });
    expect(await readFile(path.join(root, "a.txt"), "utf8")).toBe("new!");
    expect(await readdir(root)).toEqual(["a.txt"]);
  });

  it("keeps serving the same connection after a refused request", async () => {
    const server = await start();
    const c = await client(server);
    await expect(c.download("../x", path.join(dir, "x"))).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(c.download("nope", path.join(dir, "x"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await writeFile(path.join(root, "ok.txt"), "ok");
    await c.download("ok.txt", path.join(dir, "ok.txt"));
    expect(await readFile(path.join(dir, "ok.txt"), "utf8")).toBe("ok");
    expect(await readdir(dir)).not.toContain("x.part");
  });

  it("queues requests made at once on one client and runs them in call order", async () => {
    const server = await start();
    const c = await client(server);
    const big = bytes(3 * 1024 * 1024 + 5, 7);
    await writeFile(path.join(dir, "big.bin"), big);
    await writeFile(path.join(root, "small.txt"), "small");
    const finished: string[] = [];
    const track = <T>(what: string, p: Promise<T>) =>
      p.finally(() => {
        finished.push(what);
      });
    const [up, refused, down, listed] = await Promise.allSettled([
      track("upload", c.upload(path.join(dir, "big.bin"))),
      track("missing", c.download("missing.txt", path.join(dir, "missing.txt"))),
      track("download", c.download("small.txt", path.join(dir, "small.txt"))),
      track("list", c.list()),
    ]);
    expect(finished).toEqual(["upload", "missing", "download", "list"]);
    expect(up).toMatchObject({ status: "fulfilled", value: { bytes: big.length, sha256: sha(big) } });
    expect(refused).toMatchObject({ status: "rejected", reason: { code: "NOT_FOUND" } });
    expect(down).toMatchObject({ status: "fulfilled", value: { bytes: 5 } });
    expect(listed.status === "fulfilled" && listed.value.entries.map((e) => e.name)).toEqual([
      "big.bin",
      "small.txt",
    ]);
    expect(await readFile(path.join(dir, "small.txt"), "utf8")).toBe("small");
  });

  it("cancels a request still waiting its turn when the client's signal aborts", async () => {
    const server = await start();
    const abort = new AbortController();
    const c = await TransferClient.connect({ port: server.address.port, signal: abort.signal });
    clients.push(c);
    await writeFile(path.join(dir, "big.bin"), bytes(1024 * 1024));
    const first = c.upload(path.join(dir, "big.bin"));
    const queued = c.list();
    abort.abort(new Error("user pressed Ctrl-C"));
    await expect(queued).rejects.toMatchObject({ code: "ABORTED" });
    await expect(first).rejects.toBeInstanceOf(Error);
  });

  it("refuses uploads when read-only, and files over maxSizeBytes before any data moves", async () => {
    const ro = await start({ readOnly: true });
    await writeFile(path.join(dir, "a.bin"), bytes(10));
    await expect((await client(ro)).upload(path.join(dir, "a.bin"))).rejects.toMatchObject({
      code: "READ_ONLY",
    });
    const small = await start({ maxSizeBytes: 9 });
    await expect((await client(small)).upload(path.join(dir, "a.bin"))).rejects.toMatchObject({
      code: "TOO_LARGE",
      message: expect.stringContaining("over the server's limit of 9 B"),
    });
    expect(await readdir(root)).toEqual([]);
  });

  it("refuses symlinks that lead outside the folder and keeps serving", async () => {
    await writeFile(path.join(dir, "secret.txt"), "secret");
    await symlink(path.join(dir, "secret.txt"), path.join(root, "leak.txt"));
    await symlink(dir, path.join(root, "up"));
    const server = await start();
    const c = await client(server);
    await expect(c.download("leak.txt", path.join(dir, "o1"))).rejects.toMatchObject({
      code: "OUTSIDE_ROOT",
    });
    await expect(c.download("up/secret.txt", path.join(dir, "o2"))).rejects.toMatchObject({
      code: "OUTSIDE_ROOT",
    });
    await writeFile(path.join(dir, "w.txt"), "w");
    await expect(c.upload(path.join(dir, "w.txt"), { name: "up/w.txt" })).rejects.toMatchObject({
      code: "OUTSIDE_ROOT",
    });
    // A .part planted as a symlink is not written through.
    await symlink(path.join(dir, "secret.txt"), path.join(root, "p.txt.part"));
    await expect(c.upload(path.join(dir, "w.txt"), { name: "p.txt", resume: true })).rejects.toMatchObject({
      code: "OUTSIDE_ROOT",
    });
    expect(await readFile(path.join(dir, "secret.txt"), "utf8")).toBe("secret");
    expect((await c.list()).entries.map((e) => e.name)).toEqual([]);
  });

  it("resumes an upload from a matching .part, and starts over when the prefix differs", async () => {
    const server = await start();
    const c = await client(server);
    const data = bytes(2 * 1024 * 1024 + 3, 7);
    await writeFile(path.join(dir, "big.bin"), data);
    await writeFile(path.join(root, "big.bin.part"), data.subarray(0, 1_000_000));
    const r = await c.upload(path.join(dir, "big.bin"), { resume: true });
    expect(r).toMatchObject({
      offset: 1_000_000,
      transferredBytes: data.length - 1_000_000,
      sha256: sha(data),
    });
    expect(sha(await readFile(path.join(root, "big.bin")))).toBe(sha(data));

    const corrupt = Buffer.from(data.subarray(0, 500_000));
    corrupt[123] = corrupt[123]! ^ 0xff;
    await writeFile(path.join(root, "big2.bin.part"), corrupt);
    const r2 = await c.upload(path.join(dir, "big.bin"), { name: "big2.bin", resume: true });
    expect(r2).toMatchObject({ offset: 0, transferredBytes: data.length });
    expect(sha(await readFile(path.join(root, "big2.bin")))).toBe(sha(data));
  });

  it("resumes a download from a matching .part, and starts over when the prefix differs", async () => {
    const server = await start();
    const c = await client(server);
    const data = bytes(1024 * 1024 + 99, 9);
    await writeFile(path.join(root, "f.bin"), data);
    await writeFile(path.join(dir, "f.bin.part"), data.subarray(0, 70_000));
    const r = await c.download("f.bin", path.join(dir, "f.bin"), { resume: true });
    expect(r).toMatchObject({ offset: 70_000, sha256: sha(data) });
    expect(sha(await readFile(path.join(dir, "f.bin")))).toBe(sha(data));

    const corrupt = Buffer.from(data.subarray(0, 70_000));
    corrupt[0] = corrupt[0]! ^ 1;
    await writeFile(path.join(dir, "g.bin.part"), corrupt);
    const r2 = await c.download("f.bin", path.join(dir, "g.bin"), { resume: true });
    expect(r2.offset).toBe(0);
    expect(sha(await readFile(path.join(dir, "g.bin")))).toBe(sha(data));
  });

  it("a download into a folder that does not exist says so in its hint", async () => {
    const server = await start();
    const c = await client(server);
    await writeFile(path.join(root, "f.bin"), "data");
    const out = path.join(dir, "missing", "f.bin");
    await expect(c.download("f.bin", out)).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: `opening ${out}.part: no such file or directory`,
      hint: `the folder ${path.join(dir, "missing")} does not exist: create it, or choose another -o`,
    });
  });

  it("refuses a download whose OUT.part is a FIFO (NOT_A_FILE, naming it) and leaves it there", async () => {
    const server = await start();
    const c = await client(server);
    await writeFile(path.join(root, "f.bin"), "data");
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [path.join(dir, "f.bin.part")]);
    await expect(c.download("f.bin", path.join(dir, "f.bin"), { resume: true })).rejects.toMatchObject({
      code: "NOT_A_FILE",
      message: `${path.join(dir, "f.bin.part")} is not a regular file`,
    });
    expect((await stat(path.join(dir, "f.bin.part"))).isFIFO()).toBe(true);
    // The connection is still good for the next request.
    await expect(c.download("f.bin", path.join(dir, "g.bin"))).resolves.toMatchObject({ bytes: 4 });
  });

  it("reports disk full as NO_SPACE, removes the .part, and keeps serving", async () => {
    const failAfter: WriteFn = async (fh, buffers, position) => {
      if (position >= 1024 * 1024) throw Object.assign(new Error("no space"), { code: "ENOSPC" });
      await writeAll(fh, buffers, position);
    };
    const server = await start({ write: failAfter });
    const c = await client(server);
    await writeFile(path.join(dir, "big.bin"), bytes(8 * 1024 * 1024));
    await expect(c.upload(path.join(dir, "big.bin"))).rejects.toMatchObject({
      code: "NO_SPACE",
      message: "no space left on the device while writing big.bin",
    });
    expect(await readdir(root)).toEqual([]);
    await writeFile(path.join(dir, "small.bin"), bytes(10));
    await (await client(server)).upload(path.join(dir, "small.bin"));
    expect(await readdir(root)).toEqual(["small.bin"]);
  });

  it("refuses a file whose SHA-256 does not match, and keeps nothing under its name", async () => {
    const server = await start();
    const socket = net.connect({ host: "127.0.0.1", port: server.address.port });
    await new Promise((r) => socket.once("connect", r));
    const wire = new SocketWire(socket);
    try {
      await wire.writeHeader({ op: "put", v: 1, name: "x.bin", size: 3 });
      expect(await wire.readHeader()).toMatchObject({ op: "accept", offset: 0 });
      await wire.writeHeader({ op: "data", offset: 0 });
      await wire.write(Buffer.from("abc"));
      await wire.writeHeader({ op: "end", sha256: sha(Buffer.from("abd")) });
      expect(await wire.readHeader()).toMatchObject({ op: "error", code: "CHECKSUM_MISMATCH" });
    } finally {
      wire.destroy();
    }
    expect(await readdir(root)).toEqual([]);
  });

  it("answers a malformed header with BAD_REQUEST and closes", async () => {
    const server = await start();
    const socket = net.connect({ host: "127.0.0.1", port: server.address.port });
    await new Promise((r) => socket.once("connect", r));
    const wire = new SocketWire(socket);
    try {
      const junk = Buffer.from('{"op":"put","name":1}');
      const frame = Buffer.alloc(4 + junk.length);
      frame.writeUInt32BE(junk.length);
      junk.copy(frame, 4);
      await wire.write(frame);
      expect(await wire.readHeader()).toMatchObject({ op: "error", code: "BAD_REQUEST" });
      expect(await wire.readHeader()).toBeUndefined();
    } finally {
      wire.destroy();
    }
    expect(encodeHeader({ op: "list", v: 1 }).length).toBeGreaterThan(4);
  });

  it("never tears a file when two clients upload the same name at once", async () => {
    const server = await start();
    const a = bytes(4 * 1024 * 1024, 1);
    const b = bytes(4 * 1024 * 1024, 2);
    await writeFile(path.join(dir, "a.bin"), a);
    await writeFile(path.join(dir, "b.bin"), b);
    const [ca, cb] = [await client(server), await client(server)];
    const results = await Promise.allSettled([
      ca.upload(path.join(dir, "a.bin"), { name: "same.bin", overwrite: true }),
      cb.upload(path.join(dir, "b.bin"), { name: "same.bin", overwrite: true }),
    ]);
    const ok = results.filter((r) => r.status === "fulfilled");
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results) {
      if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "BUSY" });
    }
    const final = await readFile(path.join(root, "same.bin"));
    expect([sha(a), sha(b)]).toContain(sha(final));
    expect(await readdir(root)).toEqual(["same.bin"]);
  });

  it("lists files recursively with size and mtime, leaving out .part files", async () => {
    await import("node:fs/promises").then((fs) => fs.mkdir(path.join(root, "in")));
    await writeFile(path.join(root, "b.txt"), "bb");
    await writeFile(path.join(root, "in", "a.txt"), "a");
    await writeFile(path.join(root, "c.txt.part"), "partial");
    const server = await start();
    const { entries, truncated } = await (await client(server)).list();
    expect(truncated).toBe(false);
    expect(entries.map((e) => [e.name, e.size])).toEqual([
      ["b.txt", 2],
      ["in/a.txt", 1],
    ]);
    expect(entries[0]!.mtimeMs).toBe((await stat(path.join(root, "b.txt"))).mtimeMs);
  });

  it("lists only the files under a prefix, and refuses a prefix that is not a name", async () => {
    const fs = await import("node:fs/promises");
    await fs.mkdir(path.join(root, "in", "sub"), { recursive: true });
    await fs.mkdir(path.join(root, "inbox"));
    await writeFile(path.join(root, "in", "a.txt"), "a");
    await writeFile(path.join(root, "in", "sub", "b.txt"), "b");
    await writeFile(path.join(root, "inbox", "c.txt"), "c");
    const server = await start();
    const c = await client(server);
    expect((await c.list({ prefix: "in" })).entries.map((e) => e.name)).toEqual(["in/a.txt", "in/sub/b.txt"]);
    expect((await c.list({ prefix: "in/sub" })).entries.map((e) => e.name)).toEqual(["in/sub/b.txt"]);
    expect((await c.list({ prefix: "in/a.txt" })).entries).toEqual([]);
    expect((await c.list({ prefix: "missing" })).entries).toEqual([]);
    await expect(c.list({ prefix: "../x" })).rejects.toMatchObject({ code: "INVALID_NAME" });
    const fetch = await c.listFolder("in/");
    expect(fetch.items).toEqual([
      { name: "in/a.txt", rel: "a.txt", size: 1 },
      { name: "in/sub/b.txt", rel: "sub/b.txt", size: 1 },
    ]);
  });

  it("cuts a long listing at maxListEntries and says so", async () => {
    for (let i = 0; i < 30; i++) await writeFile(path.join(root, `f${i}.txt`), "x");
    const server = await start({ maxListEntries: 10 });
    const { entries, truncated } = await (await client(server)).list();
    expect(entries).toHaveLength(10);
    expect(truncated).toBe(true);
  });

  it("turns a full server's refusal line into a clear error", async () => {
    const server = await start({ maxConnections: 1 });
    const first = await client(server);
    await first.list();
    const second = await client(server);
    await expect(second.list()).rejects.toMatchObject({
      code: "CONNECTION_LOST",
      message: "the server refused the connection: ERR server full (1 connections)",
    });
  });

  it("says the server is not running in one line", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    await expect(TransferClient.connect({ port })).rejects.toMatchObject({
      code: "CONNECTION_REFUSED",
      message: `cannot connect to 127.0.0.1:${port}: connection refused (is 'lab files' running?)`,
    });
  });
});
