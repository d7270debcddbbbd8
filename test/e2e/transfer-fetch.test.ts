import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeFile, sha256Of, transferDirs, tree, waitForSize } from "../helpers/files.js";
import { runLab, startLab, startServer } from "../helpers/lab.js";

let dir: string;
let shared: string;
let local: string;

beforeEach(async () => {
  ({ dir, shared, local } = await transferDirs("netlab-e2e-fetch-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function serveFiles() {
  return startServer(
    (p) => ["files", shared, "--port", String(p)],
    (p) => `on 127.0.0.1:${p}`,
  );
}

interface BatchJson {
  ok: boolean;
  summary: Record<string, number>;
  files: Array<Record<string, unknown>>;
  skipped: unknown[];
  failed: Array<{ name: string; code: string; message: string }>;
}

describe("#20: lab transfer --get DIR/ fetches a folder", () => {
  it("fetches a nested folder byte for byte, with one summary; a re-run finds everything already here", {
    timeout: 60_000,
  }, async () => {
    const { port } = await serveFiles();
    await makeFile(path.join(shared, "photos", "a.jpg"), 300_000, 1);
    await makeFile(path.join(shared, "photos", "2024", "may", "b.jpg"), 2_000_000, 2);
    await makeFile(path.join(shared, "photos", "2024", "empty.txt"), 0, 3);
    await makeFile(path.join(shared, "other.txt"), 10, 4);
    const r = await runLab(["transfer", "--get", "photos/", "--port", String(port)], { cwd: local });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^received 3 files \(2\.2 MiB\) in [\d.]+ s, [\d.]+ (B|KiB|MiB|GiB)\/s; 0 already there, 0 skipped, 0 failed\n$/,
    );
    expect(await tree(path.join(local, "photos"))).toEqual(
      Object.fromEntries(
        Object.entries(await tree(shared))
          .filter(([k]) => k.startsWith("photos/"))
          .map(([k, v]) => [k.slice("photos/".length), v]),
      ),
    );
    expect(await readdir(local)).toEqual(["photos"]);

    const again = await runLab(
      ["transfer", "--get", "photos/", "-o", "photos", "--json", "--port", String(port)],
      {
        cwd: local,
      },
    );
    expect(again.code, again.stderr).toBe(0);
    const j = JSON.parse(again.stdout) as BatchJson;
    expect(j.ok).toBe(true);
    expect(j.summary).toMatchObject({ received: 0, existed: 3, skipped: 0, failed: 0, transferredBytes: 0 });
    expect(j.files.map((f) => [f.name, f.existed])).toEqual([
      ["photos/2024/empty.txt", true],
      ["photos/2024/may/b.jpg", true],
      ["photos/a.jpg", true],
    ]);
    expect(again.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("-o names the folder to fill; a changed local file fails by name and the rest still arrive", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    const a = await makeFile(path.join(shared, "in", "a.bin"), 1000, 5);
    const b = await makeFile(path.join(shared, "in", "sub", "b.bin"), 2000, 6);
    const dest = path.join(local, "got");
    await mkdir(dest);
    await writeFile(path.join(dest, "a.bin"), "not the same");
    const r = await runLab(["transfer", "--get", "in/", "-o", dest, "--json", "--port", String(port)]);
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout) as BatchJson;
    expect(j.ok).toBe(false);
    expect(j.summary).toMatchObject({ received: 1, existed: 0, failed: 1, bytes: 2000 });
    expect(j.failed).toEqual([
      expect.objectContaining({
        name: "in/a.bin",
        code: "ALREADY_EXISTS",
        message: `${dest}/a.bin already exists here (a different file)`,
      }),
    ]);
    expect(r.stderr).toMatch(/^lab: 1 of 2 files failed: in\/a\.bin\nhint: .*'failed' in the JSON/m);
    expect(await sha256Of(path.join(dest, "sub", "b.bin"))).toBe(b);
    const over = await runLab([
      "transfer",
      "--get",
      "in/",
      "-o",
      dest,
      "--overwrite",
      "--port",
      String(port),
    ]);
    expect(over.code, over.stderr).toBe(0);
    expect(await sha256Of(path.join(dest, "a.bin"))).toBe(a);
  });

  it("re-run after a kill goes on from the local .part, unasked, in one line; --no-resume starts over", {
    timeout: 60_000,
  }, async () => {
    const { port } = await serveFiles();
    const size = 24 * 1024 * 1024;
    const hash = await makeFile(path.join(shared, "d", "big.bin"), size, 7);
    const part = path.join(local, "d", "big.bin.part");
    const client = startLab(["transfer", "--get", "d/", "--port", String(port), "--limit-rate", "16M"], {
      cwd: local,
    });
    await waitForSize(part, 4 * 1024 * 1024);
    client.child.kill("SIGKILL");
    await client.exited;
    const kept = (await stat(part)).size;
    const again = await runLab(["transfer", "--get", "d/", "--port", String(port), "--json"], {
      cwd: local,
      timeoutMs: 30_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const offset = (JSON.parse(again.stdout) as BatchJson).files[0]!.resumedAt as number;
    expect(offset).toBe(kept);
    expect(again.stderr).toBe(
      `resuming d/big.bin at offset ${offset} (${(offset / 1024 / 1024).toFixed(1)} MiB already here; SHA-256 of that prefix matches the server's)\n`,
    );
    expect(await sha256Of(path.join(local, "d", "big.bin"))).toBe(hash);
    expect(await readdir(path.join(local, "d"))).toEqual(["big.bin"]);

    // --no-resume: the same .part is ignored and the file comes whole.
    await rm(path.join(local, "d", "big.bin"));
    await writeFile(part, (await readFile(path.join(shared, "d", "big.bin"))).subarray(0, 1000));
    const fresh = await runLab(["transfer", "--get", "d/", "--no-resume", "--port", String(port), "--json"], {
      cwd: local,
      timeoutMs: 30_000,
    });
    expect(fresh.code, fresh.stderr).toBe(0);
    expect((JSON.parse(fresh.stdout) as BatchJson).files[0]).toMatchObject({
      resumedAt: 0,
      transferredBytes: size,
    });
    expect(fresh.stderr).toBe("");
  });

  it("Ctrl-C mid-fetch exits 130, keeps the .part and says how to go on", { timeout: 30_000 }, async () => {
    const { port } = await serveFiles();
    await makeFile(path.join(shared, "d", "big.bin"), 16 * 1024 * 1024, 8);
    const part = path.join(local, "d", "big.bin.part");
    const client = startLab(["transfer", "--get", "d/", "--port", String(port), "--limit-rate", "4M"], {
      cwd: local,
    });
    await waitForSize(part, 1024 * 1024);
    client.child.kill("SIGINT");
    expect(await client.exited).toBe(130);
    expect(client.stderr()).toMatch(
      /^lab: interrupted while downloading d\/\nhint: whatever arrived is kept in a \.part file; run the same command again to continue from there\n$/m,
    );
    expect((await stat(part)).size).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it("an empty or missing server folder is one lab: line", { timeout: 20_000 }, async () => {
    const { port } = await serveFiles();
    const r = await runLab(["transfer", "--get", "nothing/", "--port", String(port)], { cwd: local });
    expect(r.code).toBe(1);
    // The hint lists the same server: the port typed goes with it.
    expect(r.stderr).toBe(
      `lab: no files under "nothing/" on the server\nhint: check the name with: lab transfer --list --port ${port}\n`,
    );
    const file = await runLab(["transfer", "--get", "nothing.txt", "--port", String(port), "-4"], {
      cwd: local,
    });
    expect(file.code).toBe(1);
    expect(file.stderr).toBe(
      `lab: no file named "nothing.txt" on the server\nhint: run 'lab transfer --list --port ${port} -4' to see what the server has\n`,
    );
    expect(await readdir(local)).toEqual([]);
    await makeFile(path.join(shared, "photos", "a.jpg"), 10, 1);
    const noSlash = await runLab(["transfer", "--get", "photos", "--port", String(port)], { cwd: local });
    expect(noSlash.code).toBe(1);
    expect(noSlash.stderr).toBe(
      'lab: "photos" is not a regular file\nhint: to fetch a folder, end its name with a /: lab transfer --get photos/\n',
    );
    // -o naming a file where the folder to fill should be: said in words, with what to do.
    await writeFile(path.join(local, "a-file.txt"), "x");
    const onFile = await runLab(
      ["transfer", "--get", "photos/", "-o", "a-file.txt", "--port", String(port)],
      {
        cwd: local,
      },
    );
    expect(onFile.code).toBe(1);
    expect(onFile.stderr).toBe(
      "lab: creating a-file.txt: a part of that path is a file, not a folder\nhint: -o names the folder to fill (made if missing): give a folder's path, not a file's\n",
    );
  });
});

describe("#20: several files go on past a failed one", () => {
  it("uploads a b c with b missing: a and c arrive, one summary, exit 1", { timeout: 30_000 }, async () => {
    const { port } = await serveFiles();
    await writeFile(path.join(local, "a.txt"), "aaa");
    await writeFile(path.join(local, "c.txt"), "ccccc");
    const r = await runLab(["transfer", "a.txt", "b.txt", "c.txt", "--port", String(port)], { cwd: local });
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^failed b\.txt: .*b\.txt/);
    expect(lines[1]).toMatch(/^sent 2 files \(8 B\) in [\d.]+ s, .*; 0 already there, 0 skipped, 1 failed$/);
    expect(lines[2]).toBe("lab: 1 of 3 files failed: b.txt");
    expect(lines[3]).toMatch(/^hint: /);
    expect(lines).toHaveLength(4);
    expect((await readdir(shared)).sort()).toEqual(["a.txt", "c.txt"]);
  });

  it("downloads a b c with b missing: a and c arrive, one JSON object, exit 1", {
    timeout: 30_000,
  }, async () => {
    const { port } = await serveFiles();
    await writeFile(path.join(shared, "a.txt"), "aaa");
    await writeFile(path.join(shared, "c.txt"), "ccccc");
    const r = await runLab(
      ["transfer", "--get", "a.txt", "b.txt", "c.txt", "--json", "--port", String(port)],
      {
        cwd: local,
      },
    );
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout) as BatchJson;
    expect(j.summary).toMatchObject({ received: 2, failed: 1, bytes: 8 });
    expect(j.failed).toEqual([expect.objectContaining({ name: "b.txt", code: "NOT_FOUND" })]);
    expect((await readdir(local)).sort()).toEqual(["a.txt", "c.txt"]);
  });
});
