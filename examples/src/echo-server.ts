/**
 * The classic first server: a TCPServer with EchoHandler (each line comes back), and a client
 * that talks to it over a real socket. Starts on a free port, prints what happened, shuts down.
 * Run: lab examples run echo-server
 */
import { connect, EchoHandler, TCPServer } from "@netlab/socketserver";

const server = new TCPServer({ host: "127.0.0.1", port: 0 }, EchoHandler);
await server.listen();
const serving = server.serveForever();
console.log("server: listening on 127.0.0.1 (a free port)");

const socket = await connect({ port: server.address.port });
socket.setEncoding("utf8");
let received = "";
socket.on("data", (text: string) => {
  received += text;
});
const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));

for (const line of ["hello", "is anyone there?", "bye"]) {
  console.log(`client: sends ${JSON.stringify(line)}`);
  socket.write(`${line}\n`);
}
socket.end(); // half-close: the server still answers, then sees end of input and closes
await closed;

for (const line of received.split("\n").filter(Boolean)) console.log(`client: got   ${JSON.stringify(line)}`);
await server.shutdown();
await serving;
console.log("server: shut down");
