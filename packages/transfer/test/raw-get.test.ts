import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { rawGet } from "../src/index.js";

/**
 * The way `nc -N -l PORT < file` ends: send everything, close without reading what the client
 * sent. With the client's greeting unread the kernel answers with a reset instead of a FIN.
 */
async function sendAndCloseUnread(bytes: Buffer): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    socket.pause(); // never read the greeting
    socket.write(bytes, () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

describe("rawGet from a server that closes without reading", () => {
  it("keeps every byte that arrived, however the close lands (reset or FIN)", {
    timeout: 20_000,
  }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "netlab-raw-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const payload = Buffer.alloc(256 * 1024, 7);
    // Whether the reset beats the greeting is a race: try it several times (bounded).
    for (let i = 0; i < 10; i++) {
      const out = path.join(dir, `out-${i}.bin`);
      const result = await rawGet({ port: await sendAndCloseUnread(payload), out });
      expect(result.bytes).toBe(payload.length);
      expect((await readFile(out)).equals(payload)).toBe(true);
    }
  });
});
