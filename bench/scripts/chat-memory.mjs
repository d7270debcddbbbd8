#!/usr/bin/env node
// Memory per idle chat connection, in detail: the heap-used and RSS deltas per connection, and
// (with --snapshot) what the heap holds per connection by constructor, from two heap snapshots.
// `pnpm bench chat` gives the published row (RSS); this is the tool for finding where it goes.
//
//   pnpm build && node bench/scripts/chat-memory.mjs [netlab|echo|raw] [--clients N] [--snapshot]
//                                                    [--keep] [--spaces] [--smaps]
//
// The server runs in a child (node --expose-gc), the idle clients here; the child is asked for
// its memory after a GC before the clients connect and once every one has joined #lobby.
// heapUsed per connection is the steady figure (RSS moves by ±0.5 KiB between runs). --spaces
// splits the heap's growth by V8 space, --smaps the RSS by kind of mapping, --keep keeps the two
// snapshots. ANNOUNCE=N sets the chat server's maxAnnounceMembers (the join announcements to the
// first 500 clients are a storm of small writes: about 0.4 KiB of RSS per connection, no heap).
// Measured after the diet (5 000 clients): heapUsed 2.26 KiB (3.44 before), RSS 6.7–7.4 KiB
// (8.3–9.2 before); raw net 1.08 KiB and 4.3–4.7 KiB.
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(SELF, "../../..");

if (process.argv[2] === "--serve") await serve(process.argv[3]);
else await main();

async function main() {
  const args = process.argv.slice(2);
  const kind = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "netlab";
  const at = args.indexOf("--clients");
  const count = at === -1 ? 2_000 : Number(args[at + 1]);
  const wantsSnapshot = args.includes("--snapshot");
  const child = spawn(process.execPath, ["--expose-gc", SELF, "--serve", kind], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const { connectLocal, lineReader } = await import(bench("child.js"));
  const answers = lineReader(child, "the server child");
  // A heap snapshot of thousands of connections takes seconds to write.
  const ask = async (q) => {
    child.stdin.write(`${q}\n`);
    return JSON.parse(await answers.next(120_000));
  };
  const port = Number(await answers.next(10_000));
  const dir = tmpdir();
  const before = await ask("mem");
  if (args.includes("--smaps")) console.log("smaps before", await ask("smaps"));
  const snapBefore = wantsSnapshot
    ? await ask(`snap ${join(dir, `diet-before-${process.pid}.heapsnapshot`)}`)
    : "";
  const sockets = [];
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, () => connectLocal(port));
    sockets.push(...(await Promise.all(batch)));
  }
  const deadline = Date.now() + 60_000;
  while ((await ask("clients")) < count) {
    if (Date.now() > deadline) throw new Error(`the server never held ${count} clients`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const after = await ask("mem");
  if (args.includes("--smaps")) console.log("smaps after", await ask("smaps"));
  const snapAfter = wantsSnapshot
    ? await ask(`snap ${join(dir, `diet-after-${process.pid}.heapsnapshot`)}`)
    : "";
  const per = (k) => ((after[k] - before[k]) / count / 1024).toFixed(2);
  console.log(
    `${kind}: ${count} idle clients: rss ${per("rss")} KiB, heapUsed ${per("heapUsed")} KiB, heapTotal ${per("heapTotal")} KiB, external ${per("external")} KiB per connection`,
  );
  if (args.includes("--spaces")) {
    for (const name of Object.keys(after.spaces)) {
      console.log(`  ${name}: ${((after.spaces[name] - before.spaces[name]) / count / 1024).toFixed(2)} KiB`);
    }
  }
  for (const s of sockets) s.destroy();
  child.stdin.end();
  if (wantsSnapshot) {
    const a = tally(snapBefore);
    const b = tally(snapAfter);
    const rows = [];
    for (const [key, v] of b) {
      const u = a.get(key) ?? { count: 0, size: 0 };
      const dc = (v.count - u.count) / count;
      const ds = (v.size - u.size) / count;
      if (Math.abs(ds) >= 4 || Math.abs(dc) >= 0.5) rows.push([key, dc, ds]);
    }
    rows.sort((x, y) => y[2] - x[2]);
    let total = 0;
    for (const [, , ds] of rows) total += ds;
    console.log(
      `heap snapshot, per connection (self sizes; rows of ≥ 4 B or ≥ 0.5 objects): ${total.toFixed(0)} B`,
    );
    for (const [key, dc, ds] of rows)
      console.log(`${ds.toFixed(1).padStart(8)} B ${dc.toFixed(2).padStart(6)} × ${key}`);
    if (args.includes("--keep")) console.log(`snapshots: ${snapBefore} ${snapAfter}`);
    else {
      rmSync(snapBefore, { force: true });
      rmSync(snapAfter, { force: true });
    }
  }
}

/** Counts and self sizes of a heap snapshot's nodes, by type and name. */
function tally(path) {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf("type");
  const iName = fields.indexOf("name");
  const iSize = fields.indexOf("self_size");
  const { nodes, strings } = snap;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]];
    let name =
      type === "string" || type === "concatenated string" || type === "sliced string"
        ? ""
        : strings[nodes[i + iName]];
    if (type === "code" || type === "array" || type === "hidden") name = name.slice(0, 40);
    if (type === "closure") name = `${name}()`;
    const key = `${type}:${name}`;
    const t = out.get(key);
    if (t) {
      t.count++;
      t.size += nodes[i + iSize];
    } else out.set(key, { count: 1, size: nodes[i + iSize] });
  }
  return out;
}

async function serve(kind) {
  const { listenIdleServer } = await import(bench("suites/chat.js"));
  const { answerStdin } = await import(bench("child.js"));
  const { port, clients } = await listenIdleServer(
    kind,
    process.env.ANNOUNCE ? { maxAnnounceMembers: Number(process.env.ANNOUNCE) } : {},
  );
  const { writeHeapSnapshot, getHeapSpaceStatistics } = await import("node:v8");
  process.stdout.write(`${port}\n`);
  answerStdin((q) => {
    if (q === "mem") {
      globalThis.gc();
      globalThis.gc();
      const m = process.memoryUsage();
      const spaces = Object.fromEntries(getHeapSpaceStatistics().map((sp) => [sp.space_name, sp.space_size]));
      return JSON.stringify({
        rss: m.rss,
        heapUsed: m.heapUsed,
        heapTotal: m.heapTotal,
        external: m.external,
        spaces,
      });
    }
    if (q === "smaps") {
      // Resident KiB by kind of mapping: the brk heap (malloc's main arena), mappings of 64 MiB
      // reserved (other threads' malloc arenas), and the rest (V8's pages, stacks, code).
      const out = { brk: 0, arenas: 0, other: 0 };
      let kind = "other";
      for (const l of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(l);
        if (m) {
          const size = (Number.parseInt(m[2], 16) - Number.parseInt(m[1], 16)) / 1024;
          kind =
            m[3] === "[heap]"
              ? "brk"
              : m[3] === "" && size >= 60 * 1024 && size <= 64 * 1024
                ? "arenas"
                : "other";
        } else if (l.startsWith("Rss:")) out[kind] += Number(l.split(/\s+/)[1]);
      }
      return JSON.stringify(out);
    }
    if (q === "clients") return String(clients());
    if (q.startsWith("snap ")) {
      globalThis.gc();
      return JSON.stringify(writeHeapSnapshot(q.slice(5)));
    }
    return undefined;
  });
}

/** The file:// URL of a module of bench/dist (the bench's own build, by `pnpm build`). */
function bench(path) {
  return pathToFileURL(join(ROOT, "bench/dist", path)).href;
}
