import dgram from "node:dgram";
import { describe, expect, it, onTestFinished } from "vitest";
import { DatagramRequestHandler, UDPServer } from "../src/index.js";
import { latch, serve, within } from "./helpers.js";

class Echo extends DatagramRequestHandler {
  override async handle() {
    await this.reply(this.packet);
  }
}

/** Sends `payloads` from one socket and collects as many replies. */
async function exchange(port: number, payloads: string[]): Promise<string[]> {
  const socket = dgram.createSocket("udp4");
  try {
    const replies: string[] = [];
    const all = new Promise<void>((resolve) => {
      socket.on("message", (msg) => {
        replies.push(msg.toString());
        if (replies.length === payloads.length) resolve();
      });
    });
    for (const p of payloads) socket.send(p, port, "127.0.0.1");
    await within(all, 5_000, "UDP replies");
    return replies.sort();
  } finally {
    socket.close();
  }
}

describe("UDPServer", () => {
  it("runs one DatagramRequestHandler per datagram and replies to the sender", async () => {
    const { port, server } = await serve(Echo, {}, UDPServer);
    expect(server.address).toMatchObject({ host: "127.0.0.1", port });
    expect(await exchange(port, ["one", "two", "three"])).toEqual(["one", "three", "two"]);
  });

  it("emits open and close per datagram with its byte counts", async () => {
    const { port, server } = await serve(Echo, {}, UDPServer);
    const closed = new Promise<{ bytesIn: number; bytesOut: number }>((r) => server.once("close", r));
    await exchange(port, ["hello"]);
    expect(await within(closed, 5_000, "close")).toMatchObject({
      bytesIn: 5,
      bytesOut: 5,
      framesIn: 1,
      framesOut: 1,
    });
  });

  it("fails with ADDRESS_IN_USE when the port is bound", async () => {
    const { port } = await serve(Echo, {}, UDPServer);
    const second = new UDPServer({ port, allowReuseAddress: false }, Echo);
    await expect(second.listen()).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });

  it("does not share its port by default, as Python's UDPServer: a second one fails instead of taking the datagrams", async () => {
    const { port } = await serve(Echo, {}, UDPServer);
    const second = new UDPServer({ port }, Echo);
    onTestFinished(() => second.shutdown());
    await expect(second.listen()).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });

  it("shares its port when every server on it asks with allowReuseAddress: true", async () => {
    const { port } = await serve(Echo, { allowReuseAddress: true }, UDPServer);
    const second = new UDPServer({ port, allowReuseAddress: true }, Echo);
    onTestFinished(() => second.shutdown());
    await second.listen();
    expect(second.address.port).toBe(port);
  });

  it("drops datagrams beyond maxConnections handlers instead of answering them", async () => {
    const [gate, release] = latch();
    class Held extends DatagramRequestHandler {
      override async handle() {
        await gate;
        await this.reply(this.packet);
      }
    }
    const { port, server } = await serve(Held, { maxConnections: 1 }, UDPServer);
    const opened = new Promise((r) => server.once("open", r));
    const socket = dgram.createSocket("udp4");
    const replies: string[] = [];
    const got = new Promise<void>((r) =>
      socket.on("message", (m) => {
        replies.push(m.toString());
        r();
      }),
    );
    socket.send("first", port, "127.0.0.1");
    await within(opened, 5_000, "first handler");
    socket.send("second", port, "127.0.0.1");
    for (let i = 0; i < 200 && server.droppedDatagrams === 0; i++) await new Promise((r) => setTimeout(r, 5));
    release();
    await within(got, 5_000, "reply");
    socket.close();
    expect(replies).toEqual(["first"]);
    expect(server.droppedDatagrams).toBe(1);
  });

  it("runs sync setup → handle → finish in order, and frees each slot so maxConnections is not used up", async () => {
    const calls: string[] = [];
    class Sync extends DatagramRequestHandler {
      override setup() {
        calls.push(`setup ${this.packet}`);
      }
      override handle() {
        calls.push(`handle ${this.packet}`);
        this.reply(this.packet).catch(() => {});
      }
      override finish() {
        calls.push(`finish ${this.packet}`);
      }
    }
    const { port, server } = await serve(Sync, { maxConnections: 1 }, UDPServer);
    const socket = dgram.createSocket("udp4");
    try {
      for (const p of ["a", "b", "c"]) {
        const reply = new Promise<string>((r) => socket.once("message", (m) => r(m.toString())));
        socket.send(p, port, "127.0.0.1");
        expect(await within(reply, 5_000, `reply to ${p}`)).toBe(p);
      }
    } finally {
      socket.close();
    }
    expect(calls).toEqual(["a", "b", "c"].flatMap((p) => [`setup ${p}`, `handle ${p}`, `finish ${p}`]));
    expect(server.droppedDatagrams).toBe(0);
  });

  it("still asks an overridden verifyRequest, and drops what it refuses", async () => {
    class Picky extends UDPServer {
      override async verifyRequest() {
        await new Promise((r) => setImmediate(r));
        return this.droppedDatagrams > 0;
      }
    }
    const { port, server } = await serve(Echo, {}, Picky);
    const socket = dgram.createSocket("udp4");
    try {
      socket.send("refused", port, "127.0.0.1");
      for (let i = 0; i < 400 && server.droppedDatagrams === 0; i++)
        await new Promise((r) => setTimeout(r, 5));
      expect(server.droppedDatagrams).toBe(1);
      const reply = new Promise<string>((r) => socket.once("message", (m) => r(m.toString())));
      socket.send("served", port, "127.0.0.1");
      expect(await within(reply, 5_000, "reply")).toBe("served");
    } finally {
      socket.close();
    }
  });
});
