/**
 * A StreamRequestHandler that streams a file: the client asks for it by name on one line, the
 * handler sends the bytes with `await wfile.write(chunk)` — which waits whenever the socket's
 * buffer is full, so a slow client never makes the server buffer the whole file — and then
 * `wfile.end()`. The client checks the SHA-256.
 * Run: lab examples run file-sender
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { connect, StreamRequestHandler, TCPServer } from "@netlab/socketserver";

const SIZE = 4 * 1024 * 1024;
const dir = await mkdtemp(join(tmpdir(), "netlab-file-sender-"));
const file = join(dir, "data.bin");
const content = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) content[i] = (i * 31 + (i >> 10)) & 0xff;
await writeFile(file, content);
const expected = createHash("sha256").update(content).digest("hex");

let largestBuffered = 0;
let waitsForDrain = 0;

/** `GET name` → the file's bytes, then EOF. Unknown names get one ERR line. */
class FileSender extends StreamRequestHandler {
  override async handle(): Promise<void> {
    const request = await this.rfile.readFrame();
    if (request !== `GET ${basename(file)}`) {
      await this.wfile.end(`ERR no such file\n`);
      return;
    }
    for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 })) {
      // Past the socket's high-water mark, write() waits for 'drain' before resolving.
      if (this.wfile.bufferedBytes + chunk.length >= this.request.writableHighWaterMark) waitsForDrain++;
      await this.wfile.write(chunk as Buffer);
      largestBuffered = Math.max(largestBuffered, this.wfile.bufferedBytes);
    }
    await this.wfile.end();
  }
}

const server = new TCPServer({ port: 0 }, FileSender);
await server.listen();
const serving = server.serveForever();

const socket = await connect({ port: server.address.port });
const hash = createHash("sha256");
let received = 0;
let slowStart = 8; // the first chunks are read slowly, so the server has to wait for drain
socket.on("data", (chunk: Buffer) => {
  hash.update(chunk);
  received += chunk.length;
  if (slowStart-- > 0) {
    socket.pause();
    setTimeout(() => socket.resume(), 20);
  }
});
const done = new Promise<void>((resolve) => socket.once("end", () => resolve()));
socket.write(`GET ${basename(file)}\n`);
await done;
socket.end();

console.log(`client: received ${received} bytes of ${SIZE}`);
console.log(`client: sha256 matches: ${hash.digest("hex") === expected ? "yes" : "NO"}`);
console.log(`server: send buffer stayed under 1 MiB: ${largestBuffered < 1024 * 1024 ? "yes" : "no"}`);
console.log(`server: writes waited for drain: ${waitsForDrain > 0 ? "yes" : "no"}`);
await server.shutdown();
await serving;
await rm(dir, { recursive: true, force: true });
