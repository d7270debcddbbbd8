import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileServer, type ResumeInfo, splitName, TransferClient, walkFolder } from "../src/index.js";

let dir: string;
let root: string;
let src: string;
const servers: FileServer[] = [];
const clients: TransferClient[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-folder-"));
  root = path.join(dir, "root");
  src = path.join(dir, "src");
  await mkdir(root);
  await mkdir(src);
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const s of servers.splice(0)) await s.shutdown();
  await rm(dir, { recursive: true, force: true });
});

async function connect(opts: { maxDepth?: number } = {}): Promise<TransferClient> {
  const server = new FileServer({ root, host: "127.0.0.1", port: 0, stream: { fsync: false }, ...opts });
  await server.listen();
  void server.serveForever();
  servers.push(server);
  const c = await TransferClient.connect({ host: "127.0.0.1", port: server.address.port });
  clients.push(c);
  return c;
}

describe("walkFolder", () => {
  it("lists regular files in name order and says why the rest is left out", async () => {
    await mkdir(path.join(src, "b", "c"), { recursive: true });
    await mkdir(path.join(src, "empty"));
    await writeFile(path.join(src, "z.txt"), "z");
    await writeFile(path.join(src, "b", "c", "d.txt"), "d");
    await writeFile(path.join(src, "a.txt"), "a");
    await symlink("/etc", path.join(src, "etc-link"));
    execFileSync("mkfifo", [path.join(src, "fifo")]);
    const walk = await walkFolder(src);
    expect(walk.files.map((f) => f.rel)).toEqual(["a.txt", "b/c/d.txt", "z.txt"]);
    expect(walk.files[1]!.path).toBe(path.join(src, "b", "c", "d.txt"));
    expect(walk.skipped).toEqual([
      { rel: "empty", reason: "empty folder, not created" },
      { rel: "etc-link", reason: "symlink, not sent" },
      { rel: "fifo", reason: "FIFO, not sent" },
    ]);
  });

  it("refuses more entries than maxFiles and deeper folders than maxDepth, and a missing folder", async () => {
    await mkdir(path.join(src, "1", "2", "3"), { recursive: true });
    await expect(walkFolder(src, { maxDepth: 2 })).rejects.toMatchObject({ code: "TOO_LARGE" });
    await expect(walkFolder(src, { maxDepth: 3 })).resolves.toMatchObject({ files: [] });
    await expect(walkFolder(src, { maxFiles: 2 })).rejects.toMatchObject({ code: "TOO_LARGE" });
    await expect(walkFolder(path.join(dir, "nope"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(walkFolder(src, { maxFiles: 0 })).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});

describe("names deeper than maxDepth", () => {
  it("splitName refuses more segments than the limit (default 64)", () => {
    expect(splitName(Array(64).fill("a").join("/"))).toHaveLength(64);
    expect(() => splitName(Array(65).fill("a").join("/"))).toThrow(
      /65 path segments, more than the server's limit of 64/,
    );
    expect(() => splitName("a/b/c", { maxDepth: 2 })).toThrow(/INVALID_NAME|3 path segments/);
  });

  it("a server refuses a deep upload before making any folder", async () => {
    const c = await connect({ maxDepth: 3 });
    await writeFile(path.join(src, "f"), "f");
    await expect(c.upload(path.join(src, "f"), { name: "a/b/c/d" })).rejects.toMatchObject({
      code: "INVALID_NAME",
    });
    expect(await readdir(root)).toEqual([]);
    await c.upload(path.join(src, "f"), { name: "a/b/c" });
    expect(await readFile(path.join(root, "a", "b", "c"), "utf8")).toBe("f");
  });
});

describe("upload options for folder sends and re-runs", () => {
  it("noFollow refuses a symlink or FIFO where a file was, instead of sending what it points to", async () => {
    const c = await connect();
    await writeFile(path.join(dir, "secret"), "secret");
    await symlink(path.join(dir, "secret"), path.join(src, "link"));
    execFileSync("mkfifo", [path.join(src, "fifo")]);
    await expect(c.upload(path.join(src, "link"), { noFollow: true })).rejects.toMatchObject({
      code: "NOT_A_FILE",
    });
    await expect(c.upload(path.join(src, "fifo"), { noFollow: true })).rejects.toMatchObject({
      code: "NOT_A_FILE",
    });
    expect(await readdir(root)).toEqual([]);
  });

  it("skipIdentical: the same file is 'existed' with nothing sent; another of the same size is ALREADY_EXISTS", async () => {
    const c = await connect();
    await writeFile(path.join(src, "f"), "same bytes");
    await c.upload(path.join(src, "f"));
    const again = await c.upload(path.join(src, "f"), { skipIdentical: true });
    expect(again).toMatchObject({ existed: true, transferredBytes: 0, bytes: 10 });
    await expect(c.upload(path.join(src, "f"))).rejects.toMatchObject({ code: "ALREADY_EXISTS" });
    await writeFile(path.join(src, "f"), "diff bytes");
    await expect(c.upload(path.join(src, "f"), { skipIdentical: true })).rejects.toThrow(
      "f already exists on the server (a different file)",
    );
    expect(await readFile(path.join(root, "f"), "utf8")).toBe("same bytes");
  });

  it("emits resume when a .part is met: matched (continued) or not (replaced)", async () => {
    const c = await connect();
    const seen: ResumeInfo[] = [];
    c.on("resume", (r) => seen.push(r));
    await writeFile(path.join(src, "f"), "0123456789");
    await writeFile(path.join(root, "f.part"), "0123");
    const r = await c.upload(path.join(src, "f"), { resume: true });
    expect(r).toMatchObject({ offset: 4, transferredBytes: 6 });
    await writeFile(path.join(src, "g"), "0123456789");
    await writeFile(path.join(root, "g.part"), "xyz");
    await c.upload(path.join(src, "g"), { resume: true });
    expect(seen).toEqual([
      { name: "f", partBytes: 4, matched: true, offset: 4 },
      { name: "g", partBytes: 3, matched: false, offset: 0 },
    ]);
    expect(await readFile(path.join(root, "g"), "utf8")).toBe("0123456789");
  });
});
