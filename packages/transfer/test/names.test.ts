import { mkdir, mkdtemp, realpath, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWithin, resolveForRead, resolveForWrite, splitName, TransferError } from "../src/index.js";

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
    [`${"x".repeat(251)}`, "longer than"],
  ])("refuses %j (%s) with INVALID_NAME", (name, why) => {
    expect(() => splitName(name)).toThrow(TransferError);
    expect(codeOf(() => splitName(name))).toBe("INVALID_NAME");
    expect(() => splitName(name)).toThrow(why);
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

describe("resolveForRead / resolveForWrite (symlinks)", () => {
  let base: string;
  let root: string;
  beforeAll(async () => {
    base = await realpath(await mkdtemp(path.join(os.tmpdir(), "netlab-names-")));
    root = path.join(base, "root");
    await mkdir(path.join(root, "sub"), { recursive: true });
    await writeFile(path.join(base, "secret.txt"), "secret");
    await writeFile(path.join(root, "sub", "ok.txt"), "ok");
    await symlink(path.join(base, "secret.txt"), path.join(root, "escape.txt"));
    await symlink(base, path.join(root, "outdir"));
    await symlink(path.join(root, "sub"), path.join(root, "insub"));
    await symlink(path.join(root, "sub", "ok.txt"), path.join(root, "alias.txt"));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it("follows a symlink that stays inside the folder", async () => {
    expect(await resolveForRead(root, "alias.txt")).toBe(path.join(root, "sub", "ok.txt"));
    expect(await resolveForRead(root, "insub/ok.txt")).toBe(path.join(root, "sub", "ok.txt"));
  });

  it("refuses a symlinked file that leads outside with OUTSIDE_ROOT", async () => {
    await expect(resolveForRead(root, "escape.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
  });

  it("refuses a symlinked folder that leads outside, for reading and writing", async () => {
    await expect(resolveForRead(root, "outdir/secret.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
    await expect(resolveForWrite(root, "outdir/new.txt")).rejects.toMatchObject({ code: "OUTSIDE_ROOT" });
  });

  it("says NOT_FOUND for a missing file and NOT_A_FILE for a folder", async () => {
    await expect(resolveForRead(root, "nope.txt")).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(resolveForRead(root, "sub")).rejects.toMatchObject({ code: "NOT_A_FILE" });
    await expect(resolveForWrite(root, "sub")).rejects.toMatchObject({ code: "NOT_A_FILE" });
  });

  it("creates missing folders for an upload and names its .part", async () => {
    const t = await resolveForWrite(root, "new/deeper/file.bin");
    expect(t.finalPath).toBe(path.join(root, "new", "deeper", "file.bin"));
    expect(t.partPath).toBe(path.join(root, "new", "deeper", "file.bin.part"));
  });

  it("refuses to put a file under a path segment that is a file", async () => {
    await expect(resolveForWrite(root, "sub/ok.txt/x")).rejects.toMatchObject({ code: "INVALID_NAME" });
  });
});
