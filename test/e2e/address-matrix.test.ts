import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  canIsolateNetwork,
  type LabProcess,
  runLab,
  runLabInNetworkOf,
  startLab,
  startLabIsolated,
} from "../helpers/lab.js";

/** #19: every server and client over IPv4, IPv6 loopback, a Unix socket and an abstract socket. */

const hasIPv6Loopback = Object.values(networkInterfaces())
  .flat()
  .some((i) => i?.address === "::1");
const isLinux = process.platform === "linux";

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "netlab-am-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One row of the matrix: how a server binds, and how a client then names the address it printed. */
interface Transport {
  name: string;
  /** Why the row is skipped on this machine, if it is. */
  skip?: string;
  /** `--host`/`--port` for a server; a fresh Unix path per call. */
  listen(): string[];
  /** The `listening on X` / `serving D on X` address, as a pattern with the port captured. */
  shown: RegExp;
  /** `--host`/`--port` for a client, given what the server printed. */
  connect(shown: string, port: number): string[];
}

const TRANSPORTS: Transport[] = [
  {
    name: "IPv4",
    listen: () => ["--host", "127.0.0.1", "--port", "0"],
    shown: /127\.0\.0\.1:(\d+)/,
    connect: (_s, port) => ["--host", "127.0.0.1", "--port", String(port)],
  },
  {
    name: "IPv6 loopback",
    skip: hasIPv6Loopback ? undefined : "this machine has no ::1",
    listen: () => ["--host", "::1", "--port", "0"],
    shown: /\[::1\]:(\d+)/,
    connect: (_s, port) => ["--host", "[::1]", "--port", String(port)],
  },
  {
    name: "Unix socket",
    listen: () => ["--host", `unix:${path.join(tempDir(), "s.sock")}`],
    shown: /unix:(\S+\.sock)()/,
    connect: (shown) => ["--host", shown],
  },
  {
    name: "abstract socket",
    skip: isLinux ? undefined : "abstract sockets exist only on Linux",
    listen: () => ["--host", `@netlab-am-${process.pid}-${Math.random().toString(36).slice(2)}`],
    shown: /(@netlab-am-\S+)()/,
    connect: (shown) => ["--host", shown],
  },
];

/** Starts `lab ARGS` and waits for the line naming where it listens; returns that address. */
async function serve(
  args: string[],
  t: Transport,
): Promise<{ lab: LabProcess; shown: string; port: number }> {
  const lab = startLab(args);
  const line = await lab.waitForOutput(new RegExp(`(?:listening on|serving \\S+ on) ${t.shown.source}`), {
    stream: "stderr",
  });
  const m = t.shown.exec(line)!;
  return { lab, shown: m[0]!, port: Number(m[1]) };
}

