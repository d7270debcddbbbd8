// Issue #20, "transfer like croc": a folder sent recursively with one summary, and uploads that
// resume by themselves (or say they start over), over real sockets against a real `lab files`.

import { execFileSync } from "node:child_process";
import { mkdir, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FOLDER_DEFAULTS } from "../../packages/transfer/src/index.js";
import { makeFile, sha256Of, transferDirs, tree, waitForSize } from "../helpers/files.js";
import { runLab, startLab, startServer } from "../helpers/lab.js";

let dir: string;
let shared: string;
let local: string;

beforeEach(async () => {
  ({ dir, shared, local } = await transferDirs("netlab-e2e-folder-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function serveFiles(extra: string[] = [], env?: Record<string, string>) {
  return startServer(
    (p) => ["files", shared, "--port", String(p), ...extra],
    (p) => `on 127.0.0.1:${p}`,
    env ? { env } : {},
  );
}

interface FolderJson {
  ok: boolean;
  summary: Record<string, number>;
  files: Array<Record<string, unknown>>;
  skipped: Array<{ name: string; reason: string }>;
  failed: Array<{ name: string; code: string; message: string }>;
}

describe("#20: lab transfer DIR sends a folder", () => {
  it("sends nested subfolders byte for byte, skips links, FIFOs and empty folders, names a failed file", {
    timeout: 60_000,
  }, async () => {
    const { port } = await serveFiles();
    const photos = path.join(local, "photos");
    await mkdir(path.join(photos, "2024", "jan", "raw"), { recursive: true });
    await mkdir(path.join(photos, "empty"));
    await writeFile(path.join(photos, "top.txt"), "top\n");
    await writeFile(path.join(photos, "zero.bin"), "");
    await makeFile(path.join(photos, "2024", "a.bin"), 1_234_567, 2);
    await makeFile(path.join(photos, "2024", "jan", "raw", "deep.bin"), 3 * 1024 * 1024 + 1, 3);
    await writeFile(path.join(photos, "2024", "jan", "note with space.txt"), "hello\n");
    await writeFile(path.join(dir, "secret.txt"), "outside");
    await symlink(path.join(dir, "secret.txt"), path.join(photos, "link.txt"));
    await symlink(path.join(dir), path.join(photos, "2024", "loop"));
    execFileSync("mkfifo", [path.join(photos, "pipe")]);
    await writeFile(path.join(photos, "2024", "cut.part"), "a name the server keeps for partial files");
    const expected = await tree(photos);
    delete expected["2024/cut.part"];

    const r = await runLab(["transfer", photos, "--port", String(port)], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(1);
    expect(await tree(path.join(shared, "photos"))).toEqual(expected);
    // Nothing followed a link, nothing went outside, no empty folder made.
    expect(await readdir(path.join(shared, "photos")).then((n) => n.sort())).toEqual([
      "2024",
      "top.txt",
      "zero.bin",
    ]);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toContain(
      `failed photos/2024/cut.part: invalid name "photos/2024/cut.part": the '.part' suffix is reserved for partial files`,
    );
    expect(lines).toContain("skipped photos/2024/loop: symlink, not sent");
    expect(lines).toContain("skipped photos/empty: empty folder, not created");
    expect(lines).toContain("skipped photos/link.txt: symlink, not sent");
    expect(lines).toContain("skipped photos/pipe: FIFO, not sent");
    const total = 4 + 1_234_567 + 3 * 1024 * 1024 + 1 + 6;
    expect(lines).toContainEqual(
      expect.stringMatching(
        new RegExp(
          `^sent 5 files \\(${(total / 1024 / 1024).toFixed(1)} MiB\\) in \\d+\\.\\d\\d s, [\\d.]+ [KMG]?i?B/s; 0 already there, 4 skipped, 1 failed$`,
        ),
      ),
    );
    expect(lines.slice(-2)).toEqual([
      "lab: 1 of 6 files failed: photos/2024/cut.part",
      "hint: the 'failed' lines above say why; run the same command again to retry (files already there are skipped, partial ones resume)",
    ]);

    // Sent again with --json: everything is already there, the summary is one object.
    const again = await runLab(["transfer", photos, "--port", String(port), "--json"], { timeoutMs: 30_000 });
    expect(again.code).toBe(1);
    const j = JSON.parse(again.stdout) as FolderJson;
    expect(again.stdout.trim().split("\n")).toHaveLength(1);
    expect(j.ok).toBe(false);
    expect(j.summary).toMatchObject({ sent: 0, existed: 5, skipped: 4, failed: 1, bytes: 0 });
    expect(j.files.every((f) => f.existed === true && f.transferredBytes === 0)).toBe(true);
    expect(j.failed).toEqual([
      expect.objectContaining({ name: "photos/2024/cut.part", code: "INVALID_NAME" }),
    ]);
    expect(j.skipped.map((s) => s.name)).toEqual([
      "photos/2024/loop",
      "photos/empty",
      "photos/link.txt",
      "photos/pipe",
    ]);
  });

  it("says an empty folder sent is not created, as it says for an empty subfolder", async () => {
    const { port } = await serveFiles();
    await mkdir(path.join(local, "hollow"));
    const r = await runLab(["transfer", path.join(local, "hollow"), "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^skipped hollow: empty folder, not created\nsent 0 files .*; 0 already there, 1 skipped, 0 failed\n$/,
    );
  });

  it("exits 0 with a clean folder, under --name-prefix and --name, and its JSON adds up", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const src = path.join(local, "src");
    await mkdir(path.join(src, "a", "b"), { recursive: true });
    const h1 = await makeFile(path.join(src, "a", "b", "x.bin"), 100_000, 4);
    const h2 = await makeFile(path.join(src, "y.bin"), 50_000, 5);
    const r = await runLab(["transfer", src, "--name-prefix", "in/", "--json", "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as FolderJson;
    expect(j).toMatchObject({ ok: true, skipped: [], failed: [] });
    expect(j.summary).toMatchObject({
      sent: 2,
      existed: 0,
      failed: 0,
      bytes: 150_000,
      transferredBytes: 150_000,
    });
    expect(j.files.map((f) => [f.name, f.sha256])).toEqual([
      ["in/src/a/b/x.bin", h1],
      ["in/src/y.bin", h2],
    ]);
    const renamed = await runLab(["transfer", src, "--name", "copy", "--port", String(port)]);
    expect(renamed.code, renamed.stderr).toBe(0);
    expect(await tree(path.join(shared, "copy"))).toEqual({ "a/b/x.bin": h1, "y.bin": h2 });
  });

  it("goes on past a file that cut the connection (disk full), and names it", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles([], { NETLAB_TRANSFER_FAULT: "enospc@1048576" });
    const src = path.join(local, "mixed");
    await mkdir(src);
    await makeFile(path.join(src, "a-big.bin"), 4 * 1024 * 1024, 6);
    const hb = await makeFile(path.join(src, "b.bin"), 10_000, 7);
    const hc = await makeFile(path.join(src, "c.bin"), 20_000, 8);
    const r = await runLab(["transfer", src, "--json", "--port", String(port)]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as FolderJson;
    expect(j.failed).toEqual([expect.objectContaining({ name: "mixed/a-big.bin", code: "NO_SPACE" })]);
    expect(j.summary).toMatchObject({ sent: 2, failed: 1 });
    expect(await tree(path.join(shared, "mixed"))).toEqual({ "b.bin": hb, "c.bin": hc });
    expect(r.stderr).toBe(
      "lab: 1 of 3 files failed: mixed/a-big.bin\nhint: 'failed' in the JSON says why for each; run the same command again to retry them\n",
    );
  });

  it("reconnects with the same token after a failure cut the connection", { timeout: 30_000 }, async () => {
    const token = "b".repeat(32);
    await writeFile(path.join(dir, "tokens.txt"), `${token}:rw\n`);
    await writeFile(path.join(dir, "client.token"), `${token}\n`);
    const { port } = await serveFiles(
      ["--token-file", path.join(dir, "tokens.txt"), "--allow-plaintext-auth"],
      { NETLAB_TRANSFER_FAULT: "enospc@1048576" },
    );
    const src = path.join(local, "tok");
    await mkdir(src);
    await makeFile(path.join(src, "a-big.bin"), 2 * 1024 * 1024, 9);
    const hb = await makeFile(path.join(src, "b.bin"), 1_000, 10);
    const r = await runLab([
      "transfer",
      src,
      "--token-file",
      path.join(dir, "client.token"),
      "--port",
      String(port),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^failed tok\/a-big\.bin: no space left on the device while writing tok\/a-big\.bin$/m,
    );
    expect(r.stderr).toMatch(/^sent 1 file \(1000 B\) in .*; 0 already there, 0 skipped, 1 failed$/m);
    expect(await tree(path.join(shared, "tok"))).toEqual({ "b.bin": hb });
  });

  it("refuses a folder over --max-files or --max-depth before sending anything; --help shows the defaults", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const src = path.join(local, "many");
    await mkdir(path.join(src, "d1", "d2", "d3"), { recursive: true });
    for (const n of ["a", "b", "c"]) await writeFile(path.join(src, n), n);
    const many = await runLab(["transfer", src, "--max-files", "3", "--port", String(port)]);
    expect(many.code).toBe(1);
    expect(many.stderr).toBe(
      `lab: ${src} holds more than 3 entries\nhint: send a smaller folder, or raise --max-files\n`,
    );
    const deep = await runLab(["transfer", src, "--max-depth", "2", "--port", String(port)]);
    expect(deep.code).toBe(1);
    expect(deep.stderr).toBe(
      `lab: ${path.join(src, "d1/d2/d3")} is nested more than 2 folders deep\nhint: send a shallower folder, or raise --max-depth\n`,
    );
    expect(await readdir(shared)).toEqual([]);
    const help = await runLab(["transfer", "--help"]);
    const text = help.stdout.replace(/\s+/g, " ");
    expect(text).toContain(
      `or a folder fetch listing more files, is refused before anything moves (default: ${FOLDER_DEFAULTS.maxFiles})`,
    );
    expect(text).toContain(
      `more folders deep than this is refused before anything moves (default: ${FOLDER_DEFAULTS.maxDepth})`,
    );
    const bad = await runLab(["transfer", src, "--max-depth", "0", "--port", String(port)]);
    expect(bad.code).toBe(2);
  });
});

describe("#20: uploads resume by themselves", () => {
  it("re-run without --resume after a kill goes on from the server's .part and says where", {
    timeout: 60_000,
  }, async () => {
    const { lab: server, port } = await serveFiles();
    const size = 24 * 1024 * 1024;
    const src = path.join(local, "big.bin");
    const hash = await makeFile(src, size, 11);
    const client = startLab(["transfer", src, "--port", String(port), "--limit-rate", "16M"]);
    await waitForSize(path.join(shared, "big.bin.part"), 4 * 1024 * 1024);
    client.child.kill("SIGKILL");
    await client.exited;
    // The server may still be writing what the kernel had buffered: the .part is final once it says so.
    await server.waitForOutput("lost upload of big.bin");
    const kept = (await stat(path.join(shared, "big.bin.part"))).size;
    const again = await runLab(["transfer", src, "--port", String(port), "--json"], { timeoutMs: 30_000 });
    expect(again.code, again.stderr).toBe(0);
    const offset = (JSON.parse(again.stdout) as FolderJson).files[0]!.resumedAt as number;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThanOrEqual(kept);
    expect(again.stderr).toBe(
      `resuming big.bin at offset ${offset} (${(offset / 1024 / 1024).toFixed(1)} MiB already on the server; SHA-256 of that prefix matches)\n`,
    );
    expect(await sha256Of(path.join(shared, "big.bin"))).toBe(hash);
    expect(await readdir(shared)).toEqual(["big.bin"]);
  });

  it("says a partial that is not this file's start is replaced, and starts over", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const src = path.join(local, "g.bin");
    const hash = await makeFile(src, 3_000_000, 15);
    await makeFile(path.join(shared, "g.bin.part"), 1_000_000, 98);
    const r = await runLab(["transfer", src, "--port", String(port), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      "g.bin.part on the server (976.6 KiB) is not the start of this file; starting over (it is replaced)\n",
    );
    expect((JSON.parse(r.stdout) as FolderJson).files[0]).toMatchObject({
      resumedAt: 0,
      transferredBytes: 3_000_000,
    });
    expect(await sha256Of(path.join(shared, "g.bin"))).toBe(hash);
    // --no-resume starts over without asking the server for its partial.
    await makeFile(path.join(shared, "h.bin.part"), 1_000, 3);
    await makeFile(path.join(local, "h.bin"), 5_000, 3);
    const fresh = await runLab([
      "transfer",
      path.join(local, "h.bin"),
      "--no-resume",
      "--port",
      String(port),
    ]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stderr).toMatch(/^uploaded h\.bin \(4\.9 KiB\)/);
  });

  it("--resume of a file already complete on the server says it is already there, exit 0", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const src = path.join(local, "done.bin");
    await makeFile(src, 2_000_000, 21);
    const first = await runLab(["transfer", src, "--port", String(port)]);
    expect(first.code, first.stderr).toBe(0);
    const again = await runLab(["transfer", src, "--resume", "--port", String(port)]);
    expect(again).toMatchObject({
      code: 0,
      stderr: "done.bin is already on the server (same size and SHA-256), nothing sent\n",
    });
    // Same size, other bytes: still refused, and said to be a different file.
    await makeFile(src, 2_000_000, 22);
    const other = await runLab(["transfer", src, "--resume", "--port", String(port)]);
    expect(other.code).toBe(1);
    expect(other.stderr).toBe(
      "lab: done.bin already exists on the server (a different file)\nhint: pass --overwrite to replace it\n",
    );
  });
});
