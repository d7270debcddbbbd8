/**
 * UDP with a DatagramRequestHandler: one handler per datagram, `this.packet` in, `this.reply()`
 * out. No connection: each datagram stands alone, and the client matches replies itself.
 * Run: lab examples run udp-echo
 */
import dgram from "node:dgram";
import { DatagramRequestHandler, UDPServer } from "@netlab/socketserver";

/** Sends each datagram back to its sender. */
class Echo extends DatagramRequestHandler {
  override async handle(): Promise<void> {
    await this.reply(this.packet);
  }
}

const server = new UDPServer({ host: "127.0.0.1", port: 0 }, Echo);
await server.listen();
const serving = server.serveForever();

const client = dgram.createSocket("udp4");
const messages = ["ping 1", "ping 2", "ping 3"];
const replies = new Promise<string[]>((resolve, reject) => {
  const got: string[] = [];
  const timer = setTimeout(() => reject(new Error("no reply within 5 s")), 5_000);
  client.on("message", (msg) => {
    got.push(msg.toString());
    if (got.length === messages.length) {
      clearTimeout(timer);
      resolve(got);
    }
  });
});
for (const m of messages) {
  console.log(`client: sends ${JSON.stringify(m)}`);
  client.send(m, server.address.port, "127.0.0.1");
}
for (const r of (await replies).sort()) console.log(`client: got   ${JSON.stringify(r)}`);
client.close();
await server.shutdown();
await serving;
console.log("server: shut down");
