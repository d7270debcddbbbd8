import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, onTestFinished } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { startServer } from "./lab.js";

/** A fresh folder under the system temp dir, removed when the test finishes. */
export async function watchTempDir(prefix = "netlab-watch-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** `lab server` (chat) on a free port, with `extra` flags. */
export const chatServer = (extra: string[] = []) =>
  startServer(
    (p) => ["server", "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p}`,
  );

/** Every line of a JSON-lines file, parsed; the file must end with a newline (cleanly closed). */
export async function jsonLines(path: string): Promise<unknown[]> {
  const text = await readFile(path, "utf8");
  expect(text.endsWith("\n"), `${path} ends with a newline`).toBe(true);
  return text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l));
}

/** The bytes a `--hexdump` file shows, read back from its hex columns (`OFFSET  hh hh …`). */
export async function hexdumpBytes(path: string): Promise<Buffer> {
  return Buffer.from(
    (await readFile(path, "utf8"))
      .split("\n")
      .filter((l) => /^[0-9a-f]{8} {2}/.test(l))
      .map((l) => l.slice(10, 59).replace(/ /g, ""))
      .join(""),
    "hex",
  );
}

/**
 * A two-client chat on `port` with plain-text clients, as nc: a says hello, b joins and is renamed
 * bob, a waves, b leaves and then a; resolves once both connections are closed.
 */
export async function twoClientChat(port: number): Promise<void> {
  const a = await lineClient(port);
  await a.waitFor(/welcome/);
  a.send("hello from a");
  const b = await lineClient(port);
  await a.waitFor(/guest-2 joined/);
  b.send("/nick bob");
  await a.waitFor(/now known as bob/);
  a.send("/me waves");
  await b.waitFor(/waves/);
  b.socket.end();
  await b.closed;
  await a.waitFor(/bob left/);
  a.socket.end();
  await a.closed;
}
