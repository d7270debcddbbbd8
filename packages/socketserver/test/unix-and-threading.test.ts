import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  EchoHandler,
  StreamRequestHandler,
  ThreadingTCPServer,
  UnixStreamServer,
  UpperHandler,
} from "../src/index.js";
import { LineClient, within } from "./helpers.js";

function tempSocketPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "netlab-ss-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "s.sock");
}

async function openUnix(path: string): Promise<LineClient> {
  const socket = net.connect({ path });
  await within(new Promise((r, j) => socket.once("connect", r).once("error", j)), 5_000, "unix connect");
  return LineClient.fromSocket(socket);
}

describe("UnixStreamServer", () => {
  it("serves a handler on a socket path, with a unix peer address", async () => {
    const path = tempSocketPath();
    const families: string[] = [];
    class Upper extends UpperHandler {
      override setup() {
        families.push(this.clientAddress.family);
      }
    }
    const server = new UnixStreamServer({ path }, Upper);
    onTestFinished(() => server.shutdown());
    void server.serveForever();
    await within(new Promise((r) => server.once("listening", r)), 5_000, "listening");
    expect(server.address).toEqual({ host: path, port: 0, family: "unix" });
    const client = await openUnix(path);
    client.send("over a unix socket");
    expect(await client.readLine()).toBe("OVER A UNIX SOCKET");
    expect(families).toEqual(["unix"]);
    await server.shutdown();
    expect(existsSync(path)).toBe(false);
  });

  it("replaces a stale socket file but refuses a live one", async () => {
    const path = tempSocketPath();
    // A stale file: a server that bound the path and went away without unlinking.
    const stale = net.createServer();
    await new Promise<void>((r) => stale.listen(path, r));
    await new Promise<void>((r) => {
      // Close the handle without the unlink Node does on close.
      (stale as unknown as { _handle: { close(): void } })._handle.close();
      r();
    });
    const first = new UnixStreamServer({ path }, EchoHandler);
    onTestFinished(() => first.shutdown());
    await first.listen();
    const second = new UnixStreamServer({ path }, EchoHandler);
    await expect(second.listen()).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });
});

describe("ThreadingMixIn", () => {
  class Stubborn extends StreamRequestHandler {
    override async handle() {
      await this.rfile.readFrame();
      await new Promise((r) => setTimeout(r, 30_000).unref());
    }
  }

  async function busyServer(configure: (s: ThreadingTCPServer) => void) {
    const server = new ThreadingTCPServer({ port: 0, drainTimeoutMs: 400 }, Stubborn);
    configure(server);
    onTestFinished(() => server.shutdown());
    await server.listen();
    void server.serveForever();
    const framed = new Promise((r) => server.once("frameIn", r));
    const client = await LineClient.open(server.address.port);
    client.send("go");
    await within(framed, 5_000, "frame");
    return { server, client };
  }

  it("blockOnClose (default): shutdown waits for handlers up to the drain deadline", async () => {
    const { server } = await busyServer(() => {});
    expect(server.blockOnClose).toBe(true);
    const start = Date.now();
    await server.shutdown();
    expect(Date.now() - start).toBeGreaterThanOrEqual(350);
  });

  it("daemonThreads: shutdown destroys handlers at once", async () => {
    const { server, client } = await busyServer((s) => {
      s.daemonThreads = true;
    });
    const start = Date.now();
    await server.shutdown();
    expect(Date.now() - start).toBeLessThan(300);
    await within(client.closed, 2_000, "client closed");
  });

  it("blockOnClose false: shutdown resolves at once and handlers are destroyed at the deadline", async () => {
    const { server, client } = await busyServer((s) => {
      s.blockOnClose = false;
    });
    const start = Date.now();
    await server.shutdown();
    expect(Date.now() - start).toBeLessThan(300);
    expect(client.socket.destroyed).toBe(false);
    await within(client.closed, 3_000, "client closed at the deadline");
    expect(Date.now() - start).toBeGreaterThanOrEqual(350);
  });
});
