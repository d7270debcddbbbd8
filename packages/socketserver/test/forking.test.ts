import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { EchoHandler, ForkingTCPServer } from "../src/index.js";
import { LineClient, within } from "./helpers.js";

const WORKER = fileURLToPath(new URL("./fixtures/fork-worker.mjs", import.meta.url));

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
});
