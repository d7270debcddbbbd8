import { describe, expect, expectTypeOf, it } from "vitest";
import { type ConnectionInfo, type PeerAddress, StreamRequestHandler, TCPServer } from "../src/index.js";

class MyServer extends TCPServer {
  readonly greeting = "hi";
}
class MyHandler extends StreamRequestHandler<string, MyServer> {
  override async handle() {
    await this.wfile.write(`${this.server.greeting}\n`);
  }
}

describe("types", () => {
  it("accepts a handler typed for its own server subclass without a cast", () => {
    const server = new MyServer({}, MyHandler);
    expect(server.Handler).toBe(MyHandler);
  });

  // Checked by `pnpm typecheck` (tsc over the tests): without typed events these parameters were `any`.
  it("types the arguments of the server's events", () => {
    const server = new MyServer({}, MyHandler);
    server.on("close", (info) => expectTypeOf(info).toEqualTypeOf<ConnectionInfo>());
    server.once("bytesIn", (info, bytes) => {
      expectTypeOf(info).toEqualTypeOf<ConnectionInfo>();
      expectTypeOf(bytes).toEqualTypeOf<number>();
    });
    server.on("refuse", (peer) => expectTypeOf(peer).toEqualTypeOf<PeerAddress>());
    server.on("error", (err, peer) => {
      expectTypeOf(err).toEqualTypeOf<unknown>();
      expectTypeOf(peer).toEqualTypeOf<PeerAddress | undefined>();
    });
    expect(server.listenerCount("close")).toBe(1);
  });
});
