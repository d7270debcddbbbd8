import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { connectionsOf, readSession } from "../../packages/watch/src/index.js";
import { runLab, runProcess, startServer } from "../helpers/lab.js";

const hasTshark = spawnSync("sh", ["-c", "command -v tshark"]).status === 0;

/** Sends `chunks` one after another, each once the echo of the one before is back, then ends. */
async function echoSession(port: number, chunks: Buffer[]): Promise<Buffer> {
  const socket = net.connect({ host: "127.0.0.1", port });
  onTestFinished(() => {
    socket.destroy();
  });
  const got: Buffer[] = [];
  let gotBytes = 0;
  let waiter: (() => void) | undefined;
  socket.on("data", (b: Buffer) => {
    got.push(b);
    gotBytes += b.length;
    waiter?.();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  let sent = 0;
  for (const chunk of chunks) {
    socket.write(chunk);
    sent += chunk.length;
    await new Promise<void>((resolve) => {
      waiter = () => {
        if (gotBytes >= sent) resolve();
      };
      waiter();
    });
  }
  socket.end();
  await closed;
  return Buffer.concat(got);
}

interface Followed {
  /** The side that sent the SYN: the client. */
  node0: string;
  client: Buffer;
  server: Buffer;
}

/** `tshark -q -z follow,tcp,raw,N …`: each stream's client (node 0) and server bytes, by stream index. */
function parseFollowRaw(text: string): Map<number, Followed> {
  const streams = new Map<number, Followed>();
  for (const block of text.split(/^Follow: tcp,raw$/m).slice(1)) {
    const index = Number(/Filter: tcp\.stream eq (\d+)/.exec(block)?.[1]);
    const node0 = /Node 0: (\S+)/.exec(block)?.[1] ?? "";
    const client: Buffer[] = [];
    const server: Buffer[] = [];
    for (const line of (block.split(/^Node 1: .*$/m)[1] ?? "").split("\n")) {
      const hex = line.trim();
      if (!/^[0-9a-f]+$/.test(hex)) continue;
      // Node 1's payloads are indented with a tab; node 0's are not.
      (line.startsWith("\t") ? server : client).push(Buffer.from(hex, "hex"));
    }
    streams.set(index, { node0, client: Buffer.concat(client), server: Buffer.concat(server) });
  }
  return streams;
}

describe("pcap export read by tshark", () => {
  it("#19: tshark follow,tcp,raw gives back each recorded connection's bytes exactly, every checksum good", async (ctx) => {
    if (!hasTshark) {
      ctx.skip(
        "tshark is not on PATH (apt package: tshark; DEBIAN_FRONTEND=noninteractive apt-get install -y tshark)",
      );
    }
    const dir = await mkdtemp(join(tmpdir(), "netlab-pcap-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const rec = join(dir, "echo.jsonl");
    const pcap = join(dir, "echo.pcap");
    const { lab: server, port } = await startServer(
      (p) => ["server", "--mode", "echo", "--port", String(p), "--record", rec],
      (p) => `listening on 127.0.0.1:${p}`,
    );
    // Two connections; one with a line longer than a segment (1460 B) so the export cuts it up.
    const long = Buffer.from(`${"0123456789abcdef".repeat(300)}\n`);
    const sent = [
      [Buffer.from("hello\n"), Buffer.from("bytes \x00\x01\xff as they are\n")],
      [Buffer.from("second\n"), long, Buffer.from("last\n")],
    ];
    const echoed: Buffer[] = [];
    for (const chunks of sent) echoed.push(await echoSession(port, chunks));
    expect(await server.stop("SIGINT")).toBe(0);
    const exported = await runLab(["session", "export", rec, "--pcap", pcap]);
    expect(exported.stderr).toContain(`wrote ${pcap}`);
    expect(exported.code).toBe(0);

    const connections = connectionsOf(await readSession(rec));
    expect(connections).toHaveLength(2);
    const follow = await runProcess(
      "tshark",
      ["-r", pcap, "-q", ...connections.flatMap((_, i) => ["-z", `follow,tcp,raw,${i}`])],
      { timeoutMs: 30_000 },
    );
    expect(follow.code, follow.stderr).toBe(0);
    const streams = parseFollowRaw(follow.stdout);
    for (const [i, conn] of connections.entries()) {
      // What the recording holds is what crossed the wire …
      expect(Buffer.concat(conn.fromClient)).toEqual(Buffer.concat(sent[i]!));
      expect(Buffer.concat(conn.fromServer)).toEqual(echoed[i]);
      // … and what tshark reassembles from the capture is the recording, byte for byte.
      const stream = streams.get(i);
      expect(stream?.node0).toBe(conn.client);
      expect(stream?.client.toString("hex")).toBe(Buffer.concat(conn.fromClient).toString("hex"));
      expect(stream?.server.toString("hex")).toBe(Buffer.concat(conn.fromServer).toString("hex"));
    }

    // tshark skips checksums unless told; status 1 is good (0 bad, 2 unverified), for every packet.
    const checked = await runProcess(
      "tshark",
      [
        "-r",
        pcap,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "ip.checksum.status",
        "-e",
        "tcp.checksum.status",
      ],
      { timeoutMs: 30_000 },
    );
    expect(checked.code, checked.stderr).toBe(0);
    const rows = checked.stdout.trimEnd().split("\n");
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((r) => r !== "1\t1")).toEqual([]);
  }, 60_000);
});
