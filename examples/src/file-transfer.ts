/**
 * A FileServer sharing a temporary folder, and a TransferClient that uploads a generated 3 MiB
 * file, lists the folder and downloads the file again. Both sides check SHA-256; the example
 * checks the copy byte for byte too, prints sizes and hashes, and removes the folder.
 * Run: lab examples run file-transfer
 */
import { createHash } from "node:crypto";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { FileServer, TransferClient } from "@netlab/transfer";

const work = await mkdtemp(path.join(os.tmpdir(), "netlab-example-"));
try {
  const shared = path.join(work, "shared");
  const local = path.join(work, "local");
  await mkdir(shared);
  await mkdir(local);

  // The same 3 MiB every run (a linear congruential generator), so the hash is the same too.
  const data = Buffer.allocUnsafe(3 * 1024 * 1024);
  let x = 42;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    data[i] = x >>> 24;
  }
  const original = path.join(local, "report.bin");
  await writeFile(original, data);
  const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
  console.log(`local:    report.bin, ${data.length} bytes, sha256 ${sha256(data).slice(0, 16)}…`);

  const server = new FileServer({ root: shared, host: "127.0.0.1", port: 0 });
  await server.listen();
  const serving = server.serveForever();
  console.log("server: sharing a temporary folder on 127.0.0.1 (a free port)");

  const client = await TransferClient.connect({ port: server.address.port });
  const up = await client.upload(original, { name: "inbox/report.bin" });
  console.log(
    `upload:   ${up.name}, ${up.bytes} bytes, sha256 ${up.sha256?.slice(0, 16)}… (checked by the server)`,
  );
  const { entries } = await client.list();
  for (const e of entries) console.log(`listing:  ${e.name} ${e.size} bytes`);
  const copy = path.join(local, "copy.bin");
  const down = await client.download("inbox/report.bin", copy);
  console.log(
    `download: ${down.name}, ${down.bytes} bytes, sha256 ${down.sha256?.slice(0, 16)}… (checked here)`,
  );
  await client.close();

  const same = sha256(await readFile(copy)) === sha256(data) && up.sha256 === down.sha256;
  console.log(`copy matches the original: ${same ? "yes" : "NO"}`);
  await server.shutdown();
  await serving;
  console.log("server: shut down");
  if (!same) process.exitCode = 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
const isGone = await access(work).then(
  () => false,
  () => true,
);
console.log(`temporary folder removed: ${isGone ? "yes" : "NO"}`);
