import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeDirectory } from "../src/index.js";

describe("makeDirectory", () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "netlab-mkdir-"));
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

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
