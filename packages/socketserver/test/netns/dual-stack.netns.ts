// Binds `::` (every interface): run only inside a network namespace of its own, by
// address.test.ts › "on :: (dual-stack and ipv6Only), in a network namespace of its own".
import { networkInterfaces } from "node:os";
import { formatPeer } from "@netlab/core";
import { beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { connect, EchoHandler, type NetworkError, type PeerAddress, TCPServer } from "../../src/index.js";
import { LineClient, within } from "../helpers.js";

beforeAll(() => {
  // A namespace of its own has nothing but its loopback: anything else is a real network.
  const others = Object.keys(networkInterfaces()).filter((name) => name !== "lo");
  if (others.length > 0) {
    throw new Error(
      `these tests bind :: and must not run on a real network (interfaces here: ${others.join(", ")}); run packages/socketserver/test/address.test.ts, which starts them under unshare -rn`,
    );
  }
});

async function started(server: TCPServer): Promise<void> {
  onTestFinished(() => server.shutdown());
  await server.listen();
  void server.serveForever();
}

function peers(server: TCPServer): PeerAddress[] {
  const seen: PeerAddress[] = [];
  server.on("open", (info: { peer: PeerAddress }) => seen.push(info.peer));
  return seen;
}

async function roundTrip(host: string, port: number, line: string): Promise<string | undefined> {
  const socket = await connect({ host, port });
  const client = LineClient.fromSocket(socket);
  client.send(line);
  const reply = await within(client.readLine(), 5_000, "reply");
  socket.destroy();
  return reply;
}

describe("a TCPServer on ::", () => {
  it("is dual-stack; an IPv4 peer arrives IPv4-mapped, which the formatter unmaps", async () => {
    const server = new TCPServer({ host: "::", port: 0 }, EchoHandler);
    const seen = peers(server);
    await started(server);
    const port = server.address.port;
    expect(await roundTrip("127.0.0.1", port, "v4")).toBe("v4");
    expect(seen[0]).toMatchObject({ address: "::ffff:127.0.0.1", family: "IPv6" });
    expect(formatPeer(seen[0]!)).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await roundTrip("::1", port, "v6")).toBe("v6");
  });

  it("with ipv6Only refuses IPv4 clients and serves IPv6 ones", async () => {
    const server = new TCPServer({ host: "::", port: 0, ipv6Only: true }, EchoHandler);
    await started(server);
    const port = server.address.port;
    const err = await connect({ host: "127.0.0.1", port, timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect((err as NetworkError).code).toBe("CONNECTION_REFUSED");
    expect(await roundTrip("::1", port, "v6")).toBe("v6");
  });
});
