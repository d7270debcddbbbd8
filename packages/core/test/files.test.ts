import { mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lockFile, makeDirectory } from "../src/index.js";

/** A fresh folder for each test, removed after it. */
let base: string;
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), "netlab-files-"));
});
afterEach(() => rm(base, { recursive: true, force: true }));

describe("makeDirectory", () => {
  it("makes the folder and its missing parents with the mode given, and is content when it exists", async () => {
    const dir = join(base, "a", "b", "c");
    await makeDirectory(dir, 0o700);
    expect((await stat(dir)).isDirectory()).toBe(true);
    expect((await stat(join(base, "a"))).mode & 0o777).toBe(0o700);
    await makeDirectory(dir);
    await makeDirectory(`${dir}/`);
  });

  it("a file in the way is ENOTDIR, whether it is the folder or a parent", async () => {
    await writeFile(join(base, "f"), "x");
    await expect(makeDirectory(join(base, "f"))).rejects.toMatchObject({ code: "ENOTDIR" });
    await expect(makeDirectory(join(base, "f", "sub"))).rejects.toMatchObject({ code: "ENOTDIR" });
  });

  it("under /proc it fails with ENOENT at once, where Node 20's recursive mkdir never returns", async () => {
    await expect(makeDirectory("/proc/netlab-test/x")).rejects.toMatchObject({ code: "ENOENT" });
  }, 5_000);
});

describe("lockFile", () => {
  it("one holder at a time: the second waits for the first's unlock, then holds it", async () => {
    const file = join(base, "f.json");
    const unlock = await lockFile(file);
    const order: string[] = [];
    const second = lockFile(file).then((u) => {
      order.push("second locked");
      return u;
    });
    await new Promise((r) => setImmediate(r));
    order.push("first unlocks");
    await unlock();
    await (await second)();
    expect(order).toEqual(["first unlocks", "second locked"]);
    await expect(stat(`${file}.lock`)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("a live holder past timeoutMs is LOCK_TIMEOUT naming the lock file; a stale lock is taken over", async () => {
    const file = join(base, "f.json");
    const unlock = await lockFile(file);
    await expect(lockFile(file, { timeoutMs: 50 })).rejects.toMatchObject({
      code: "LOCK_TIMEOUT",
      hint: `if no other lab process is running, remove ${file}.lock`,
    });
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    await (await lockFile(file, { timeoutMs: 50, staleMs: 10_000 }))();
    await unlock();
  });
});
