import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import Module, { createRequire } from "node:module";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  DatagramRequestHandler,
  ForkingMixIn,
  type HandlerClass,
  NetworkError,
  type PeerAddress,
  ThreadingUnixDatagramServer,
  UnixDatagramServer,
} from "../src/index.js";
import { latch, within } from "./helpers.js";

/** node-unix-socket, the client side of these tests too; undefined where it has no binary. */
type DgramSocketClass = typeof import("node-unix-socket").DgramSocket;
const DgramSocket = ((): DgramSocketClass | undefined => {
  try {
    return (createRequire(import.meta.url)("node-unix-socket") as typeof import("node-unix-socket"))
      .DgramSocket;
  } catch {
    return undefined;
  }
})();
/** The only platform the registry has binaries for, and CI's: there, a missing binary is a failure, not a skip. */
const isBinaryExpected = process.platform === "linux" && process.arch === "x64";
const hasPython = spawnSync("python3", ["--version"]).status === 0;

class Echo extends DatagramRequestHandler {
  override async handle() {
    await this.reply(this.packet);
  }
}

class Upper extends DatagramRequestHandler {
  override async handle() {
    await this.reply(this.packet.toString().toUpperCase());
  }
}

/** A fresh directory under os.tmpdir(), removed when the test finishes. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "netlab-udg-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A UnixDatagramServer at `dir/server.sock`, listening and serving; shut down when the test finishes. */
async function serveAt<S extends UnixDatagramServer>(
  dir: string,
  Handler: HandlerClass,
  Server: new (...args: ConstructorParameters<typeof UnixDatagramServer>) => S = UnixDatagramServer as never,
  options: { maxConnections?: number } = {},
): Promise<S> {
  const server = new Server({ path: join(dir, "server.sock"), ...options }, Handler);
  onTestFinished(() => server.shutdown());
  await server.listen();
  void server.serveForever();
  return server;
}

