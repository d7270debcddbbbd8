/**
 * A handler of your own: each line comes back upper-cased. Two clients at once, each with its own
 * handler instance (per-connection state lives on `this`), counted with the server's events.
 * Run: lab examples run upper-server
 */
import { type ConnectionInfo, connect, StreamRequestHandler, TCPServer } from "@netlab/socketserver";

/** Upper-cases each line and numbers it: the count is per connection. */
class Upper extends StreamRequestHandler {
  #count = 0;

  override async handle(): Promise<void> {
    for await (const line of this.rfile) {
      this.#count++;
      await this.wfile.write(`${this.#count}: ${line.toUpperCase()}\n`);
    }
  }
}

const server = new TCPServer({ port: 0 }, Upper);
let opened = 0;
server.on("open", () => opened++);
const closedInfos: ConnectionInfo[] = [];
server.on("close", (info: ConnectionInfo) => closedInfos.push(info));
await server.listen();
const serving = server.serveForever();

/** Sends lines, half-closes, and returns the reply lines. */
async function talk(lines: string[]): Promise<string[]> {
  const socket = await connect({ port: server.address.port });
  socket.setEncoding("utf8");
  let text = "";
  socket.on("data", (d: string) => {
    text += d;
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.end(lines.map((l) => `${l}\n`).join(""));
  await closed;
  return text.split("\n").filter(Boolean);
}

const [alice, bob] = await Promise.all([
  talk(["hello", "how are you"]),
  talk(["shout it", "louder", "LOUDEST"]),
]);
for (const line of alice) console.log(`alice got: ${line}`);
for (const line of bob) console.log(`bob got:   ${line}`);

await server.shutdown();
await serving;
const bytes = closedInfos.reduce((n, info) => n + info.bytesIn, 0);
console.log(`server: ${opened} connections, ${bytes} bytes in, shut down`);
