import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import getPort from "get-port";
import { afterAll, describe, expect, it } from "vitest";
import { type LineClient, lineClient } from "../../packages/chat/test/line-client.js";
import {
  canIsolateNetwork,
  ISOLATION_MISSING,
  LAB_BIN,
  runLab,
  runLabIsolated,
  startLab,
  startLabOnTerminal,
} from "../helpers/lab.js";

const dir = mkdtempSync(join(tmpdir(), "netlab-demo-scripts-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Writes a script file and returns its path. */
function script(...lines: string[]): string {
  const file = join(dir, `script-${++n}.txt`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/** The transcript section of one pane: from its `== title ==` to the next blank line. */
function pane(stdout: string, title: RegExp): string {
  const at = stdout.split("\n").findIndex((l) => title.test(l));
  if (at < 0) throw new Error(`no pane ${title} in:\n${stdout}`);
  const rest = stdout.split("\n").slice(at);
  const end = rest.indexOf("");
  return rest.slice(0, end < 0 ? undefined : end).join("\n");
}

describe("lab demo and start-up cost", () => {
  it("loads Ink, React and @netlab/tui only inside the demo action, never at the top of a command module", () => {
    const dir = join(LAB_BIN, "..", "commands");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".js"))) {
      const staticImports =
        readFileSync(join(dir, file), "utf8").match(/^import .* from ["'][^"']+["'];?$/gm) ?? [];
      for (const line of staticImports)
        expect(line, `${file}: ${line}`).not.toMatch(/["'](ink|react|@netlab\/tui)["']/);
    }
    const demo = readFileSync(join(dir, "demo.js"), "utf8");
    expect(demo).toContain('await import("@netlab/tui/cli")');
  });
});

describe("lab demo on a terminal with CI set", () => {
  // Ink draws only the last frame when CI is set; runDemo takes CI out before Ink loads, which
  // only works if nothing imported Ink before it: the unbundled path once imported all of @netlab/tui.
  it.each(["1", "0"])(
    "draws its frames, NETLAB_TUI_BUNDLE=%s, and Ctrl-C ends it with exit 0",
    {
      timeout: 30_000,
    },
    async (bundle) => {
      const demo = startLabOnTerminal(["demo", "--clients", "2"], {
        envWords: ["CI=true", `NETLAB_TUI_BUNDLE=${bundle}`],
      });
      await demo.waitForOutput("● listening", { timeoutMs: 20_000 });
      demo.write("\u0003");
      expect(await demo.exited).toBe(0);
    },
  );

  it("ends with exit 0 on a Ctrl-C typed while Ink loads, when the terminal still turns it into SIGINT", {
    timeout: 30_000,
  }, async () => {
    const demo = startLabOnTerminal(["demo", "--clients", "1"], {
      envWords: ["CI=true", "NETLAB_TUI_BUNDLE=0"],
    });
    // The alternate screen comes before Ink is imported, let alone puts the terminal in raw mode.
    await demo.waitForOutput("\x1b[?1049h", { timeoutMs: 20_000 });
    demo.write("\u0003");
    expect(await demo.exited).toBe(0);
    expect(demo.stdout()).toContain("\x1b[?1049l");
  });
});

describe("lab demo without a terminal", () => {
  it("says it needs a terminal and exits 2 when stdin and stdout are pipes", async () => {
    const r = await runLab(["demo"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("lab: lab demo needs a terminal");
    expect(r.stderr).toContain(
      "hint: run it in a terminal, or play a script headlessly: lab demo --script FILE",
    );
    expect(r.stdout).toBe("");
  });

  it.each(["0", "7", "two", "1.5"])("rejects --clients %s with a usage error", async (value) => {
    const r = await runLab(["demo", "--clients", value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--clients must be a whole number from 1 to 6, got "${value}"`);
  });

  it("rejects an unknown scene, and --script with a scene other than chat, with exit 2", async () => {
    const unknown = await runLab(["demo", "--scene", "nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('lab: unknown scene "nope"');
    expect(unknown.stderr).toContain("hint: choose from: chat, transfer, udp");
    const scripted = await runLab(["demo", "--scene", "udp", "--script", "-"], { input: "wait 1\n" });
    expect(scripted.code).toBe(2);
    expect(scripted.stderr).toContain("lab: --script plays the chat scene only");
  });

  it.each([
    ["unix:/tmp/netlab-demo.sock", []],
    ["@netlab-demo", ["--script", "-"]],
    ["unix:@netlab-demo", ["--scene", "udp"]],
  ])(
    "refuses --host %s: its servers listen on an IP address, not a Unix socket (exit 2)",
    async (host, more) => {
      const r = await runLab(["demo", "--host", host, ...more], { input: "wait 1\n" });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(
        `lab: lab demo's servers listen on an IP address (TCP; UDP in --scene udp), not on a Unix socket: "${host}"`,
      );
      expect(r.stderr).toContain(
        "hint: give --host 127.0.0.1 or ::1; a chat on a Unix socket is lab server --host unix:/path",
      );
      expect(r.stdout).toBe("");
    },
  );

  it("says it needs a terminal for the udp scene too", async () => {
    const r = await runLab(["demo", "--scene", "udp"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("needs a terminal");
  });

  it("documents its keys, the script language and an example in --help", async () => {
    const r = await runLab(["demo", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--script <file>");
    expect(r.stdout).toContain("^R restart server");
    expect(r.stdout).toContain("lab demo --clients 5");
  });
});

describe("lab demo --script", () => {
  it("delivers a message typed in one client to every other client", async () => {
    const file = script(
      "# three people in #lobby",
      "client 2: hello from bob",
      "expect client 1: <bob> hello from bob",
      "expect client 3: <bob> hello from bob",
    );
    const r = await runLab(["demo", "--script", file]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    for (const title of [/^== client 1 alice/, /^== client 2 bob/, /^== client 3 carol/]) {
      expect(pane(r.stdout, title)).toContain("<bob> hello from bob");
    }
    expect(pane(r.stdout, /^== server 127\.0\.0\.1:\d+ \(listening\)/)).toMatch(/bob joined #lobby/);
  });

  it("marks the room's history a joiner is shown, with the time it was said, as lab client does", async () => {
    const file = script("clients 1", "client 1: said before", "add client", "expect client 2: said before");
    const r = await runLab(["demo", "--script", file]);
    expect(r.code, r.stderr).toBe(0);
    // Replayed on join, not said now: without the mark it read as a live message.
    expect(pane(r.stdout, /^== client 2 bob/)).toMatch(/^\[\d\d:\d\d\] \(history\) <alice> said before$/m);
    expect(pane(r.stdout, /^== client 1 alice/)).toMatch(/^<alice> said before$/m);
  });

  if (!canIsolateNetwork) console.warn(`lab demo --host 0.0.0.0 test ${ISOLATION_MISSING}`);
  // 0.0.0.0 inside a network namespace of its own, which has nothing but loopback: no other
  // machine can reach the demo's server while the test runs.
  it.skipIf(!canIsolateNetwork)(
    "warns in the server pane and on stderr when --host reaches other machines, as lab server does",
    async () => {
      // It said nothing: lab server warns on 0.0.0.0, and the demo's chat server is the same server.
      const file = script("client 1: hi", "expect client 2: <alice> hi");
      const warning =
        "every interface (0.0.0.0) is reachable from other machines, and anyone who reaches it can join the chat under any free nick (docs/security.md)";
      const r = await runLabIsolated(["demo", "--script", file, "--clients", "2", "--host", "0.0.0.0"]);
      expect(r.code).toBe(0);
      const server = pane(r.stdout, /^== server 0\.0\.0\.0:\d+ \(listening\)/).split("\n");
      expect(server.slice(1, 3)).toEqual([
        expect.stringMatching(/^listening on 0\.0\.0\.0:\d+$/),
        `warning: ${warning}`,
      ]);
      expect(r.stderr).toBe(
        `lab: warning: ${warning}\nhint: that was the demo's server while it ran; leave out --host (127.0.0.1) to keep it on this machine\n`,
      );
      const local = await runLab(["demo", "--script", file, "--clients", "2"]);
      expect(local).toMatchObject({ code: 0, stderr: "" });
      expect(local.stdout).not.toContain("reachable");
    },
  );

  // Each scene on a terminal (only the chat scene plays scripts), in a namespace of its own.
  it.skipIf(!canIsolateNetwork)(
    "the udp and proxy scenes warn in the title line and on stderr when --host reaches other machines; on loopback they do not",
    async () => {
      const said = {
        udp: "aim its echoes at any address by forging the source, at most 256.0 KiB/s at each",
        proxy: "connect through it to the demo's echo server",
      };
      for (const [scene, what] of Object.entries(said)) {
        const warning = `every interface (0.0.0.0) is reachable from other machines, and anyone who reaches it can ${what} (docs/security.md)`;
        const demo = startLabOnTerminal(["demo", "--scene", scene, "--clients", "1", "--host", "0.0.0.0"], {
          isolated: true,
        });
        await demo.waitForOutput("! reachable from other machines (docs/security.md)", { timeoutMs: 15_000 });
        demo.write("\x03");
        expect(await demo.exited, scene).toBe(0);
        expect(demo.stdout()).toContain(
          `lab: warning: ${warning}\r\nhint: that was the demo's server while it ran; leave out --host (127.0.0.1) to keep it on this machine\r\n`,
        );
        const local = startLabOnTerminal(["demo", "--scene", scene, "--clients", "1"]);
        await local.waitForOutput(scene === "udp" ? /udp echo 127\.0\.0\.1:\d+/ : /proxy 127\.0\.0\.1:\d+/, {
          timeoutMs: 15_000,
        });
        local.write("\x03");
        expect(await local.exited, `${scene} on loopback`).toBe(0);
        expect(local.stdout()).not.toContain("reachable");
      }
    },
    60_000,
  );

  it("shows the outage and the reconnection when the server restarts", async () => {
    const file = script(
      "clients 2",
      "restart server",
      "expect client 1: reconnected",
      "expect client 2: reconnected",
      "client 1: after the restart",
      "expect client 2: <alice> after the restart",
    );
    const r = await runLab(["demo", "--script", file]);
    expect(r.code, r.stderr).toBe(0);
    const server = pane(r.stdout, /^== server/);
    expect(server).toContain("restarting: closing every connection");
    expect(server.match(/listening on 127\.0\.0\.1:(\d+)/g)).toHaveLength(2);
    const [first, second] = server.match(/listening on 127\.0\.0\.1:\d+/g)!;
    expect(second).toBe(first); // the same port
    const alice = pane(r.stdout, /^== client 1 alice/);
    expect(alice).toMatch(/\* disconnected: .*; reconnecting/);
    expect(alice.indexOf("* reconnected")).toBeGreaterThan(alice.indexOf("reconnecting"));
    expect(r.stdout).not.toContain("== client 3");
  });

  it("adds, drops and reconnects clients", async () => {
    const file = script(
      "clients 1",
      "add client",
      "expect client 1: bob joined",
      "drop client 2",
      "expect server: bob disconnected",
      "reconnect client 2",
      "expect client 2: reconnected",
    );
    const r = await runLab(["demo", "--script", file]);
    expect(r.code, r.stderr).toBe(0);
    expect(pane(r.stdout, /^== client 2 bob/)).toContain("* dropping the connection");
  });

  it("prints every pane as JSON with --json", async () => {
    const file = script("client 1: json please", "expect client 2: json please");
    const r = await runLab(["demo", "--script", file, "--clients", "2", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      server: { port: number; status: string };
      clients: Array<{ nick: string; transcript: Array<{ text: string }> }>;
    };
    expect(out.server.port).toBeGreaterThan(0);
    expect(out.clients.map((c) => c.nick)).toEqual(["alice", "bob"]);
    expect(out.clients[1]!.transcript.map((l) => l.text)).toContain("<alice> json please");
  });

  it("reads the script from stdin with --script -", async () => {
    const r = await runLab(["demo", "--script", "-", "--clients", "2"], {
      input: "client 2: via stdin\nexpect client 1: via stdin\n",
    });
    expect(r.code, r.stderr).toBe(0);
    expect(pane(r.stdout, /^== client 1/)).toContain("<bob> via stdin");
  });

  it("fails with exit 1 and still prints the transcripts when an expect is never met", async () => {
    const file = script("client 1: hi", "expect client 2: something nobody said");
    const r = await runLab(["demo", "--script", file, "--expect-timeout", "0.3"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'lab: script line 2: client 2 never showed "something nobody said" within 300 ms',
    );
    expect(pane(r.stdout, /^== client 2/)).toContain("<alice> hi");
  });

  it("rejects a script that does not parse with exit 2, naming the line, before starting anything", async () => {
    const file = script("client 1: hi", "shout client 2: hi");
    const r = await runLab(["demo", "--script", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('lab: script line 2: unknown command "shout"');
    expect(r.stdout).toBe("");
  });

  it("rejects a step naming a client that does not exist with exit 1", async () => {
    const r = await runLab(["demo", "--script", script("client 3: hi"), "--clients", "2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("lab: script line 1: there is no client 3 (there are 2)");
  });

  it("says so when the script file does not exist, with exit 2", async () => {
    const r = await runLab(["demo", "--script", join(dir, "missing.txt")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/lab: cannot read script .*missing\.txt: no such file/);
  });
});

/** Connects to the demo's port once it listens (every 50 ms, at most `timeoutMs`). */
async function joinWhenListening(port: number, timeoutMs = 15_000): Promise<LineClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await lineClient(port);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

describe("lab demo --port (#20)", () => {
  it("listens on the port given, so a raw TCP client (what nc does) joins the demo's room", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const demo = startLab(["demo", "--script", "-", "--port", String(port), "--expect-timeout", "15s"]);
    demo.write("clients 1\nexpect client 1: <visitor> hello from nc\nclient 1: welcome, visitor\n");
    demo.endInput();
    const nc = await joinWhenListening(port);
    await nc.waitFor(/netlab chat\/1 .*you are/);
    nc.send("/nick visitor");
    await nc.waitFor("is now known as visitor");
    nc.send("hello from nc");
    await nc.waitFor("<alice> welcome, visitor");
    expect(await demo.exited, demo.stderr()).toBe(0);
    expect(pane(demo.stdout(), new RegExp(`^== server 127\\.0\\.0\\.1:${port} `))).toContain(
      `listening on 127.0.0.1:${port}`,
    );
    expect(pane(demo.stdout(), /^== client 1 alice/)).toContain("<visitor> hello from nc");
  });

  it("says the port is taken, with a hint, and exits 1 when another server holds it", async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const r = await runLab(["demo", "--script", "-", "--port", String(port)], { input: "wait 1\n" });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `lab: port ${port} on 127.0.0.1 is already in use\nhint: stop the other server or choose another --port\n`,
      );
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it.each(["-1", "65536", "http"])("rejects --port %s with a usage error", async (value) => {
    const r = await runLab(["demo", "--port", value]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`lab: --port must be a whole number from 0 to 65535, got "${value}"`);
  });
});

describe("lab demo --rate (#20)", () => {
  it("takes a rate in netlab's units and refuses one it cannot read, or outside the transfer scene", async () => {
    const bad = await runLab(["demo", "--scene", "transfer", "--rate", "fast"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      'lab: --rate must be a rate such as 1MiB/s or 500K (a bare number is bytes per second), got "fast"',
    );
    const chat = await runLab(["demo", "--rate", "1MiB/s"]);
    expect(chat.code).toBe(2);
    expect(chat.stderr).toContain("lab: --rate slows the transfer scene only");
    // A good rate passes parsing and reaches the terminal check.
    const ok = await runLab(["demo", "--scene", "transfer", "--rate", "1MiB/s"]);
    expect(ok.code).toBe(2);
    expect(ok.stderr).toContain("needs a terminal");
  });
});

describe("lab demo --cluster without redis (#16)", () => {
  it("says redis-server is not installed, with the apt and brew commands, and exits 1", async () => {
    // PATH is a folder of scripts only (lab runs by node's full path): no redis-server to find.
    const r = await runLab(["demo", "--cluster", "--script", "-"], { input: "wait 1\n", env: { PATH: dir } });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "lab: lab demo --cluster needs redis-server, and it is not installed\n" +
        "hint: install it (sudo apt-get install redis-server, or brew install redis), or pass a URL: lab demo --cluster redis://HOST:PORT\n",
    );
    expect(r.stdout).toBe("");
  });

  it("refuses a URL that is not redis://, and --cluster with another scene or --tls, with exit 2", async () => {
    const scheme = await runLab(["demo", "--cluster", "http://127.0.0.1:6379", "--script", "-"], {
      input: "",
    });
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(
      /^lab: --cluster "http:\/\/127\.0\.0\.1:6379": the scheme is "http", not redis\nhint: /,
    );
    const udp = await runLab(["demo", "--cluster", "--scene", "udp"]);
    expect(udp.code).toBe(2);
    expect(udp.stderr).toContain("lab: --cluster runs the chat scene only");
    const tls = await runLab(["demo", "--cluster", "--tls"]);
    expect(tls.code).toBe(2);
    expect(tls.stderr).toContain("lab: --cluster and --tls do not go together in the demo");
  });
});
