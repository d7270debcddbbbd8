import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import getPort from "get-port";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeFile, sha256Of as sha256File, transferDirs, waitForSize } from "../helpers/files.js";
import {
  type LabResult,
  progressDraws,
  runLabOnTerminal,
  type StartOptions,
  startLab,
  startServer,
} from "../helpers/lab.js";

let dir: string;
let shared: string;
let local: string;

beforeEach(async () => {
  ({ dir, shared, local } = await transferDirs("netlab-e2e-transfer-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function serveFiles(extra: string[] = [], env?: Record<string, string>) {
  return startServer(
    (p) => ["files", shared, "--port", String(p), ...extra],
    (p) => `serving ${shared} on 127.0.0.1:${p}`,
    env ? { env } : {},
  );
}

/**
 * Like runLab, but resolves only once the child's stdout and stderr are closed: on a busy machine
 * the exit event can come before the last output, and these tests check the last line.
 */
async function runToEnd(
  args: string[],
  opts: StartOptions & { timeoutMs?: number } = {},
): Promise<LabResult> {
  const lab = startLab(args, opts);
  const closed = new Promise<void>((resolve) => lab.child.once("close", () => resolve()));
  lab.endInput();
  const timer = setTimeout(() => lab.child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const code = await lab.exited;
  await closed;
  clearTimeout(timer);
  return { code, stdout: lab.stdout(), stderr: lab.stderr() };
}

/** A point in [lo, hi) chosen by a fixed seed, so a failure can be replayed. */
function seededPoint(seed: number, lo: number, hi: number): number {
  const x = Math.sin(seed * 9301 + 49297) * 233280;
  return Math.floor(lo + (x - Math.floor(x)) * (hi - lo));
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const json = (stdout: string) => JSON.parse(stdout) as { ok: boolean; files: Record<string, unknown>[] };

describe("lab files + lab transfer", () => {
  it("uploads and downloads empty, 1-byte and odd-sized files byte for byte", async () => {
    const { port } = await serveFiles();
    const sizes = { "empty.bin": 0, "one.bin": 1, "odd.bin": 1_000_003 };
    const hashes: Record<string, string> = {};
    for (const [name, size] of Object.entries(sizes))
      hashes[name] = await makeFile(path.join(local, name), size, size);
    const up = await runToEnd(
      ["transfer", ...Object.keys(sizes).map((n) => path.join(local, n)), "--port", String(port), "--json"],
      {},
    );
    expect(up.code, up.stderr).toBe(0);
    expect(json(up.stdout).files.map((f) => [f.name, f.bytes, f.sha256])).toEqual(
      Object.entries(sizes).map(([n, s]) => [n, s, hashes[n]]),
    );
    for (const name of Object.keys(sizes)) {
      expect(await sha256File(path.join(shared, name))).toBe(hashes[name]);
      const out = path.join(dir, `down-${name}`);
      const down = await runToEnd(["transfer", "--get", name, "-o", out, "--port", String(port)]);
      expect(down.code, down.stderr).toBe(0);
      expect(down.stderr).toMatch(new RegExp(`^downloaded ${name} \\(.*sha256 ${hashes[name]}\\n$`));
      expect(await sha256File(out)).toBe(hashes[name]);
    }
    expect((await readdir(shared)).sort()).toEqual(Object.keys(sizes).sort());
  });

  it("round-trips a 200 MiB file, verified", { timeout: 90_000 }, async () => {
    const { port } = await serveFiles();
    const src = path.join(local, "big.bin");
    const hash = await makeFile(src, 200 * 1024 * 1024, 5);
    const up = await runToEnd(["transfer", src, "--port", String(port), "--json"], { timeoutMs: 60_000 });
    expect(up.code, up.stderr).toBe(0);
    expect(json(up.stdout).files[0]).toMatchObject({ bytes: 200 * 1024 * 1024, sha256: hash });
    const out = path.join(dir, "back.bin");
    const down = await runToEnd(
      ["transfer", "--get", "big.bin", "-o", out, "--port", String(port), "--json"],
      {
        timeoutMs: 60_000,
      },
    );
    expect(down.code, down.stderr).toBe(0);
    expect(await sha256File(out)).toBe(hash);
  });

  it("puts several files under --name-prefix, and lists them", async () => {
    const { port } = await serveFiles();
    await writeFile(path.join(local, "a.txt"), "aaa");
    await writeFile(path.join(local, "b.txt"), "b");
    const up = await runToEnd([
      "transfer",
      path.join(local, "a.txt"),
      path.join(local, "b.txt"),
      "--name-prefix",
      "in/",
      "--port",
      String(port),
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toMatch(
      /^sent 2 files \(4 B\) in [\d.]+ s, [\d.]+ (B|KiB|MiB|GiB)\/s; 0 already there, 0 skipped, 0 failed\n$/,
    );
    const list = await runToEnd(["transfer", "--list", "--port", String(port)]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /^ +3 B {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}in\/a\.txt\n +1 B {2}.* {2}in\/b\.txt\n$/,
    );
    const listJson = await runToEnd(["transfer", "--list", "--json", "--port", String(port)]);
    expect(JSON.parse(listJson.stdout).ok).toBe(true);
    expect(JSON.parse(listJson.stdout).files.map((f: { name: string }) => f.name)).toEqual([
      "in/a.txt",
      "in/b.txt",
    ]);
  });

  it("--limit-rate reads a rate as every rate option does: 1MiB/s and 500K alike", async () => {
    const { port } = await serveFiles();
    await writeFile(path.join(local, "r.txt"), "rate");
    for (const rate of ["1MiB/s", "500K"]) {
      const r = await runToEnd([
        "transfer",
        path.join(local, "r.txt"),
        "--limit-rate",
        rate,
        "--overwrite",
        "--port",
        String(port),
      ]);
      expect(r.code, `${rate}: ${r.stderr}`).toBe(0);
    }
    expect(await readFile(path.join(shared, "r.txt"), "utf8")).toBe("rate");
  });

  it("serves several clients at once", async () => {
    const { port } = await serveFiles();
    const hashes = await Promise.all(
      [0, 1, 2, 3].map((i) => makeFile(path.join(local, `c${i}.bin`), 3_000_000 + i, i)),
    );
    const runs = await Promise.all(
      [0, 1, 2, 3].map((i) => runToEnd(["transfer", path.join(local, `c${i}.bin`), "--port", String(port)])),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    for (const i of [0, 1, 2, 3]) expect(await sha256File(path.join(shared, `c${i}.bin`))).toBe(hashes[i]);
  });

  it("never tears a file when two uploads of the same name race", async () => {
    const { port } = await serveFiles();
    const ha = await makeFile(path.join(local, "a.bin"), 8 * 1024 * 1024, 1);
    const hb = await makeFile(path.join(local, "b.bin"), 8 * 1024 * 1024, 2);
    const runs = await Promise.all(
      ["a.bin", "b.bin"].map((f) =>
        runToEnd([
          "transfer",
          path.join(local, f),
          "--name",
          "same.bin",
          "--overwrite",
          "--port",
          String(port),
        ]),
      ),
    );
    expect(runs.some((r) => r.code === 0)).toBe(true);
    for (const r of runs) if (r.code !== 0) expect(r.stderr).toContain("is being uploaded by another client");
    expect([ha, hb]).toContain(await sha256File(path.join(shared, "same.bin")));
    expect(await readdir(shared)).toEqual(["same.bin"]);
  });

  it("resumes an upload after the client is killed midway", { timeout: 60_000 }, async () => {
    const { lab: server, port } = await serveFiles();
    const size = 48 * 1024 * 1024;
    const src = path.join(local, "big.bin");
    const hash = await makeFile(src, size, 11);
    const point = seededPoint(1, size * 0.2, size * 0.6);
    const client = startLab(["transfer", src, "--port", String(port), "--limit-rate", "24M"]);
    await waitForSize(path.join(shared, "big.bin.part"), point);
    client.child.kill("SIGKILL");
    await client.exited;
    // The server may still be writing what the kernel had buffered: the .part is final once it says so.
    await server.waitForOutput("lost upload of big.bin");
    expect(await readdir(shared)).toEqual(["big.bin.part"]);
    const kept = (await stat(path.join(shared, "big.bin.part"))).size;
    const again = await runToEnd(["transfer", src, "--resume", "--json", "--port", String(port)], {
      timeoutMs: 30_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const r = json(again.stdout).files[0]!;
    expect(r.resumedAt).toBeGreaterThan(0);
    expect(r.resumedAt).toBeLessThanOrEqual(kept);
    expect(r).toMatchObject({ bytes: size, sha256: hash });
    expect(await sha256File(path.join(shared, "big.bin"))).toBe(hash);
    expect(await readdir(shared)).toEqual(["big.bin"]);
  });

  it("resumes a download after the client is killed midway, unasked, in one line", {
    timeout: 60_000,
  }, async () => {
    const { port } = await serveFiles();
    const size = 48 * 1024 * 1024;
    const hash = await makeFile(path.join(shared, "big.bin"), size, 12);
    const out = path.join(local, "big.bin");
    const point = seededPoint(2, size * 0.2, size * 0.6);
    const client = startLab([
      "transfer",
      "--get",
      "big.bin",
      "-o",
      out,
      "--port",
      String(port),
      "--limit-rate",
      "24M",
    ]);
    await waitForSize(`${out}.part`, point);
    client.child.kill("SIGKILL");
    await client.exited;
    const again = await runToEnd(
      ["transfer", "--get", "big.bin", "-o", out, "--json", "--port", String(port)],
      {
        timeoutMs: 30_000,
      },
    );
    expect(again.code, again.stderr).toBe(0);
    const resumedAt = json(again.stdout).files[0]!.resumedAt;
    expect(resumedAt).toBeGreaterThanOrEqual(point);
    expect(again.stderr).toMatch(
      new RegExp(
        `^resuming big\\.bin at offset ${resumedAt} \\([\\d.]+ [KM]iB already here; SHA-256 of that prefix matches the server's\\)\n$`,
      ),
    );
    expect(await sha256File(out)).toBe(hash);
    expect(await readdir(local)).toEqual(["big.bin"]);
  });

  it("tells how to resume when the server dies mid-download, and keeps the .part", {
    timeout: 60_000,
  }, async () => {
    const { lab: server, port } = await serveFiles();
    const size = 32 * 1024 * 1024;
    await makeFile(path.join(shared, "big.bin"), size, 13);
    const out = path.join(local, "big.bin");
    const client = startLab([
      "transfer",
      "--get",
      "big.bin",
      "-o",
      out,
      "--port",
      String(port),
      "--limit-rate",
      "16M",
    ]);
    await waitForSize(`${out}.part`, seededPoint(3, size * 0.1, size * 0.5));
    server.child.kill("SIGKILL");
    expect(await client.exited).toBe(1);
    expect(client.stderr()).toMatch(
      /^lab: connection lost after \d+ of 33554432 bytes of big\.bin; the partial file is kept in .*big\.bin\.part\nhint: run the same command again to continue\n$/,
    );
    expect(await readdir(local)).toEqual(["big.bin.part"]);
  });

  it("starts over when the partial file's prefix does not match", async () => {
    const { port } = await serveFiles();
    const hash = await makeFile(path.join(shared, "f.bin"), 5_000_000, 14);
    const out = path.join(local, "f.bin");
    await makeFile(`${out}.part`, 2_000_000, 99); // same length as a real prefix, other bytes
    const r = await runToEnd(["transfer", "--get", "f.bin", "-o", out, "--json", "--port", String(port)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /^.*f\.bin\.part \(1\.9 MiB\) is not the start of the server's file; starting over \(it is replaced\)\n$/,
    );
    expect(json(r.stdout).files[0]).toMatchObject({
      resumedAt: 0,
      transferredBytes: 5_000_000,
      sha256: hash,
    });
    expect(await sha256File(out)).toBe(hash);

    // And for an upload: a corrupted .part on the server.
    const src = path.join(local, "g.bin");
    const h2 = await makeFile(src, 3_000_000, 15);
    await makeFile(path.join(shared, "g.bin.part"), 1_000_000, 98);
    const up = await runToEnd(["transfer", src, "--resume", "--json", "--port", String(port)]);
    expect(json(up.stdout).files[0]).toMatchObject({ resumedAt: 0, sha256: h2 });
    expect(await sha256File(path.join(shared, "g.bin"))).toBe(h2);
  });

  it("refuses every traversal form both ways, with a clear message, and keeps serving", {
    timeout: 60_000,
  }, async () => {
    const cases: Array<[string, string]> = [
      ["../secret.txt", "'..' is not allowed"],
      ["a/../../secret.txt", "'..' is not allowed"],
      ["/etc/passwd", "absolute paths are not allowed"],
      ["C:\\Windows\\win.ini", "drive-letter paths are not allowed"],
      ["..\\secret.txt", "backslashes are not allowed"],
      ["nul", "reserved device name"],
      ["COM1.txt", "reserved device name"],
      ["x.part", "reserved for partial files"],
      ["out/secret.txt", "leads outside the served folder"],
    ];
    await writeFile(path.join(dir, "secret.txt"), "secret");
    await symlink(dir, path.join(shared, "out"));
    await symlink(path.join(dir, "secret.txt"), path.join(shared, "link.txt"));
    const { lab: server, port } = await serveFiles();
    await writeFile(path.join(local, "up.txt"), "up");
    const p = String(port);
    const runs = await Promise.all(
      [...cases, ["link.txt", "leads outside the served folder"] as [string, string]].map(
        async ([name, why], i) => {
          // One output path per case: parallel downloads must not share a .part.
          const down = await runToEnd([
            "transfer",
            "--get",
            name,
            "-o",
            path.join(local, `x${i}`),
            "--port",
            p,
          ]);
          const up = await runToEnd(["transfer", path.join(local, "up.txt"), "--name", name, "--port", p]);
          return { name, why, down, up };
        },
      ),
    );
    for (const { name, why, down, up } of runs) {
      expect(down.code, name).toBe(1);
      expect(down.stderr, name).toMatch(new RegExp(`^lab: .*${escapeRegExp(why)}.*\\nhint: `));
      expect(up.code, name).toBe(1);
      // An upload named link.txt would replace the link itself, never write through it: it exists.
      expect(up.stderr, name).toContain(name === "link.txt" ? "link.txt already exists on the server" : why);
    }
    expect(await readFile(path.join(dir, "secret.txt"), "utf8")).toBe("secret");
    expect(await readdir(local)).toEqual(["up.txt"]);
    const list = await runToEnd(["transfer", "--list", "--port", p]);
    expect(list.code).toBe(0);
    expect(server.stderr()).toContain("refused download of ../secret.txt from 127.0.0.1:");
  });

  it("takes the folder as --dir or --directory too (python -m http.server's habit), but only once", async () => {
    await writeFile(path.join(shared, "here.txt"), "here");
    const server = await startServer(
      (p) => ["files", "--directory", shared, "--port", String(p)],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const list = await runToEnd(["transfer", "--list", "--port", String(server.port)]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain("here.txt");
    const twice = await runToEnd(["files", shared, "--dir", local, "--port", "0"]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^lab: two folders to serve: .*\nhint: /);
  });

  it("--read-only refuses uploads and still serves downloads", async () => {
    await writeFile(path.join(shared, "here.txt"), "here");
    const { port } = await serveFiles(["--read-only"]);
    await writeFile(path.join(local, "up.txt"), "up");
    const up = await runToEnd(["transfer", path.join(local, "up.txt"), "--port", String(port)]);
    expect(up.code).toBe(1);
    expect(up.stderr).toBe(
      "lab: the server is read-only: uploads are refused\nhint: restart 'lab files' without --read-only to accept uploads\n",
    );
    const down = await runToEnd([
      "transfer",
      "--get",
      "here.txt",
      "-o",
      path.join(local, "here.txt"),
      "--port",
      String(port),
    ]);
    expect(down.code, down.stderr).toBe(0);
    expect(await readdir(shared)).toEqual(["here.txt"]);
  });

  it("--max-size refuses larger uploads before sending them", async () => {
    const { port } = await serveFiles(["--max-size", "1K"]);
    await makeFile(path.join(local, "big.bin"), 2048);
    await makeFile(path.join(local, "ok.bin"), 1024);
    const big = await runToEnd(["transfer", path.join(local, "big.bin"), "--port", String(port)]);
    expect(big.code).toBe(1);
    expect(big.stderr).toContain("lab: big.bin is 2.0 KiB, over the server's limit of 1.0 KiB");
    const ok = await runToEnd(["transfer", path.join(local, "ok.bin"), "--port", String(port)]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readdir(shared)).toEqual(["ok.bin"]);
  });

  it("reports disk full to the client and removes the .part", async () => {
    const { lab: server, port } = await serveFiles([], { NETLAB_TRANSFER_FAULT: "enospc@2097152" });
    await makeFile(path.join(local, "big.bin"), 16 * 1024 * 1024);
    const r = await runToEnd(["transfer", path.join(local, "big.bin"), "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "lab: no space left on the device while writing big.bin\nhint: free some disk space and try again\n",
    );
    expect(await readdir(shared)).toEqual([]);
    await server.waitForOutput("refused upload of big.bin");
  });

  it("an upload of a file that is not here hints at --get (a download may have been meant)", async () => {
    const { port } = await serveFiles();
    const r = await runToEnd(["transfer", "nothing-here.txt", "--port", String(port)], { cwd: local });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "lab: nothing-here.txt: no such file or directory\nhint: lab transfer FILE uploads a file from here; to download it from the server: lab transfer --get nothing-here.txt\n",
    );
  });

  it("says in one line that the server is not running", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runToEnd(["transfer", "x.txt", "--port", String(port)]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n")[0]).toBe(
      `lab: cannot connect to 127.0.0.1:${port}: connection refused (is 'lab files' running?)`,
    );
  });

  it.skipIf(process.platform !== "linux")(
    "a socket address nobody serves hints at starting lab files on that socket, not on a port",
    async () => {
      const name = `@netlab-nobody-${process.pid}`;
      const r = await runToEnd(["transfer", "--list", "--host", name]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `lab: cannot connect to ${name}: connection refused (is 'lab files' running?)\nhint: start it with 'lab files DIR --host ${name}', or pass the right address\n`,
      );
    },
  );

  it("--json still prints one object, ok false with the error, when the server is not running", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    await writeFile(path.join(local, "up.txt"), "up");
    for (const args of [
      ["--list"],
      [path.join(local, "up.txt")],
      ["--get", "f.txt", "-o", path.join(local, "g")],
    ]) {
      const r = await runToEnd(["transfer", ...args, "--json", "--port", String(port)]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout.endsWith("\n") && r.stdout.split("\n").length === 2, r.stdout).toBe(true);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({ ok: false, files: [], error: { code: "CONNECTION_REFUSED" } });
      expect(report.error.message).toContain("connection refused");
    }
  });

  it("a folder or FIFO on this side where the download goes is named as such, without the server-folder hint", async () => {
    await writeFile(path.join(shared, "f.txt"), "server");
    const { port } = await serveFiles();
    const get = (out: string) =>
      runToEnd(["transfer", "--get", "f.txt", "-o", out, "--overwrite", "--port", String(port)]);
    // Without -o, the name here is f.txt, and a folder holds it.
    await mkdir(path.join(local, "f.txt"));
    const folder = await runToEnd(["transfer", "--get", "f.txt", "--overwrite", "--port", String(port)], {
      cwd: local,
    });
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain("is a directory");
    expect(folder.stderr).not.toContain("end its name with a /");
    spawnSync("mkfifo", [path.join(local, "fifo.txt.part")]);
    const fifo = await get(path.join(local, "fifo.txt"));
    expect(fifo.code).toBe(1);
    expect(fifo.stderr).toBe(
      `lab: ${path.join(local, "fifo.txt.part")} is not a regular file\nhint: that is where the download's partial file goes: move it away, or choose another -o\n`,
    );
  });

  it("draws its progress bar within a narrow terminal's width, so \\r redraws one line", async () => {
    const { port } = await serveFiles();
    const file = path.join(local, "a-rather-long-file-name-for-a-narrow-terminal.bin");
    await makeFile(file, 3 << 20);
    const lab = ["transfer", file, "--limit-rate", "2M", "--port", String(port)];
    const r = await runLabOnTerminal(lab, { cols: 70, rows: 20 });
    expect(r.code, r.stdout).toBe(0);
    const draws = progressDraws(r.stdout, "ETA");
    expect(draws.length, r.stdout).toBeGreaterThan(2);
    for (const d of draws) expect(Array.from(d).length, d).toBeLessThanOrEqual(69);
    expect(draws.at(-1)).toMatch(/^a-rather-l… {2}\[#+\] {2}100% {2}3.0 MiB \/ 3.0 MiB {2}/);
  });

  it("keeps an existing local file unless --overwrite", async () => {
    await writeFile(path.join(shared, "f.txt"), "server");
    const { port } = await serveFiles();
    await writeFile(path.join(local, "f.txt"), "mine");
    const r = await runToEnd([
      "transfer",
      "--get",
      "f.txt",
      "-o",
      path.join(local, "f.txt"),
      "--port",
      String(port),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("already exists here");
    expect(await readFile(path.join(local, "f.txt"), "utf8")).toBe("mine");
    const o = await runToEnd([
      "transfer",
      "--get",
      "f.txt",
      "-o",
      local,
      "--overwrite",
      "--port",
      String(port),
    ]);
    expect(o.code, o.stderr).toBe(0);
    expect(await readFile(path.join(local, "f.txt"), "utf8")).toBe("server");
  });

  it.each([
    [["transfer"], "name the files to upload"],
    [["transfer", "--get"], "lab: name the files to download\nhint: e.g. lab transfer --get test.txt\n"],
    [["transfer", "--list", "a"], "--list takes no files"],
    [["transfer", "a", "b", "--name", "x"], "--name is for a single upload"],
    [["transfer", "--get", "--raw"], "--get --raw needs -o OUT"],
    [["transfer", "a", "--port", "99999"], "--port must be"],
    [["transfer", "a", "--limit-rate", "fast"], "--limit-rate must be"],
    [["files", "--max-size", "lots"], "--max-size must be a size"],
    [["transfer", "--get", "a", "b", "-o", "/nonexistent/out.bin"], "-o must be an existing folder"],
    // A curl or nc habit: -o - is stdout there, and was silently a file named "-" here.
    [["transfer", "--get", "a", "-o", "-"], "lab: -o - (stdout) is not supported"],
    [["transfer", "--get", "--raw", "-o", "-"], "lab: -o - (stdout) is not supported"],
  ])("exits 2 for the usage error in %j", async (args, message) => {
    const r = await runToEnd(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("lab files --raw with a missing file or a folder: one line and what to do, exit 1", async () => {
    const missing = await runToEnd(["files", "--raw", path.join(dir, "nope.txt"), "--port", "0"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lab: .*nope\.txt: no such file or directory\nhint: check the path/);
    const folder = await runToEnd(["files", "--raw", shared, "--port", "0"]);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/is not a regular file\nhint: .*drop --raw: lab files FOLDER\n$/);
  });

  it("stops on Ctrl-C with exit 0", async () => {
    const { lab } = await serveFiles();
    const code = await lab.stop("SIGINT");
    expect(code, lab.stderr()).toBe(0);
    expect(lab.stderr()).toMatch(/stopped\n$/);
  });
});
