// File helpers the transfer end-to-end tests share: deterministic content, hashes, and waiting
// for a transfer to be under way.
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, open, readdir, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** Writes `size` deterministic bytes (an AES-CTR keystream of `seed`) in 1 MiB blocks; returns their SHA-256. */
export async function makeFile(file: string, size: number, seed = 1): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const key = createHash("sha256").update(`seed ${seed}`).digest();
  const cipher = createCipheriv("aes-256-ctr", key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1024 * 1024);
  const hash = createHash("sha256");
  const fh = await open(file, "w");
  try {
    for (let at = 0; at < size; at += zeros.length) {
      const block = cipher.update(zeros.subarray(0, Math.min(zeros.length, size - at)));
      hash.update(block);
      await fh.write(block);
    }
  } finally {
    await fh.close();
  }
  return hash.digest("hex");
}

/** The SHA-256 of a file, read in 1 MiB pieces (some are hundreds of MiB). */
export async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk);
  return hash.digest("hex");
}

/** Every regular file under `root`, as relative path → SHA-256 (symlinks and others left out). */
export async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const d of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!d.isFile()) continue;
    const full = path.join(d.parentPath, d.name);
    out[path.relative(root, full).split(path.sep).join("/")] = await sha256Of(full);
  }
  return out;
}

/** Polls until `file` holds at least `bytes` (bounded by `timeoutMs`): the transfer is under way. */
export async function waitForSize(file: string, bytes: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const size = await stat(file).then(
      (s) => s.size,
      () => -1,
    );
    if (size >= bytes) return;
    await sleep(10);
  }
  throw new Error(`${file} did not reach ${bytes} bytes within ${timeoutMs} ms`);
}

/** A fresh temporary folder holding `shared` (what `lab files` serves) and `local` (the client's side). */
export async function transferDirs(prefix: string): Promise<{ dir: string; shared: string; local: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const shared = path.join(dir, "shared");
  const local = path.join(dir, "local");
  await mkdir(shared);
  await mkdir(local);
  return { dir, shared, local };
}
