import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { HTTP_FILES } from "./profiles/http.js";
import { seeded } from "./random.js";

/** Size of the file netlab makes for `{file}`: not a multiple of any buffer size, so a lost last block shows. */
export const GENERATED_FILE_BYTES = 2 * 1024 * 1024 + 123;

/** `n` seeded bytes holding every value 0x00–0xff. */
export function seededBytes(seed: number, salt: string, n: number): Buffer {
  const random = seeded(seed, salt);
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = i < 256 ? i : Math.floor(random() * 256);
  return out;
}

/**
 * A temporary folder with what the transfer and http profiles need, made from the seed: `file.bin`
 * (for `{file}`) and `www/` holding `hello.txt` and `bytes.bin` (for `{dir}`).
 */
export async function makeInputs(seed: number): Promise<{ folder: string; file: string; dir: string }> {
  const folder = await mkdtemp(path.join(os.tmpdir(), "netlab-check-"));
  const file = path.join(folder, "file.bin");
  await writeFile(file, seededBytes(seed, "file", GENERATED_FILE_BYTES));
  const dir = path.join(folder, "www");
  await mkdir(dir);
  await writeFile(path.join(dir, HTTP_FILES.text), `hello from lab check (seed ${seed})\nsecond line\n`);
  await writeFile(path.join(dir, HTTP_FILES.binary), seededBytes(seed, "bytes", 4096));
  return { folder, file, dir };
}
