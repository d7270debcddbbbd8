import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWithin, ServedRoot, splitName, TransferError } from "../src/index.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as TransferError).code;
  }
}

describe("splitName", () => {
  it("splits a relative path into its segments", () => {
    expect(splitName("in/a.bin")).toEqual(["in", "a.bin"]);
    expect(splitName("test.txt")).toEqual(["test.txt"]);
    expect(splitName("sp ace/ünï cödé.txt")).toEqual(["sp ace", "ünï cödé.txt"]);
  });

  it.each([
    ["", "empty"],
    ["..", "'..'"],
    ["../x", "'..'"],
    ["a/../../x", "'..'"],
    ["a/..", "'..'"],
    ["/etc/passwd", "absolute"],
    ["//server/share", "absolute"],
    ["C:\\Windows", "drive-letter"],
    ["c:x", "drive-letter"],
    ["a\\..\\b", "backslash"],
    ["\\\\server\\share", "backslash"],
    ["a\0b", "NUL"],
    ["a\nb", "control character"],
    ["a//b", "empty or '.'"],
    ["./a", "empty or '.'"],
    ["a/", "empty or '.'"],
    ["CON", "device name"],
    ["nul.txt", "device name"],
    ["in/COM1.log", "device name"],
    ["lpt9", "device name"],
    ["x.part", ".part"],
    ["x.PART", ".part"],
    ["in.Part/x", ".part"],
    ["a\u001b[2Jb", "control"],
    ["a\u009bb", "control"],
    ["a\u202eb", "bidi mark"],
    ["a\u2066b", "bidi mark"],
    ["a\u2028b", "control"],
    ["a\u2029b", "control"],
    ["\ufeffa", "control"],
    ["a\u007fb", "control"],
    ["...", "only dots and spaces"],
    ["a/. .", "only dots and spaces"],
    [" ", "only dots and spaces"],
    [".env", "starting with '.'"],
    ["a/.git/config", "starting with '.'"],
    [`${"x".repeat(251)}`, "longer than"],
  ])("refuses %j (%s) with INVALID_NAME", (name, why) => {
    expect(() => splitName(name)).toThrow(TransferError);
    expect(codeOf(() => splitName(name))).toBe("INVALID_NAME");
    expect(() => splitName(name)).toThrow(why);
  });

  it("accepts dotfiles only when the rules allow them", () => {
    expect(splitName(".env", { dotfiles: true })).toEqual([".env"]);
    expect(splitName("a/.git/config", { dotfiles: true })).toEqual(["a", ".git", "config"]);
    expect(() => splitName("a/../b", { dotfiles: true })).toThrow("'..' is not allowed");
    expect(() => splitName("x.Part", { dotfiles: true })).toThrow(".part");
  });

  it("accepts only names whose joined path stays inside the root (property)", () => {
    const root = "/srv/root";
    const segment = fc.oneof(
      fc.constantFrom("..", ".", "", "a", "CON", "b.part", "/", "\\", "\0", "x y", "ü"),
      fc.string({ maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 5 }), fc.boolean(), (parts, lead) => {
        const name = (lead ? "/" : "") + parts.join("/");
        let segments: string[];
        try {
          segments = splitName(name);
        } catch (err) {
          expect((err as TransferError).code).toBe("INVALID_NAME");
          return;
        }
        const full = path.join(root, ...segments);
        expect(isWithin(root, full)).toBe(true);
        expect(full).not.toBe(root);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("ServedRoot (symlinks)", () => {
  let base: string;
  let root: string;
  let served: ServedRoot;
  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), "netlab-names-")));
    root = path.join(base, "root");
    await mkdir(path.join(root, "sub"), { recursive: true });
    await writeFile(path.join(base, "secret.txt"), "secret");
    await writeFile(path.join(root, "sub", "ok.txt"), "ok");
    await writeFile(path.join(root, ".env"), "hidden");
    await symlink(path.join(base, "secret.txt"), path.join(root, "escape.txt"));
    await symlink(base, path.join(root, "outdir"));
    await symlink("../../secret.txt", path.join(root, "sub", "up.txt"));
    await symlink(path.join(root, "sub"), path.join(root, "insub"));
    await symlink(path.join(root, "sub", "ok.txt"), path.join(root, "alias.txt"));
    await symlink("sub/../sub/ok.txt", path.join(root, "rel.txt"));
    await symlink(".env", path.join(root, "env.txt"));
    await symlink("loop2", path.join(root, "loop1"));
    await symlink("loop1", path.join(root, "loop2"));
    served = await ServedRoot.open(root);
  });
  afterAll(async () => {
    await served.close();
    await rm(base, { recursive: true, force: true });
  });

  async function read(name: string): Promise<string> {
    const { fh } = await served.openRead(name);
    try {
      return await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  }

  it("resolves through descriptors on Linux", () => {
    expect(served.isRaceFree).toBe(process.platform === "linux");
  });

  it("follows a symlink that stays inside the folder", async () => {
    expect(await read("alias.txt")).toBe("ok");
    expect(await read("insub/ok.txt")).toBe("ok");
    expect(await read("rel.txt")).toBe("ok");
  });

  it("refuses a symlinked file that leads outside with OUTSIDE_ROOT", async () => {
    await expect(served.openRead("escape.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
    await expect(served.openRead("sub/up.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
  });

  it("refuses a symlinked folder that leads outside, for reading and writing", async () => {
    await expect(served.openRead("outdir/secret.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
    await expect(served.parentFor("outdir/new.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
  });

  it("does not reach a dotfile through a symlink, and ends a symlink loop", async () => {
    await expect(served.openRead("env.txt")).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(served.openRead(".env")).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(served.openRead("loop1")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
  });

  it("says NOT_FOUND for a missing file and NOT_A_FILE for a folder to read", async () => {
    await expect(served.openRead("nope.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(served.openRead("sub")).rejects.toMatchObject({ code: "NOT_A_FILE" });
  });

  it("creates missing folders for an upload and returns the folder and last name", async () => {
    const t = await served.parentFor("new/deeper/file.bin");
    try {
      expect(t.base).toBe("file.bin");
      await writeFile(t.dir.at("x.txt"), "x");
      expect(await readFile(path.join(root, "new", "deeper", "x.txt"), "utf8")).toBe("x");
    } finally {
      await t.dir.close();
    }
  });

  it("refuses to put a file under a path segment that is a file", async () => {
    await expect(served.parentFor("sub/ok.txt/x")).rejects.toMatchObject({ code: "INVALID_NAME" });
  });
});
