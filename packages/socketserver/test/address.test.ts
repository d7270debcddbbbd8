import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { canIsolateNetwork, ISOLATION_MISSING, runProcess } from "../../../test/helpers/lab.js";
import {
  connect,
  EchoHandler,
  NetworkError,
  type PeerAddress,
  TCPServer,
  UpperHandler,
} from "../src/index.js";
import { LineClient, within } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const hasIPv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === "::1");

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "netlab-addr-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function started(server: TCPServer): Promise<void> {
  onTestFinished(() => server.shutdown());
  await server.listen();
  void server.serveForever();
}

async function roundTrip(socket: net.Socket, line: string): Promise<string | undefined> {
  const client = LineClient.fromSocket(socket);
  client.send(line);
  const reply = await within(client.readLine(), 5_000, "reply");
  socket.destroy();
  return reply;
}

function peers(server: TCPServer): PeerAddress[] {
  const seen: PeerAddress[] = [];
  server.on("open", (info: { peer: PeerAddress }) => seen.push(info.peer));
  return seen;
}

describe("a TCPServer given a path", () => {
  it("listens on a Unix socket created with mode 0600", async () => {
    const path = join(tempDir(), "u.sock");
    const server = new TCPServer({ path }, UpperHandler);
    await started(server);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(server.address).toEqual({ host: path, port: 0, family: "unix" });
    expect(await roundTrip(await connect({ path }), "hi")).toBe("HI");
  });

  it("replaces a stale socket file but refuses to touch a regular file", async () => {
    const dir = tempDir();
    const stale = join(dir, "stale.sock");
    // A socket file nobody listens on: left by a server killed before it could unlink it.
    const script = `require("node:net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`;
    expect(spawnSync(process.execPath, ["-e", script], { timeout: 10_000 }).signal).toBe("SIGKILL");
    expect(lstatSync(stale).isSocket()).toBe(true);
    await started(new TCPServer({ path: stale }, EchoHandler));
    expect(await roundTrip(await connect({ path: stale }), "x")).toBe("x");

    const regular = join(dir, "notes.txt");
    writeFileSync(regular, "keep me");
    const err = await new TCPServer({ path: regular }, EchoHandler).listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).message).toBe(
      `cannot listen on unix:${regular}: a file that is not a socket is there`,
    );
    expect(readFileSync(regular, "utf8")).toBe("keep me");
  });

  it("refuses a path over 107 bytes before creating anything", async () => {
    const dir = tempDir();
    const path = join(dir, "p".repeat(108 - dir.length));
    expect(Buffer.byteLength(path)).toBe(109);
    const err = (await new TCPServer({ path }, EchoHandler)
      .listen()
      .catch((e: unknown) => e)) as NetworkError;
    expect(err.code).toBe("INVALID_OPTION");
    expect(err.message).toMatch(/^Unix socket path is 109 bytes, over the kernel's 107/);
    expect(existsSync(path)).toBe(false);
    // Node 20 would have bound the path cut at 107 bytes: nothing there either.
    expect(existsSync(path.slice(0, 107))).toBe(false);
  });

  it("connect() to a path that is a regular file says so, not 'connection refused'", async () => {
    const file = join(tempDir(), "notes.txt");
    writeFileSync(file, "keep");
    const err = (await connect({ path: file }).catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "NO_SUCH_SOCKET",
      message: `cannot connect to unix:${file}: it is a file, not a socket`,
      hint: "check the path: a server's socket is the one its 'listening on unix:…' line names",
    });
  });

  it("says which directory is missing, not 'permission denied' (libuv's EACCES for it)", async () => {
    const dir = join(tempDir(), "nope");
    const err = (await new TCPServer({ path: join(dir, "s.sock") }, EchoHandler)
      .listen()
      .catch((e: unknown) => e)) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({
      code: "NO_SUCH_SOCKET",
      message: `cannot listen on unix:${join(dir, "s.sock")}: directory ${dir} does not exist`,
      hint: "create the directory, or choose another path",
    });
  });

  it.runIf(process.platform === "linux")("listens on a Linux abstract socket (NUL + name)", async () => {
    const path = `\0netlab-test-${process.pid}-${Date.now()}`;
    const server = new TCPServer({ path }, UpperHandler);
    await started(server);
    expect(await roundTrip(await connect({ path }), "abs")).toBe("ABS");
  });
});

describe.skipIf(!hasIPv6Loopback)("IPv6 (skipped: this machine has no ::1)", () => {
  it("serves on ::1 and shows the peer bracketed-ready", async () => {
    const server = new TCPServer({ host: "::1", port: 0 }, EchoHandler);
    const seen = peers(server);
    await started(server);
    const socket = await connect({ host: "::1", port: server.address.port });
    expect(await roundTrip(socket, "v6")).toBe("v6");
    expect(seen[0]).toMatchObject({ address: "::1", family: "IPv6" });
  });
});

// `::` is every interface: bound here, the test's listener would be open to the network while it
// runs. So these tests run in a network namespace of their own, which has only its loopback.
if (!canIsolateNetwork) console.warn(`socketserver's dual-stack (::) tests: ${ISOLATION_MISSING}`);
describe.skipIf(!hasIPv6Loopback)(
  "IPv6 on :: (dual-stack and ipv6Only; skipped: this machine has no ::1)",
  () => {
    it.skipIf(!canIsolateNetwork)(
      "on :: (dual-stack and ipv6Only), in a network namespace of its own: test/netns/dual-stack.netns.ts passes",
      async () => {
        const vitest = join(
          dirname(createRequire(import.meta.url).resolve("vitest/package.json")),
          "vitest.mjs",
        );
        const file = "packages/socketserver/test/netns/dual-stack.netns.ts";
        const r = await runProcess(
          "unshare",
          ["-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", process.execPath, vitest].concat([
            "run",
            "--config",
            "vitest.netns.config.ts",
            file,
          ]),
          { cwd: ROOT, env: { CI: "1", NO_COLOR: "1" }, timeoutMs: 60_000 },
        );
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(r.stdout).toMatch(/Tests\s+2 passed \(2\)/);
      },
      90_000,
    );
  },
);
