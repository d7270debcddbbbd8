import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  hostKey,
  IdentityChangedError,
  parseKnownHosts,
  readKnownHosts,
  trustOnFirstUse,
} from "../src/index.ts";

const A = `SHA256:${"A".repeat(43)}`;
const B = `SHA256:${"B".repeat(43)}`;
let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "netlab-kh-"));
  file = join(dir, "netlab", "known_hosts");
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("hostKey", () => {
  it("lower-cases names and brackets IPv6 addresses", () => {
    expect(hostKey("LocalHost", 5001)).toBe("localhost:5001");
    expect(hostKey("::1", 7)).toBe("[::1]:7");
    expect(hostKey("[::1]", 7)).toBe("[::1]:7");
  });
});

describe("trustOnFirstUse", () => {
  it("stores an unknown host, accepts it again, and refuses a different fingerprint naming the line", async () => {
    expect(await trustOnFirstUse("localhost", 5001, A, { file })).toMatchObject({
      status: "stored",
      line: 1,
    });
    expect(await readFile(file, "utf8")).toBe(`localhost:5001 ${A}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await trustOnFirstUse("LOCALHOST", 5001, A, { file })).toMatchObject({ status: "known", line: 1 });
    expect(await trustOnFirstUse("localhost", 5002, B, { file })).toMatchObject({
      status: "stored",
      line: 2,
    });
    const err = await trustOnFirstUse("localhost", 5001, B, { file }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityChangedError);
    expect(err).toMatchObject({
      code: "IDENTITY_CHANGED",
      knownFingerprint: A,
      presentedFingerprint: B,
      line: 1,
    });
    expect((err as Error).message).toContain(A);
    expect((err as Error).message).toContain(B);
    expect((err as IdentityChangedError).hint).toBe(
      `if you expect the change, remove line 1 of ${file} and connect again`,
    );
    expect(await readFile(file, "utf8")).toBe(`localhost:5001 ${A}\nlocalhost:5002 ${B}\n`);
  });

  it("reports malformed lines without failing and keeps them when adding a line", async () => {
    await mkdir(join(dir, "netlab"));
    const text = `# mine\n\ngarbage \x1b[31mred\nlocalhost:1 SHA256:short\n[::1]:9 ${A}`;
    await writeFile(file, text);
    const read = await readKnownHosts({ file });
    expect(read.entries).toEqual([{ host: "[::1]:9", fingerprint: A, line: 5 }]);
    expect(read.problems.map((p) => p.line)).toEqual([3, 4]);
    expect(read.problems[0]!.reason).not.toContain("\x1b");
    const result = await trustOnFirstUse("::1", 10, B, { file });
    expect(result).toMatchObject({ status: "stored", line: 6 });
    expect(result.problems).toHaveLength(2);
    expect(await readFile(file, "utf8")).toBe(`${text}\n[::1]:10 ${B}\n`);
  });

  it("refuses a file over maxBytes with BAD_KNOWN_HOSTS and a hint", async () => {
    await mkdir(join(dir, "netlab"));
    await writeFile(file, "x".repeat(2000));
    const err = await trustOnFirstUse("localhost", 1, A, { file, maxBytes: 1000 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "BAD_KNOWN_HOSTS" });
    expect((err as Error).message).toMatch(/over the 1000-byte limit/);
  });

  it("refuses a folder in place of the file", async () => {
    await mkdir(file, { recursive: true });
    await expect(readKnownHosts({ file })).rejects.toMatchObject({ code: "BAD_KNOWN_HOSTS" });
  });

  it("takes over a lock left by a dead process", async () => {
    await mkdir(join(dir, "netlab"));
    await writeFile(`${file}.lock`, "");
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    expect(await trustOnFirstUse("localhost", 1, A, { file })).toMatchObject({ status: "stored" });
  });

  it("gives up on a live lock after lockTimeoutMs", async () => {
    await mkdir(join(dir, "netlab"));
    await writeFile(`${file}.lock`, "");
    await expect(trustOnFirstUse("localhost", 1, A, { file, lockTimeoutMs: 100 })).rejects.toMatchObject({
      code: "BAD_KNOWN_HOSTS",
    });
  });

  it("keeps every line when many processes store different hosts at once", async () => {
    const script = join(dir, "store.mjs");
    // Child processes run the built package, the one a `lab` process would load.
    const built = new URL("../dist/index.js", import.meta.url).pathname;
    await writeFile(
      script,
      `import { trustOnFirstUse } from ${JSON.stringify(built)};\n` +
        `const [file, port, fp] = process.argv.slice(2);\n` +
        `await trustOnFirstUse("localhost", Number(port), fp, { file });\n`,
    );
    const children = Array.from({ length: 8 }, (_, i) => {
      const child = spawn(process.execPath, [script, file, String(6000 + i), i % 2 ? A : B], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk;
      });
      return new Promise<string>((resolve) => child.on("close", (code) => resolve(`${code} ${stderr}`)));
    });
    expect(await Promise.all(children)).toEqual(Array(8).fill("0 "));
    const read = parseKnownHosts(await readFile(file, "utf8"));
    expect(read.problems).toEqual([]);
    expect(read.entries.map((e) => e.host).sort()).toEqual(
      Array.from({ length: 8 }, (_, i) => `localhost:${6000 + i}`),
    );
  }, 20_000);
});
