import dgram from "node:dgram";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type ConnectionInfo,
  DatagramRequestHandler,
  EchoHandler,
  ForkingTCPServer,
  ForkingUDPServer,
} from "../src/index.js";
import { LineClient, latch, within } from "./helpers.js";

const WORKER = fileURLToPath(new URL("./fixtures/fork-worker.mjs", import.meta.url));
const UDP_WORKER = fileURLToPath(new URL("./fixtures/fork-udp-worker.mjs", import.meta.url));

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("ForkingTCPServer", () => {
  it("serves from N worker processes sharing one port, and shutdown ends them all", async () => {
    const server = new ForkingTCPServer({ port: 0 }, EchoHandler);
    server.workers = 2;
    server.workerScript = WORKER;
    server.workerExecArgv = []; // not vitest's: the worker runs the built package
    onTestFinished(() => server.shutdown());
    expect(server.isWorker).toBe(false);
    await within(server.listen(), 20_000, "workers listening");
    const port = server.address.port;
    expect(port).toBeGreaterThan(0);
    const workers = server.workerPids;
    expect(workers).toHaveLength(2);

    // Eight CPU-heavy requests at once: the cluster hands connections out round-robin.
    const clients = await Promise.all(Array.from({ length: 8 }, () => LineClient.open(port)));
    for (const c of clients) c.send("30");
    const pids = await Promise.all(clients.map((c) => c.readLine(15_000)));
    expect(new Set(pids)).toEqual(new Set(workers.map(String)));
    expect(pids).not.toContain(String(process.pid));

    const start = Date.now();
    await within(server.shutdown(), 15_000, "shutdown");
    expect(Date.now() - start).toBeLessThan(3_000); // clients still connected: shutdown does not wait on them
    expect(server.state).toBe("closed");
    expect(server.workerPids).toEqual([]);
    for (const pid of workers) expect(isAlive(pid)).toBe(false);
  }, 40_000);

  it("the primary emits its workers' connection events, one info object per connection, ids unique", async () => {
    const server = new ForkingTCPServer({ port: 0 }, EchoHandler);
    server.workers = 2;
    server.workerScript = WORKER;
    server.workerExecArgv = [];
    onTestFinished(() => server.shutdown());
    const opened: ConnectionInfo[] = [];
    const closed: ConnectionInfo[] = [];
    const frames: Array<[number, unknown]> = [];
    const [allClosed, closedAll] = latch();
    server.on("open", (info: ConnectionInfo) => opened.push(info));
    server.on("frameIn", (info: ConnectionInfo, frame: unknown) => frames.push([info.id, frame]));
    server.on("close", (info: ConnectionInfo) => {
      closed.push(info);
      if (closed.length === 4) closedAll();
    });
    await within(server.listen(), 20_000, "workers listening");
    const clients = await Promise.all(Array.from({ length: 4 }, () => LineClient.open(server.address.port)));
    for (const c of clients) c.send("1");
    const pids = await Promise.all(clients.map((c) => c.readLine(10_000)));
    expect(new Set(pids).size).toBe(2); // both workers served, so ids from both had to be told apart
    for (const c of clients) c.socket.end();
    await within(allClosed, 10_000, "four close events");

    expect(opened).toHaveLength(4);
    expect(new Set(opened.map((i) => i.id)).size).toBe(4);
    expect(new Set(closed)).toEqual(new Set(opened)); // the same objects, updated in place
    for (const info of closed) {
      expect(info.framesIn).toBe(1);
      expect(info.bytesIn).toBe(2); // "1\n"
      expect(info.peer.address).toBe("127.0.0.1");
    }
    expect(frames.map(([, frame]) => frame)).toEqual(["1", "1", "1", "1"]);
    expect(new Set(frames.map(([id]) => id))).toEqual(new Set(opened.map((i) => i.id)));
  }, 40_000);

  it("rejects listen with the worker's error when the port is taken", async () => {
    const first = new ForkingTCPServer({ port: 0 }, EchoHandler);
    first.workers = 1;
    first.workerScript = WORKER;
    first.workerExecArgv = [];
    onTestFinished(() => first.shutdown());
    await within(first.listen(), 20_000, "first listening");
    const second = new ForkingTCPServer({ port: first.address.port }, EchoHandler);
    second.workers = 1;
    second.workerScript = WORKER;
    second.workerExecArgv = [];
    onTestFinished(() => second.shutdown());
    // The cluster shares a port between its own workers only; another primary gets EADDRINUSE.
    await expect(within(second.listen(), 20_000, "second listen")).rejects.toMatchObject({
      code: "ADDRESS_IN_USE",
    });
  }, 40_000);

  it("ForkingUDPServer: workers share one UDP port and every datagram is answered", async () => {
    const server = new ForkingUDPServer({ port: 0 }, DatagramRequestHandler);
    server.workers = 2;
    server.workerScript = UDP_WORKER;
    server.workerExecArgv = [];
    onTestFinished(() => server.shutdown());
    await within(server.listen(), 20_000, "workers listening");
    const client = dgram.createSocket("udp4");
    onTestFinished(() => {
      client.close();
    });
    const replies: string[] = [];
    const all = new Promise<void>((resolve) =>
      client.on("message", (m) => {
        replies.push(m.toString());
        if (replies.length === 20) resolve();
      }),
    );
    for (let i = 0; i < 20; i++) client.send(`m${i}`, server.address.port, "127.0.0.1");
    await within(all, 10_000, "20 replies");
    expect(replies.map((r) => r.split(" ")[1]).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `m${i}`).sort(),
    );
    const pids = new Set(replies.map((r) => r.split(" ")[0]));
    for (const pid of pids) expect(server.workerPids.map(String)).toContain(pid);
    await within(server.shutdown(), 15_000, "shutdown");
    expect(server.workerPids).toEqual([]);
  }, 40_000);

  it("replaces a worker that dies while serving", async () => {
    const server = new ForkingTCPServer({ port: 0 }, EchoHandler);
    server.workers = 2;
    server.workerScript = WORKER;
    server.workerExecArgv = [];
    onTestFinished(() => server.shutdown());
    await within(server.listen(), 20_000, "workers listening");
    const [victim] = server.workerPids;
    const replaced = new Promise((r) => server.once("workerExit", r));
    process.kill(victim!, "SIGKILL");
    await within(replaced, 10_000, "workerExit");
    for (let i = 0; i < 200 && server.workerPids.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(server.workerPids).toHaveLength(2);
    expect(server.workerPids).not.toContain(victim);
    const client = await LineClient.open(server.address.port);
    client.send("0");
    expect(server.workerPids).toContain(Number(await client.readLine(10_000)));
    // A replacement that is still starting up must not hold shutdown to its deadline.
    const start = Date.now();
    await within(server.shutdown(), 15_000, "shutdown");
    expect(Date.now() - start).toBeLessThan(3_000);
  }, 40_000);
});