/** A node-unix-socket client bound to `dir/name` (unbound when name is undefined); closed when the test finishes. */
function client(dir: string, name: string | undefined) {
  const socket = new DgramSocket!();
  const path = name === undefined ? "" : join(dir, name);
  if (path) socket.bind(path);
  onTestFinished(() => socket.close());
  const inbox: string[] = [];
  let wake: (() => void) | undefined;
  socket.on("data", (packet: Buffer) => {
    inbox.push(packet.toString());
    wake?.();
  });
  return {
    path,
    send(text: string, to: string): Promise<void> {
      const bytes = Buffer.from(text);
      return new Promise((resolve, reject) =>
        socket.sendTo(bytes, 0, bytes.length, to, (err) => (err ? reject(err) : resolve())),
      );
    },
    /** The next datagram received, or a rejection after `ms`. */
    async next(ms = 5_000): Promise<string> {
      const deadline = Date.now() + ms;
      while (inbox.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for a datagram at ${path}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return inbox.shift()!;
    },
    get received(): readonly string[] {
      return inbox;
    },
  };
}

/** Leaves a socket file at `path` that nobody is bound to (node-unix-socket does not unlink on close). */
function staleSocketFile(path: string): void {
  const socket = new DgramSocket!();
  socket.bind(path);
  socket.close();
}

async function waitUntil(condition: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("node-unix-socket", () => {
  it.runIf(isBinaryExpected)("loads on linux-x64, where the registry has its binary (CI's platform)", () => {
    expect(DgramSocket).toBeTypeOf("function");
  });
});

describe.skipIf(!DgramSocket)("UnixDatagramServer", () => {
  it("#3: echoes a datagram back to a bound client's path", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const server = await serveAt(dir, Echo);
    expect(server.address).toEqual({ host: join(dir, "server.sock"), port: 0, family: "unix" });
    expect(server.socket?.address()).toBe(join(dir, "server.sock"));
    const c = client(dir, "c.sock");
    await c.send("hello over AF_UNIX", server.address.host);
    expect(await c.next()).toBe("hello over AF_UNIX");
  });

  it("gives the handler the sender's bound path as a unix clientAddress", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const peers: PeerAddress[] = [];
    class Seen extends Upper {
      override setup() {
        peers.push(this.clientAddress);
      }
    }
    const server = await serveAt(dir, Seen);
    const c = client(dir, "peer.sock");
    const closed = new Promise<{ bytesIn: number; bytesOut: number }>((r) => server.once("close", r));
    await c.send("who am i", server.address.host);
    expect(await c.next()).toBe("WHO AM I");
    expect(peers).toEqual([{ address: c.path, port: 0, family: "unix" }]);
    expect(await within(closed, 5_000, "close")).toMatchObject({
      bytesIn: 8,
      bytesOut: 8,
      framesIn: 1,
      framesOut: 1,
    });
  });

  it("answers several clients, each at its own path", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const server = await serveAt(dir, Upper);
    const clients = ["a", "b", "c", "d"].map((name) => ({ name, c: client(dir, `${name}.sock`) }));
    await Promise.all(clients.map(({ name, c }) => c.send(`from ${name}`, server.address.host)));
    for (const { name, c } of clients) expect(await c.next()).toBe(`FROM ${name.toUpperCase()}`);
    for (const { c } of clients) expect(c.received).toEqual([]);
  });

  it("drops datagrams beyond maxConnections handlers instead of answering them", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const [gate, release] = latch();
    class Held extends DatagramRequestHandler {
      override async handle() {
        await gate;
        await this.reply(this.packet);
      }
    }
    const server = await serveAt(dir, Held, UnixDatagramServer, { maxConnections: 1 });
    const opened = new Promise((r) => server.once("open", r));
    const c = client(dir, "c.sock");
    await c.send("first", server.address.host);
    await within(opened, 5_000, "first handler");
    await c.send("second", server.address.host);
    await waitUntil(() => server.droppedDatagrams === 1, "the second datagram dropped");
    release();
    expect(await c.next()).toBe("first");
    await expect(c.next(200)).rejects.toThrow(/timed out/);
    expect(server.droppedDatagrams).toBe(1);
  });

  it("replaces a stale socket file that nobody is bound to", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    staleSocketFile(join(dir, "server.sock"));
    expect(existsSync(join(dir, "server.sock"))).toBe(true);
    const server = await serveAt(dir, Echo);
    const c = client(dir, "c.sock");
    await c.send("after a crash", server.address.host);
    expect(await c.next()).toBe("after a crash");
  });

  it("keeps a stale socket file with allowReuseAddress false: ADDRESS_IN_USE", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const path = join(dir, "server.sock");
    staleSocketFile(path);
    const server = new UnixDatagramServer({ path, allowReuseAddress: false }, Echo);
    onTestFinished(() => server.shutdown());
    await expect(server.listen()).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });

  it("refuses a path a live server is bound to with one line and a hint, and leaves that server serving", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const first = await serveAt(dir, Echo);
    const served: string[] = [];
    first.on("open", (info: { peer: PeerAddress }) => served.push(info.peer.address));
    const second = new UnixDatagramServer({ path: first.address.host }, Echo);
    onTestFinished(() => second.shutdown());
    const err = await second.listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "ADDRESS_IN_USE",
      message: `socket unix:${first.address.host} is already in use`,
      hint: "stop the other server or choose another path",
      errno: "EADDRINUSE",
    });
    // The probe sent nothing to the live server, and it still answers.
    expect(served).toEqual([]);
    const c = client(dir, "c.sock");
    await c.send("still here", first.address.host);
    expect(await c.next()).toBe("still here");
  });

  it("refuses a path a live UnixStreamServer-style listener holds", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const path = join(dir, "server.sock");
    const stream = net.createServer();
    await new Promise<void>((r) => stream.listen(path, r));
    onTestFinished(() => new Promise<void>((r) => stream.close(() => r())));
    const server = new UnixDatagramServer({ path }, Echo);
    onTestFinished(() => server.shutdown());
    await expect(server.listen()).rejects.toMatchObject({ code: "ADDRESS_IN_USE" });
  });

  it("says which directory is missing when the path's directory does not exist", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const server = new UnixDatagramServer({ path: join(dir, "nope", "s.sock") }, Echo);
    onTestFinished(() => server.shutdown());
    await expect(server.listen()).rejects.toMatchObject({
      code: "NO_SUCH_SOCKET",
      message: `cannot listen on ${join(dir, "nope", "s.sock")}: directory ${join(dir, "nope")} does not exist`,
      hint: "create the directory, or choose another path",
    });
  });

  it("rejects a path too long for a Unix socket with INVALID_OPTION", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const long = join(dir, "d".repeat(60));
    mkdirSync(long);
    const server = new UnixDatagramServer({ path: join(long, `${"s".repeat(60)}.sock`) }, Echo);
    onTestFinished(() => server.shutdown());
    await expect(server.listen()).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });

  it("removes its socket file on serverClose() and on shutdown()", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const closed = await serveAt(dir, Echo);
    expect(existsSync(closed.address.host)).toBe(true);
    await closed.serverClose();
    expect(existsSync(closed.address.host)).toBe(false);
    await closed.serverClose();

    const other = tempDir();
    const shut = await serveAt(other, Echo);
    await shut.shutdown();
    expect(existsSync(shut.address.host)).toBe(false);
    expect(shut.state).toBe("closed");
  });

  it("reports a reply to an unbound sender through handleError and keeps serving", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const errors: { err: unknown; peer: PeerAddress | undefined }[] = [];
    class Reporting extends UnixDatagramServer {
      override handleError(err: unknown, peer?: PeerAddress) {
        errors.push({ err, peer });
      }
    }
    const server = await serveAt(dir, Echo, Reporting);
    const anonymous = client(dir, undefined);
    await anonymous.send("no return address", server.address.host);
    await waitUntil(() => errors.length === 1, "handleError for the unbound sender");
    expect(errors[0]!.peer).toEqual({ address: "", port: 0, family: "unix" });
    expect(errors[0]!.err).toBeInstanceOf(NetworkError);
    expect(errors[0]!.err).toMatchObject({
      code: "NO_SUCH_SOCKET",
      message: "cannot reply to a Unix datagram sender that has no path (its socket is unbound)",
      hint: "the client must bind its socket to a path before sending, to get replies",
    });
    const bound = client(dir, "bound.sock");
    await bound.send("with a return address", server.address.host);
    expect(await bound.next()).toBe("with a return address");
    expect(server.state).toBe("running");
  });

  it("serves a handler that does not reply to an unbound sender without an error", {
    timeout: 10_000,
  }, async () => {
    const dir = tempDir();
    const packets: string[] = [];
    class Sink extends DatagramRequestHandler {
      override handle() {
        packets.push(this.packet.toString());
      }
    }
    const server = await serveAt(dir, Sink);
    const errors: unknown[] = [];
    server.on("error", (err: unknown) => errors.push(err));
    await client(dir, undefined).send("fire and forget", server.address.host);
    await waitUntil(() => packets.length === 1, "the datagram handled");
    expect(packets).toEqual(["fire and forget"]);
    expect(errors).toEqual([]);
  });

  it("works under ThreadingMixIn", { timeout: 10_000 }, async () => {
    const dir = tempDir();
    const server = await serveAt(dir, Upper, ThreadingUnixDatagramServer);
    const c = client(dir, "c.sock");
    await c.send("threaded", server.address.host);
    expect(await c.next()).toBe("THREADED");
  });

  it.skipIf(!hasPython)(
    "answers a Python socket(AF_UNIX, SOCK_DGRAM) client bound to its own path",
    { timeout: 15_000 },
    async () => {
      const dir = tempDir();
      const server = await serveAt(dir, Upper);
      const script = [
        "import socket, sys",
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
        "s.bind(sys.argv[1])",
        "s.settimeout(5)",
        "s.sendto(b'hello from python', sys.argv[2])",
        "data, addr = s.recvfrom(65536)",
        "print(data.decode(), addr, sep='|')",
      ].join("\n");
      const clientPath = join(dir, "py.sock");
      const out = await within(
        new Promise<string>((resolve, reject) =>
          execFile("python3", ["-c", script, clientPath, server.address.host], (err, stdout, stderr) =>
            err ? reject(new Error(`python3 failed: ${stderr}`)) : resolve(stdout),
          ),
        ),
        10_000,
        "python3 client",
      );
      expect(out.trim()).toBe(`HELLO FROM PYTHON|${server.address.host}`);
    },
  );
});

