import { spawn } from "node:child_process";
import v8 from "node:v8";
import vm from "node:vm";
import { describe, expect, it, onTestFinished } from "vitest";
import { ChatServer } from "../src/index.js";

const CLIENTS = 1_000;
/**
 * Heap per idle joined connection, in bytes, above which the test fails: 1.5 × the 2.2–2.3 KiB that
 * bench/scripts/chat-memory.mjs measures (server alone in its process). Measured here, in the test
 * runner's process, it is ~2.6 KiB; before the diet (an async handle() loop, a promise and its
 * closures waiting on every idle connection) it was ~3.85 KiB here and 3.5 KiB in the script.
 */
const MAX_HEAP_BYTES_PER_CONNECTION = 1.5 * 2.3 * 1024;

// The clients live in a child, so that only the server's side counts here. It prints "ready"
// once every connection is open and holds them until its stdin closes.
const CLIENT_SCRIPT = `
const net = require("node:net");
const [port, count] = process.argv.slice(1).map(Number);
const sockets = [];
let open = 0;
for (let i = 0; i < count; i++) {
  const s = net.connect({ host: "127.0.0.1", port });
  s.on("connect", () => { if (++open === count) process.stdout.write("ready\\n"); });
  s.on("error", (err) => { process.stderr.write(String(err) + "\\n"); process.exit(1); });
  s.resume();
  sockets.push(s);
}
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
`;

/** V8's gc(), without starting the test runner with --expose-gc. */
function exposeGc(): () => void {
  v8.setFlagsFromString("--expose-gc");
  return vm.runInNewContext("gc") as () => void;
}

function heapUsedAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("memory per idle chat connection", () => {
  it(`stays under ${(MAX_HEAP_BYTES_PER_CONNECTION / 1024).toFixed(2)} KiB of heap with ${CLIENTS} idle clients in #lobby`, async () => {
    const gc = exposeGc();
    const server = new ChatServer({ port: 0, maxClients: CLIENTS + 10, helloGraceMs: 50 });
    const { port } = await server.listen();
    onTestFinished(() => server.close());
    const joined = () => server.rooms().find((r) => r.name === "#lobby")?.clients ?? 0;
    const before = heapUsedAfterGc(gc);

    const child = spawn(process.execPath, ["-e", CLIENT_SCRIPT, String(port), String(CLIENTS)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    onTestFinished(() => {
      child.kill();
    });
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code) => reject(new Error(`the client process exited (${code})`))),
    );
    const ready = new Promise<void>((resolve) =>
      child.stdout.on("data", (d: Buffer) => d.includes("ready") && resolve()),
    );
    await Promise.race([ready, exited]);
    // Every client joined #lobby (after the hello grace): waited for, bounded by the test timeout.
    while (joined() < CLIENTS) await Promise.race([new Promise((r) => server.once("join", r)), exited]);

    const perConnection = (heapUsedAfterGc(gc) - before) / CLIENTS;
    expect(server.stats().clients).toBe(CLIENTS);
    expect(perConnection).toBeLessThan(MAX_HEAP_BYTES_PER_CONNECTION);
  }, 30_000);
});
