import net from "node:net";
import { describe, expect, it, onTestFinished } from "vitest";
import { type ConnectionInfo, type NetworkError, StreamRequestHandler } from "../src/index.js";
import { LineClient, serve, within } from "./helpers.js";

const line = (text: string) => Buffer.from(`${text}\n`);

async function readLines(client: LineClient, n: number): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = [];
  for (let i = 0; i < n; i++) out.push(await client.readLine(5_000));
  return out;
}

describe("wfile.send()", () => {
  it("#14: queues a turn's frames, sends them in order, and counts each (framesOut, frameOut, bytesOut)", async () => {
    class Burst extends StreamRequestHandler {
      override async handle() {
        for await (const text of this.rfile) {
          for (const part of text.split(" ")) this.wfile.send(line(part));
          // A write after sends goes after them.
          await this.wfile.write("end\n");
        }
      }
    }
    const { server, port } = await serve(Burst);
    const frames: string[] = [];
    let bytesOut = 0;
    server.on("frameOut", (_: ConnectionInfo, frame: Uint8Array | string) => frames.push(String(frame)));
    server.on("bytesOut", (_: ConnectionInfo, n: number) => {
      bytesOut += n;
    });
    const closed = new Promise<ConnectionInfo>((resolve) => server.once("close", resolve));
    const client = await LineClient.open(port);
    client.send("a bb ccc");
    expect(await within(readLines(client, 4), 2_000, "4 lines")).toEqual(["a", "bb", "ccc", "end"]);
    client.socket.end();
    const info = await within(closed, 2_000, "close");
    expect(frames).toEqual(["a\n", "bb\n", "ccc\n", "end\n"]);
    expect(bytesOut).toBe(13);
    expect(info.framesOut).toBe(4);
  });

  it("#14: cuts a peer that stopped reading before its queue passes maxQueuedBytes", async () => {
    const maxQueuedBytes = 256 * 1024;
    let peak = 0;
    let told: number | undefined;
    let reason: unknown;
    let ended: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    class Flood extends StreamRequestHandler {
      override maxQueuedBytes = maxQueuedBytes;
      protected override onSlowConsumer(queuedBytes: number) {
        told = queuedBytes;
      }
      override async handle() {
        const chunk = Buffer.alloc(16 * 1024, 0x78);
        // 1 MiB a turn, at most 256 MiB: far past what loopback's buffers hold.
        for (let turn = 0; turn < 256 && !this.signal.aborted; turn++) {
          for (let i = 0; i < 64; i++) {
            if (!this.wfile.send(chunk)) break;
            peak = Math.max(peak, this.wfile.bufferedBytes);
          }
          await new Promise((resolve) => setImmediate(resolve));
        }
        reason = this.signal.reason;
        ended();
      }
    }
    const { port } = await serve(Flood);
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => {});
    socket.pause();
    onTestFinished(() => {
      socket.destroy();
    });
    await within(done, 10_000, "the handler ends");
    expect(told).toBeGreaterThan(maxQueuedBytes);
    expect(peak).toBeLessThanOrEqual(maxQueuedBytes);
    expect((reason as NetworkError).code).toBe("SLOW_CONSUMER");
  });

  it("#14: hands a burst bigger than maxQueuedBytes to the kernel early, so a peer that reads is not cut", async () => {
    let isCut = false;
    class Burst extends StreamRequestHandler {
      override maxQueuedBytes = 16 * 1024;
      protected override onSlowConsumer() {
        isCut = true;
      }
      override async handle() {
        await this.rfile.readFrame();
        // 100 KiB in one turn: six times the cap.
        for (let i = 0; i < 100; i++) this.wfile.send(line(`${i} ${"y".repeat(1_000)}`));
        await this.rfile.readFrame();
      }
    }
    const { port } = await serve(Burst);
    const client = await LineClient.open(port);
    client.send("go");
    const got = await within(readLines(client, 100), 5_000, "100 lines");
    expect(got.map((l) => l?.split(" ")[0])).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(isCut).toBe(false);
  });
});