describe("UnixDatagramServer without node-unix-socket", () => {
  it("needs a path", () => {
    expect(() => new UnixDatagramServer({}, Echo)).toThrow(
      expect.objectContaining({ code: "INVALID_OPTION" }),
    );
  });

  it("is refused by ForkingMixIn with UNSUPPORTED, since the socket does not work with cluster", () => {
    const ForkingUnixDatagramServer = ForkingMixIn(UnixDatagramServer);
    let err: unknown;
    try {
      new ForkingUnixDatagramServer({ path: join(tmpdir(), "never-bound.sock") }, Echo);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: "UNSUPPORTED" });
    expect((err as NetworkError).hint).toContain("ForkingUDPServer");
  });

  it("constructs, and listen() fails with UNSUPPORTED and a hint, where the package cannot load", {
    timeout: 10_000,
  }, async () => {
    const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
    const resolveFilename = loader._resolveFilename;
    loader._resolveFilename = function (this: unknown, request, ...rest) {
      if (request === "node-unix-socket") {
        throw Object.assign(new Error("Cannot find module 'node-unix-socket'"), { code: "MODULE_NOT_FOUND" });
      }
      return resolveFilename.call(this, request, ...rest);
    };
    onTestFinished(() => {
      loader._resolveFilename = resolveFilename;
    });
    const path = join(tempDir(), "s.sock");
    const server = new UnixDatagramServer({ path }, Echo);
    onTestFinished(() => server.shutdown());
    const err = await server.listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "UNSUPPORTED",
      hint: "use UnixStreamServer, or UDPServer on 127.0.0.1",
    });
    expect((err as NetworkError).message).toMatch(
      /^Unix datagram sockets need node-unix-socket, which has no binary/,
    );
    expect(existsSync(path)).toBe(false);
  });
});
