import { describe, expect, it, onTestFinished } from "vitest";
import {
  StreamRequestHandler,
  type WireDataEvent,
  type WireLifecycleEvent,
  wireChannel,
  wireDataChannel,
} from "../src/index.js";
import { LineClient, serve, within } from "./helpers.js";

class Echo extends StreamRequestHandler {
  override async handle() {
    for await (const text of this.rfile) await this.wfile.write(`${text}\n`);
  }
}

function subscribe<E>(channel: typeof wireChannel): E[] {
  const seen: E[] = [];
  const handler = (e: unknown) => seen.push(e as E);
  channel.subscribe(handler);
  onTestFinished(() => {
    channel.unsubscribe(handler);
  });
  return seen;
}

describe("the wire tap", () => {
  it("#19: lifecycle subscribers alone get open and close with exact byte counts, and no chunk is published", async () => {
    const { port } = await serve(Echo);
    const life = subscribe<WireLifecycleEvent>(wireChannel);
    const serverClosed = new Promise<void>((resolve) => {
      const onClose = (e: unknown) => {
        const event = e as WireLifecycleEvent;
        if (event.type === "close" && event.conn.side === "server") resolve();
      };
      wireChannel.subscribe(onClose);
      onTestFinished(() => {
        wireChannel.unsubscribe(onClose);
      });
    });
    expect(wireDataChannel.hasSubscribers).toBe(false);
    const client = await LineClient.open(port);
    client.send("hello");
    expect(await within(client.readLine(5_000), 5_000, "echo")).toBe("hello");
    client.socket.end();
    await within(client.closed, 5_000, "close");
    await within(serverClosed, 5_000, "server close event");
    const open = life.find((e) => e.type === "open" && e.conn.side === "server");
    const close = life.find((e) => e.type === "close" && e.conn.side === "server");
    expect(open).toBeDefined();
    expect(close).toMatchObject({ reason: "fin", conn: { bytesIn: 6, bytesOut: 6 } });
  });

  it("#19: data subscribers get every chunk both ways, with its offset", async () => {
    const { port } = await serve(Echo);
    subscribe<WireLifecycleEvent>(wireChannel);
    const data = subscribe<WireDataEvent>(wireDataChannel);
    const client = await LineClient.open(port);
    client.send("ab");
    expect(await within(client.readLine(5_000), 5_000, "echo")).toBe("ab");
    client.send("cd");
    expect(await within(client.readLine(5_000), 5_000, "echo")).toBe("cd");
    const server = data.filter((e) => e.conn.side === "server");
    expect(server.map((e) => [e.direction, Buffer.from(e.bytes).toString(), e.offset])).toEqual([
      ["in", "ab\n", 0],
      ["out", "ab\n", 0],
      ["in", "cd\n", 3],
      ["out", "cd\n", 3],
    ]);
  });
});