for (const t of TRANSPORTS) {
  describe.skipIf(t.skip !== undefined)(`#19 over ${t.name}${t.skip ? ` (skipped: ${t.skip})` : ""}`, () => {
    it("chat: two lines through lab server and lab client, the peer logged in the one format", async () => {
      const { lab, shown, port } = await serve(["server", ...t.listen()], t);
      const r = await runLab(["client", ...t.connect(shown, port), "--nick", "alice"], {
        input: "hello over the wire\n/who\n",
      });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("hello over the wire");
      expect(r.stdout).toContain("alice");
      await lab.waitForOutput(
        t.name.includes("Unix") || t.name.includes("abstract")
          ? "connect unix socket"
          : /connect \S+:\d+ \(#1\)/,
      );
      expect(await lab.stop("SIGINT")).toBe(0);
    }, 30_000);

    it("upper (the line servers share one code path with echo): a line comes back upper-cased", async () => {
      const { lab, shown, port } = await serve(["server", "--mode", "upper", ...t.listen()], t);
      const r = await runLab(["client", ...t.connect(shown, port)], { input: "hello\n" });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe("HELLO\n");
      expect(await lab.stop("SIGINT")).toBe(0);
    }, 30_000);

    it("files/transfer: upload, list, download back the same bytes", async () => {
      const dir = tempDir();
      const shared = path.join(dir, "shared");
      const local = path.join(dir, "local");
      for (const d of [shared, local]) rmSync(d, { recursive: true, force: true });
      await import("node:fs/promises").then((fs) => Promise.all([fs.mkdir(shared), fs.mkdir(local)]));
      const src = path.join(local, "a.bin");
      writeFileSync(src, Buffer.alloc(100_000, 7));
      const { lab, shown, port } = await serve(["files", shared, ...t.listen()], t);
      const where = t.connect(shown, port);
      const up = await runLab(["transfer", src, ...where, "--json"]);
      expect(up.code, up.stderr).toBe(0);
      const list = await runLab(["transfer", "--list", ...where]);
      expect(list.stdout).toContain("a.bin");
      const out = path.join(local, "back.bin");
      const down = await runLab(["transfer", "--get", "a.bin", "-o", out, ...where]);
      expect(down.code, down.stderr).toBe(0);
      expect(statSync(out).size).toBe(100_000);
      expect(await lab.stop("SIGINT")).toBe(0);
    }, 40_000);

    // UDP has no Unix-socket rows: lab udp refuses unix: and @ addresses (see "bad addresses").
    if (t.name.startsWith("IPv")) {
      it("udp: echo and ping", async () => {
        const lab = startLab(["udp", "echo", ...t.listen()]);
        const line = await lab.waitForOutput(new RegExp(`listening on udp ${t.shown.source}`));
        const port = Number(t.shown.exec(line)![1]);
        const target = t.name === "IPv4" ? `127.0.0.1:${port}` : `[::1]:${port}`;
        const r = await runLab(["udp", "ping", target, "-c", "3", "--interval", "0.01", "--json"]);
        expect(r.code, r.stderr).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ transmitted: 3, received: 3 });
      }, 30_000);
    }
  });
}

