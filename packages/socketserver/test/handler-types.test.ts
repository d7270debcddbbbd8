import { describe, expect, it } from "vitest";
import { StreamRequestHandler, TCPServer } from "../src/index.js";

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
});
