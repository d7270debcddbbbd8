import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  defaultReclaimFile,
  RECLAIM_STORE_DEFAULTS,
  type ReclaimEntry,
  ReclaimStore,
  readReclaims,
  writeReclaims,
} from "../src/reclaim-store.js";

async function tempFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "netlab-reclaim-"));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, "netlab", "reclaim.json");
}

const entry = (i: number): ReclaimEntry => ({
  server: "127.0.0.1:5001",
  nick: `n${i}`,
  token: `t${i}`.padEnd(32, "x"),
  at: 1_000 + i,
});

describe("reclaim.json", () => {
  it("lives in netlab's config folder", () => {
    expect(defaultReclaimFile({ XDG_CONFIG_HOME: "/tmp/cfg" })).toBe("/tmp/cfg/netlab/reclaim.json");
  });

  it("keeps the newest maxEntries (100) entries, oldest dropped; written 0600 in a 0700 folder, no temp file left", async () => {
    const file = await tempFile();
    const all = Array.from({ length: 130 }, (_, i) => entry(i));
    await writeReclaims(file, all);
    const { entries, problem } = await readReclaims(file);
    expect(problem).toBeUndefined();
    expect(entries).toHaveLength(RECLAIM_STORE_DEFAULTS.maxEntries);
    expect(entries.map((e) => e.nick)).not.toContain("n29");
    expect(entries.map((e) => e.nick)).toContain("n30");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    expect(await readdir(path.dirname(file))).toEqual(["reclaim.json"]);
  });

  it("is replaced whole: readers during many writes only ever see a complete file", async () => {
    const file = await tempFile();
    await writeReclaims(file, [entry(0)]);
    const writes = Array.from({ length: 20 }, (_, i) =>
      writeReclaims(
        file,
        Array.from({ length: 50 }, (_, j) => entry(i * 50 + j)),
      ),
    );
    const reads = Array.from({ length: 20 }, () => readReclaims(file));
    await Promise.all(writes);
    for (const r of await Promise.all(reads)) expect(r.problem).toBeUndefined();
    expect((await readReclaims(file)).entries).toHaveLength(50);
    expect((await readdir(path.dirname(file))).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });

  it("a missing file is empty, silently; a malformed, oversized or unreadable one is empty with a reason", async () => {
    const file = await tempFile();
    expect(await readReclaims(file)).toEqual({ entries: [] });
    await mkdir(path.dirname(file), { recursive: true });
    const cases: [string, string][] = [
      ["{not json", "it is not JSON"],
      ["null", "it is not a list of reclaim entries"],
      ['{"entries":{}}', "it is not a list of reclaim entries"],
      [
        '{"entries":[{"server":"a","nick":"b","token":"no spaces allowed","at":1}]}',
        "it is not a list of reclaim entries",
      ],
      [
        JSON.stringify({ entries: [{ ...entry(1), token: "x".repeat(65) }] }),
        "it is not a list of reclaim entries",
      ],
      [
        " ".repeat(RECLAIM_STORE_DEFAULTS.maxBytes + 1),
        `it is over ${RECLAIM_STORE_DEFAULTS.maxBytes} bytes`,
      ],
    ];
    for (const [text, problem] of cases) {
      await writeFile(file, text);
      expect(await readReclaims(file)).toEqual({ entries: [], problem });
    }
    await rm(file);
    await mkdir(file);
    expect((await readReclaims(file)).problem).toMatch(/^cannot read it \(EISDIR\)$/);
  });

  it("ReclaimStore: put replaces the token, drop removes it, other servers' entries stay; one note for a bad file", async () => {
    const file = await tempFile();
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "garbage");
    const notes: string[] = [];
    const store = new ReclaimStore(file, "127.0.0.1:5001", (t) => notes.push(t));
    expect(await store.token("alice")).toBeUndefined();
    expect(await store.token("alice")).toBeUndefined();
    expect(notes).toEqual([`ignoring ${file}: it is not JSON`]);

    const other = new ReclaimStore(file, "[::1]:5001", () => {});
    other.put("alice", "O".repeat(32));
    await other.flushed();
    store.put("alice", "A".repeat(32));
    store.put("alice", "B".repeat(32));
    await store.flushed();
    expect(await store.token("alice")).toBe("B".repeat(32));
    expect(await other.token("alice")).toBe("O".repeat(32));
    store.drop("alice");
    await store.flushed();
    expect(await store.token("alice")).toBeUndefined();
    expect(JSON.parse(await readFile(file, "utf8")).entries).toHaveLength(1);
    expect(notes).toHaveLength(1);
  });

  it("ReclaimStore: a token whose holder process still runs is not offered; one whose holder is gone is", async () => {
    const file = await tempFile();
    const server = "127.0.0.1:5001";
    const gone = spawnSync(process.execPath, ["-e", "0"]).pid as number;
    await writeReclaims(file, [
      { server, nick: "alice", token: "A".repeat(32), at: 1, pid: process.ppid },
      { server, nick: "bob", token: "B".repeat(32), at: 2, pid: gone },
      { server, nick: "carol", token: "C".repeat(32), at: 3 },
    ]);
    const store = new ReclaimStore(file, server, () => {});
    expect(await store.token("alice")).toBeUndefined();
    expect(await store.token("bob")).toBe("B".repeat(32));
    expect(await store.token("carol")).toBe("C".repeat(32));
  });

  it("ReclaimStore: a file that cannot be written is a note, never a throw", async () => {
    const file = await tempFile();
    // The folder is a file: mkdir fails.
    await mkdir(path.dirname(path.dirname(file)), { recursive: true });
    await writeFile(path.dirname(file), "");
    const notes: string[] = [];
    const store = new ReclaimStore(file, "127.0.0.1:5001", (t) => notes.push(t));
    store.put("alice", "A".repeat(32));
    store.put("bob", "B".repeat(32));
    await store.flushed();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^cannot (read|save to)/);
  });
});

describe("reclaim.json shared by several lab clients", () => {
  it("five processes each keeping 15 tokens at once lose none of them (the file is locked per change)", async () => {
    const file = await tempFile();
    const dist = new URL("../dist/reclaim-store.js", import.meta.url).href;
    const script = `
      const { ReclaimStore } = await import(${JSON.stringify(dist)});
      const store = new ReclaimStore(process.argv[1], "127.0.0.1:5001", (t) => { console.error(t); process.exitCode = 1; });
      for (let i = 0; i < 15; i++) store.put(process.argv[2] + "-" + i, ("t" + process.argv[2] + i).padEnd(32, "x"));
      await store.flushed();`;
    const { spawn } = await import("node:child_process");
    const runs = ["a", "b", "c", "d", "e"].map(
      (who) =>
        new Promise<number | null>((resolve) => {
          const child = spawn(process.execPath, ["--input-type=module", "-e", script, file, who], {
            stdio: "inherit",
          });
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          child.on("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
          });
        }),
    );
    expect(await Promise.all(runs)).toEqual([0, 0, 0, 0, 0]);
    const { entries, problem } = await readReclaims(file);
    expect(problem).toBeUndefined();
    expect(entries.map((e) => e.nick).sort()).toEqual(
      ["a", "b", "c", "d", "e"].flatMap((who) => Array.from({ length: 15 }, (_, i) => `${who}-${i}`)).sort(),
    );
    expect(await readdir(path.dirname(file))).toEqual(["reclaim.json"]);
  }, 30_000);
});
