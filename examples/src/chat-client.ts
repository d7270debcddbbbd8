/**
 * A chat server and two ChatClients in one process: alice and bob join #lobby, talk, whisper,
 * and bob leaves. Each client's transcript is printed as `lab client` shows it, then the server
 * shuts down. Run: lab examples run chat-client
 */
import { ChatClient, type ChatEvent, ChatServer, type ChatClient as Client, formatEvent } from "@netlab/chat";

const server = new ChatServer({ host: "127.0.0.1", port: 0 });
const { port } = await server.listen();
console.log("server: listening on 127.0.0.1 (a free port)");

/** A client that keeps what it sees as text lines (pongs are its own `settle()` round trips). */
async function join(nick: string): Promise<{ client: Client; transcript: string[] }> {
  const client = new ChatClient({ port, nick });
  const transcript: string[] = [];
  client.on("event", (e: ChatEvent) => {
    if (e.type !== "pong") transcript.push(formatEvent(e, client.nick));
  });
  await client.connect();
  await client.settle(); // the server answers in order: welcome and join have arrived
  return { client, transcript };
}

/** Resolves when everything sent so far has been answered, on every client. */
async function settleAll(...clients: Client[]): Promise<void> {
  for (const c of clients) await c.settle();
}

const alice = await join("alice");
const bob = await join("bob");

alice.client.send("hi bob!");
await settleAll(alice.client, bob.client);
bob.client.send("hello alice");
bob.client.send("/me waves");
await settleAll(bob.client, alice.client);
alice.client.send("/msg bob psst, this one is just for you");
await settleAll(alice.client, bob.client);
alice.client.send("/who");
await settleAll(alice.client);

// bob leaves; alice hears about it.
const bobLeft = new Promise<void>((resolve) => {
  alice.client.on("event", (e: ChatEvent) => {
    if (e.type === "leave" && e.nick === "bob") resolve();
  });
});
const bobLines = bob.transcript.length; // his "bye" comes as he goes; not part of the talk
await bob.client.close();
await bobLeft;
const aliceLines = alice.transcript.length;
await alice.client.close();

for (const [nick, lines, count] of [
  ["alice", alice.transcript, aliceLines],
  ["bob", bob.transcript, bobLines],
] as const) {
  console.log(`--- ${nick} sees`);
  for (const line of lines.slice(0, count)) console.log(line);
}
const { messagesTotal } = server.stats();
await server.close();
console.log(`server: ${messagesTotal} room messages, shut down`);