describe.skipIf(!hasIPv6Loopback)(
  `#19 dual-stack${hasIPv6Loopback ? "" : " (skipped: this machine has no ::1)"}`,
  () => {
    // The servers on :: below run in a network namespace of their own, their clients in it too.
    it.skipIf(!canIsolateNetwork)(
      "lab server --host :: takes IPv4 and IPv6 clients and logs the IPv4 one as 127.0.0.1",
      async () => {
        const t = TRANSPORTS[1]!;
        const lab = startLabIsolated(["server", "--mode", "upper", "--host", "::", "--port", "0"]);
        const line = await lab.waitForOutput(/listening on \[::\]:(\d+)/);
        const port = Number(/\[::\]:(\d+)/.exec(line)![1]);
        const v4 = await runLabInNetworkOf(lab, ["client", "--host", "127.0.0.1", "--port", String(port)], {
          input: "a\n",
        });
        expect(v4.stdout).toBe("A\n");
        await lab.waitForOutput(/connect 127\.0\.0\.1:\d+ \(#1\)/);
        expect(lab.stderr()).not.toContain("::ffff:");
        const v6 = await runLabInNetworkOf(lab, ["client", ...t.connect("", port)], { input: "b\n" });
        expect(v6.stdout).toBe("B\n");
        await lab.waitForOutput(/connect \[::1\]:\d+ \(#2\)/);
        expect(await lab.stop("SIGINT")).toBe(0);
      },
      30_000,
    );

    // On :: inside a network namespace of their own: nothing beyond its loopback reaches them.
    it.skipIf(!canIsolateNetwork)(
      "a chat or file server on every interface without --token-file warns who can reach it, an echo server what anyone can do with it; one on loopback does not",
      async () => {
        const chat = startLabIsolated(["server", "--host", "::", "--port", "0", "-q"]);
        await chat.waitForOutput(
          /warn {2}every interface \(\[::\]\) is reachable from other machines, and without --token-file anyone who reaches it can join the chat under any free nick \(docs\/security\.md\)\n/,
        );
        const files = startLabIsolated(["files", tempDir(), "--host", "::", "--port", "0", "--read-only"]);
        await files.waitForOutput(
          /warn {2}every interface .* anyone who reaches it can list and download files /,
        );
        const echo = startLabIsolated(["server", "--mode", "echo", "--host", "::", "--port", "0"]);
        await echo.waitForOutput(
          /warn {2}every interface \(\[::\]\) is reachable from other machines, and anyone who reaches it can have any line sent back \(docs\/security\.md\)\n/,
        );
        const local = startLab(["files", tempDir(), "--port", "0"]);
        const localEcho = startLab(["server", "--mode", "echo", "--port", "0"]);
        await local.waitForOutput(/serving /);
        await localEcho.waitForOutput(/limits: /);
        for (const quiet of [local, localEcho]) {
          expect(await quiet.stop("SIGINT")).toBe(0);
          expect(quiet.stderr()).not.toContain("reachable from other machines");
        }
      },
      30_000,
    );

    it.skipIf(!canIsolateNetwork)(
      "-6 with --host :: refuses IPv4 clients; -6 alone listens on ::1",
      async () => {
        const lab = startLabIsolated(["server", "--mode", "echo", "-6", "--host", "::", "--port", "0"]);
        const port = Number(/\[::\]:(\d+)/.exec(await lab.waitForOutput(/listening on \[::\]:(\d+)/))![1]);
        const v4 = await runLabInNetworkOf(lab, ["client", "--host", "127.0.0.1", "--port", String(port)], {
          input: "a\n",
        });
        expect(v4.code).toBe(1);
        expect(v4.stderr).toContain("connection refused");
        const only6 = startLab(["server", "--mode", "echo", "-6", "--port", "0"]);
        await only6.waitForOutput(/listening on \[::1\]:\d+ \(echo\)/);
      },
      30_000,
    );

    it("-6/-4 with --host localhost listen on that family's loopback, in every server and in udp ping", async () => {
      const server = startLab(["server", "--mode", "echo", "-6", "--host", "localhost", "--port", "0"]);
      await server.waitForOutput(/listening on \[::1\]:\d+ \(echo\)/);
      const files = startLab(["files", tempDir(), "-4", "--host", "localhost", "--port", "0"]);
      await files.waitForOutput(/serving \S+ on 127\.0\.0\.1:\d+/);
      const echo = startLab(["udp", "echo", "-6", "--host", "localhost", "--port", "0"]);
      const port = /udp \[::1\]:(\d+)/.exec(await echo.waitForOutput(/listening on udp \[::1\]:\d+/))![1]!;
      const ping = await runLab([
        "udp",
        "ping",
        "-6",
        "--host",
        "localhost",
        "--port",
        port,
        "-c",
        "1",
        "-q",
      ]);
      expect(ping.code, ping.stderr).toBe(0);
      expect(ping.stdout).toContain("1 received");
    }, 30_000);

    it("-6 with another host name is refused where the family cannot be chosen (a listener, lab udp)", async () => {
      for (const args of [
        ["server", "-6", "--host", "nonexistent.invalid", "--port", "0"],
        ["udp", "ping", "-4", "--host", "nonexistent.invalid", "--port", "5003", "-c", "1"],
      ]) {
        const r = await runLab(args);
        expect(r.code, args.join(" ")).toBe(2);
        expect(r.stderr).toMatch(
          /^lab: -[46] with the host name nonexistent\.invalid: .*\nhint: give an IPv[46] address/,
        );
      }
    }, 30_000);
  },
);

describe("-4/-6 against a literal address of the other family", () => {
  // Each used to bind or dial the other family's address in silence (the loopback and the
  // wildcard were swapped): a user who typed both meant one of them, and lab cannot tell which.
  it.each([
    [["server", "-6", "--host", "127.0.0.1", "--port", "0"], "-6 asks for IPv6 but --host 127.0.0.1 is IPv4"],
    [["server", "-6", "--host", "0.0.0.0", "--port", "0"], "-6 asks for IPv6 but --host 0.0.0.0 is IPv4"],
    [["server", "-4", "--host", "::1", "--port", "0"], "-4 asks for IPv4 but --host ::1 is IPv6"],
    [["files", ".", "-4", "--host", "[::1]", "--port", "0"], "-4 asks for IPv4 but --host [::1] is IPv6"],
    [["files", ".", "-4", "--host", "::", "--port", "0"], "-4 asks for IPv4 but --host :: is IPv6"],
    [["server", "-6", "--host", "10.0.0.1", "--port", "0"], "-6 asks for IPv6 but --host 10.0.0.1 is IPv4"],
    [
      ["udp", "echo", "-6", "--host", "127.0.0.1", "--port", "0"],
      "-6 asks for IPv6 but --host 127.0.0.1 is IPv4",
    ],
    [["udp", "listen", "-4", "--host", "::1", "--port", "0"], "-4 asks for IPv4 but --host ::1 is IPv6"],
    [["udp", "ping", "-6", "127.0.0.1:PORT", "-c", "1"], "-6 asks for IPv6 but 127.0.0.1:PORT is IPv4"],
    [["udp", "ping", "-4", "[::1]:PORT", "-c", "1"], "-4 asks for IPv4 but [::1]:PORT is IPv6"],
    [["client", "-4", "[::1]:PORT"], "-4 asks for IPv4 but [::1]:PORT is IPv6"],
    [["client", "-6", "127.0.0.1", "PORT"], "-6 asks for IPv6 but 127.0.0.1 PORT is IPv4"],
    [
      ["client", "-6", "--host", "127.0.0.1", "--port", "PORT"],
      "-6 asks for IPv6 but --host 127.0.0.1 is IPv4",
    ],
    [["client", "-4", "--node", "[::1]:PORT"], "-4 asks for IPv4 but --node [::1]:PORT is IPv6"],
    [
      ["transfer", "--list", "-6", "--host", "127.0.0.1", "--port", "PORT"],
      "-6 asks for IPv6 but --host 127.0.0.1 is IPv4",
    ],
  ])(
    "lab %j is a usage error",
    async (words, message) => {
      // Nothing listens there: before the fix, the clients dialled it instead of refusing.
      const port = String(await getPort());
      const args = words.map((w) => w.replace("PORT", port));
      const r = await runLab(args, { input: "" });
      expect(r.code, r.stderr).toBe(2);
      const family = message.startsWith("-6") ? 6 : 4;
      expect(r.stderr).toBe(
        `lab: ${message.replace("PORT", port)}\nhint: give an IPv${family} address such as ${family === 6 ? "::1" : "127.0.0.1"} (or localhost), or drop -${family}\n`,
      );
    },
    30_000,
  );
});

describe.skipIf(!hasIPv6Loopback)(
  `#19 lab proxy over IPv6${hasIPv6Loopback ? "" : " (skipped: this machine has no ::1)"}`,
  () => {
    it("relays a line server on [::1] from [::1]", async () => {
      const server = startLab(["server", "--mode", "upper", "--host", "::1", "--port", "0"]);
      const up = Number(/\[::1\]:(\d+)/.exec(await server.waitForOutput(/listening on \[::1\]:\d+/))![1]);
      const proxy = startLab(["proxy", "[::1]:0", `[::1]:${up}`]);
      const line = await proxy.waitForOutput(/proxying \[::1\]:\d+ → \[::1\]:\d+/);
      const port = Number(/proxying \[::1\]:(\d+)/.exec(line)![1]);
      const r = await runLab(["client", "--host", "[::1]", "--port", String(port)], { input: "through\n" });
      expect(r.stdout, r.stderr).toBe("THROUGH\n");
    }, 30_000);

    it("refuses an unbracketed IPv6 listen address", async () => {
      const r = await runLab(["proxy", "::1:0", "127.0.0.1:1"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("needs brackets");
    });
  },
);

describe("#19 bad addresses: one line each, exit 2 before anything is created", () => {
  it("an unbracketed IPv6 address with a port", async () => {
    const r = await runLab(["udp", "ping", "::1:5003", "-c", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'lab: "::1:5003" is ambiguous: an IPv6 address with a port needs brackets\nhint: write it as [::1]:5003\n',
    );
  });

  it("a Unix socket for lab udp", async () => {
    const r = await runLab(["udp", "echo", "--host", "unix:/tmp/netlab-never-created.sock"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lab: unix:/tmp/netlab-never-created.sock is a Unix socket; lab udp echo listens for UDP datagrams on an IP address\nhint: give HOST:PORT or --host/--port\n",
    );
    const ping = await runLab(["udp", "ping", "@netlab-never", "-c", "1"]);
    expect(ping.code).toBe(2);
    expect(ping.stderr.split("\n")[0]).toBe(
      "lab: @netlab-never is a Unix socket; lab udp ping sends UDP datagrams to an IP address",
    );
  });

  it("a port out of range", async () => {
    const r = await runLab(["client", "--port", "70000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lab: --port must be a whole number from 1 to 65535, got \"70000\"\nhint: run 'lab client --help' for usage\n",
    );
    const positional = await runLab(["udp", "send", "127.0.0.1:70000", "x"]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toBe(
      'lab: port must be a number from 1 to 65535, got "70000"\nhint: the server\'s port, such as 5001\n',
    );
  });

  it("a Unix path over 107 bytes, and nothing is created", async () => {
    const dir = tempDir();
    const long = path.join(dir, "x".repeat(120));
    const r = await runLab(["server", "--host", `unix:${long}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^lab: Unix socket path is \d+ bytes, over the kernel's 107: ".*"\nhint: choose a shorter path, such as one in \/tmp\n$/,
    );
    expect(() => statSync(long)).toThrow();
    expect(() => statSync(long.slice(0, 107))).toThrow();
  });

  it("a regular file at the socket path is left alone", async () => {
    const file = path.join(tempDir(), "notes.txt");
    writeFileSync(file, "keep");
    const r = await runLab(["files", tempDir(), "--host", `unix:${file}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `lab: cannot listen on unix:${file}: a file that is not a socket is there\nhint: it is never replaced: choose another path, or remove it yourself\n`,
    );
    expect(statSync(file).size).toBe(4);
  });

  it("a --host with brackets now resolves ([::1] is no longer a host name)", async () => {
    const r = await runLab(["client", "--host", "[::1]", "--port", "1"], { input: "" });
    expect(r.stderr).not.toContain("cannot resolve host");
  });

  it("--tls with a Unix socket (TLS runs over TCP here)", async () => {
    const r = await runLab(["client", "--tls", "--host", "unix:/tmp/netlab-never.sock"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "lab: --tls works over TCP, not over a Unix socket\nhint: drop --tls, or give --host/--port\n",
    );
  });

  it("a Unix socket made by lab server is mode 0600", async () => {
    const sock = path.join(tempDir(), "m.sock");
    const lab = startLab(["server", "--mode", "echo", "--host", `unix:${sock}`]);
    await lab.waitForOutput(`listening on unix:${sock} (echo)`);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
  });
});

describe("--port with a Unix socket", () => {
  // The port was ignored in silence: a user who typed both meant one of them.
  it.each([
    [["server", "--host", "unix:/tmp/netlab-am-port.sock", "--port", "5000"]],
    [["files", ".", "--host", "@netlab-am-port", "-p", "5000"]],
    [["client", "--host", "unix:/tmp/netlab-am-port.sock", "--port", "5000"]],
  ])(
    "lab %j is a usage error, and nothing listens or connects",
    async (args) => {
      const r = await runLab(args, { input: "" });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toBe(
        `lab: --port 5000 means nothing with --host ${args.find((a) => /^(unix:|@)/.test(a))}: a Unix socket has a path, not a port\nhint: drop --port, or give an IP address with --host\n`,
      );
    },
    30_000,
  );
});

describe("--port with an address argument that has its own", () => {
  // --port was ignored in silence: a user who typed both meant one of them.
  it.each([[["client"]], [["udp", "ping", "-c", "1"]]])(
    "lab %j HOST:PORT --port P is a usage error",
    async (words) => {
      const [a, b] = [String(await getPort()), String(await getPort())];
      const r = await runLab([...words, `127.0.0.1:${a}`, "--port", b], { input: "" });
      expect(r).toMatchObject({
        code: 2,
        stderr: `lab: 127.0.0.1:${a} has a port, and --port ${b} is another\nhint: drop --port, or the port from the address\n`,
      });
    },
    30_000,
  );

  it("lab client HOST PORT --port P (nc's words and the flag) is a usage error", async () => {
    const [a, b] = [String(await getPort()), String(await getPort())];
    const r = await runLab(["client", "127.0.0.1", a, "--port", b], { input: "" });
    expect(r).toMatchObject({
      code: 2,
      stderr: `lab: ${a} and --port ${b} are two ports\nhint: write lab client 127.0.0.1 ${a} or lab client 127.0.0.1 --port ${b}\n`,
    });
  });

  it("lab client unix:/path --port P is a usage error", async () => {
    const r = await runLab(["client", "unix:/tmp/netlab-am-port.sock", "--port", "5000"], { input: "" });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --port 5000 means nothing with unix:/tmp/netlab-am-port.sock: a Unix socket has a path, not a port\nhint: drop --port, or give an IP address with --host\n",
    });
  });
});

describe("--host with an address argument that names its own", () => {
  // --host was ignored in silence, as --port was: a user who typed both meant one of them.
  it.each([[["client"]], [["udp", "ping", "-c", "1"]]])(
    "lab %j HOST:PORT --host H is a usage error; :PORT --host H is the address it always was",
    async (words) => {
      const a = String(await getPort());
      const r = await runLab([...words, `127.0.0.1:${a}`, "--host", "127.0.0.2"], { input: "" });
      expect(r).toMatchObject({
        code: 2,
        stderr: `lab: 127.0.0.1:${a} has a host, and --host 127.0.0.2 is another\nhint: drop --host, or the host from the address (:${a})\n`,
      });
      // :PORT takes its host from --host: nothing to refuse (it fails later: nothing listens).
      const colon = await runLab([...words, `:${a}`, "--host", "127.0.0.2"], { input: "" });
      expect(colon.code, colon.stderr).toBe(1);
    },
    30_000,
  );

  it("lab client HOST PORT --host H (nc's words and the flag) is a usage error", async () => {
    const a = String(await getPort());
    const r = await runLab(["client", "127.0.0.1", a, "--host", "127.0.0.2"], { input: "" });
    expect(r).toMatchObject({
      code: 2,
      stderr: `lab: 127.0.0.1 and --host 127.0.0.2 are two hosts\nhint: write lab client 127.0.0.1 ${a} or lab client --host 127.0.0.2 --port ${a}\n`,
    });
  });
});

describe("the exposure warning on loopback written another way", () => {
  // Each bound the loopback and warned "an address (127.0.0.1) is reachable from other machines".
  it.each(["::ffff:127.0.0.1", "127.1", "127.0.0.2"])(
    "lab server --host %s does not warn",
    async (host) => {
      const lab = startLab(["server", "--host", host, "--port", "0"]);
      await lab.waitForOutput(/limits: /);
      expect(await lab.stop("SIGINT")).toBe(0);
      expect(lab.stderr()).not.toContain("reachable from other machines");
    },
    30_000,
  );
});
