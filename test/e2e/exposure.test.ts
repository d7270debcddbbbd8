import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  canIsolateNetwork,
  ISOLATION_MISSING,
  LAB_BIN,
  type LabProcess,
  runLab,
  runLabInNetworkOf,
  startLab,
  startLabIsolated,
  startProcess,
} from "../helpers/lab.js";

// Every bind beyond loopback here runs in a network namespace of its own (nothing but its
// loopback): no other machine can reach these servers while the tests run.
if (!canIsolateNetwork) console.warn(`exposure warnings beyond loopback: ${ISOLATION_MISSING}`);

/** The one warn line every server logs when others can reach it (docs/security.md). */
function warning(where: string, what: string, subject = ""): RegExp {
  const quote = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    `warn {2}${quote(subject)}${quote(where)} is reachable from other machines, and anyone who reaches it can ${quote(what)} \\(docs/security\\.md\\)\\n`,
  );
}

/** The port in `lab`'s ready line (`listening on udp 0.0.0.0:PORT`, `proxying [::]:PORT → …`). */
async function readyPort(lab: LabProcess, pattern: RegExp): Promise<number> {
  const line = await lab.waitForOutput(pattern);
  return Number(/:(\d+)\b/.exec(line)![1]);
}

/** Stops `lab` with Ctrl-C and says how many lines of its stderr warn of exposure. */
async function exposureLines(lab: LabProcess): Promise<number> {
  expect(await lab.stop("SIGINT")).toBe(0);
  return lab
    .stderr()
    .split("\n")
    .filter((l) => l.includes("reachable from other machines")).length;
}

const dir = mkdtempSync(join(tmpdir(), "netlab-exposure-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ECHO_WHAT =
  "aim its echoes at any address by forging the source, at most 256.0 KiB/s at each (--reply-rate)";

describe("lab udp: exposure", () => {
  it.skipIf(!canIsolateNetwork)(
    "udp echo and udp listen on every interface warn once who can reach them and what they can do",
    async () => {
      const echo = startLabIsolated(["udp", "echo", "--host", "0.0.0.0", "--port", "0"]);
      await echo.waitForOutput(warning("every interface (0.0.0.0)", ECHO_WHAT));
      const unlimited = startLabIsolated([
        "udp",
        "echo",
        "--host",
        "::",
        "--port",
        "0",
        "--reply-rate",
        "unlimited",
      ]);
      await unlimited.waitForOutput(
        warning(
          "every interface ([::])",
          "aim its echoes at any address by forging the source, at any rate (--reply-rate unlimited)",
        ),
      );
      const listen = startLabIsolated(["udp", "listen", "--host", "::", "--port", "0"]);
      await listen.waitForOutput(warning("every interface ([::])", "send it datagrams, which it prints"));
      for (const lab of [echo, unlimited, listen]) expect(await exposureLines(lab)).toBe(1);
    },
    30_000,
  );

  it("udp echo and udp listen on loopback say nothing of exposure", async () => {
    const echo = startLab(["udp", "echo", "--port", "0"]);
    const echo6 = startLab(["udp", "echo", "-6", "--port", "0"]);
    const listen = startLab(["udp", "listen", "--host", "127.0.0.2", "--port", "0"]);
    for (const lab of [echo, echo6, listen]) await lab.waitForOutput(/listening on udp /);
    for (const lab of [echo, echo6, listen]) expect(await exposureLines(lab)).toBe(0);
  }, 30_000);

  it.skipIf(!canIsolateNetwork)(
    "udp echo sends one source no more than --reply-burst and --reply-rate allow, and a loopback source all",
    async () => {
      // A second address on the namespace's loopback device: a ping from it comes from 10.99.0.1,
      // a source the limit applies to, as one from another machine would.
      const echo = startProcess(
        "unshare",
        [
          "-rn",
          "sh",
          "-c",
          'ip link set lo up && ip addr add 10.99.0.1/32 dev lo && exec "$@"',
          "sh",
          process.execPath,
          LAB_BIN,
          ...["udp", "echo", "--host", "0.0.0.0", "--port", "0", "-v"],
          // 10 probes of 100 bytes (128 with headers) fill the burst; 1 B/s refills nothing in the test.
          ...["--reply-rate", "1", "--reply-burst", "1280"],
        ],
        { name: "lab udp echo (isolated, with 10.99.0.1)" },
      );
      const port = await readyPort(echo, /listening on udp 0\.0\.0\.0:\d+/);
      const ping = (host: string) =>
        runLabInNetworkOf(
          echo,
          ["udp", "ping", "--host", host, "--port", String(port), "-c", "20"].concat([
            "--interval",
            "20ms",
            "-W",
            "500ms",
            "--size",
            "100",
            "--json",
          ]),
        );
      const remote = await ping("10.99.0.1");
      expect(JSON.parse(remote.stdout)).toMatchObject({ transmitted: 20, received: 10 });
      await echo.waitForOutput(
        /#11 10\.99\.0\.1:\d+ {2}100 bytes {2}not echoed, over --reply-rate for this source\n/,
      );
      const local = await ping("127.0.0.1");
      expect(JSON.parse(local.stdout)).toMatchObject({ transmitted: 20, received: 20 });
      expect(await echo.stop("SIGINT")).toBe(0);
      expect(echo.stderr()).toMatch(/stopped after 40 datagrams \(.*; 10 not echoed over --reply-rate\)/);
    },
    30_000,
  );

  it("refuses a --reply-rate, --reply-burst or --max-reply-sources it cannot use, naming it", async () => {
    for (const [flag, value, message] of [
      ["--reply-rate", "fast", /--reply-rate must be a rate such as 256KiB\/s .* or unlimited, got "fast"/],
      ["--reply-rate", "0", /--reply-rate must be a rate/],
      ["--reply-burst", "0", /--reply-burst must be a size of 1 B or more/],
      ["--max-reply-sources", "0", /--max-reply-sources must be/],
    ] as const) {
      const r = await runLab(["udp", "echo", "--port", "0", flag, value]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe("lab proxy: exposure", () => {
  it.skipIf(!canIsolateNetwork)(
    "a proxy beyond loopback warns it is an open relay to its upstream; an --api-allow-remote API warns anyone can drive it",
    async () => {
      const tcp = startLabIsolated(
        ["proxy", "0.0.0.0:0", "127.0.0.1:9", "--no-check-upstream"].concat([
          "--api",
          "[::]:0",
          "--api-allow-remote",
        ]),
      );
      await tcp.waitForOutput(warning("every interface (0.0.0.0)", "connect through it to 127.0.0.1:9"));
      await tcp.waitForOutput(
        warning(
          "every interface ([::])",
          "open ports here that relay to any address, and add toxics to or reset every proxy",
          "the API on ",
        ),
      );
      // A proxy made through the API on an open address is one more open relay: said as it opens.
      const api = Number(/api on http:\/\/\[::\]:(\d+)/.exec(await tcp.waitForOutput(/api on http:\S+/))![1]);
      const made = await runLabInNetworkOf(tcp, [
        "get",
        `http://[::1]:${api}/proxies`,
        "-X",
        "POST",
        "-d",
        JSON.stringify({ name: "open", listen: "0.0.0.0:0", upstream: "127.0.0.1:9" }),
      ]);
      expect(made.code, made.stderr).toBe(0);
      await tcp.waitForOutput(
        warning("every interface (0.0.0.0)", "connect through it to 127.0.0.1:9", "proxy open on "),
      );
      const udp = startLabIsolated(["proxy", "--udp", "[::]:0", "127.0.0.1:9"]);
      await udp.waitForOutput(
        warning(
          "every interface ([::])",
          "relay datagrams through it to 127.0.0.1:9, and aim the replies at any address by forging the source, at most 256.0 KiB/s at each (--reply-rate)",
        ),
      );
      expect(await exposureLines(tcp)).toBe(3);
      expect(await exposureLines(udp)).toBe(1);
    },
    30_000,
  );

  it("a proxy, its API and a proxy made through it on loopback say nothing of exposure", async () => {
    const tcp = startLab(["proxy", ":0", "127.0.0.1:9", "--no-check-upstream", "--api", "127.0.0.1:0"]);
    const udp = startLab(["proxy", "--udp", "[::1]:0", "[::1]:9"]);
    const api = /api on http:\/\/(\S+)/.exec(await tcp.waitForOutput(/api on http:\S+/))![1]!;
    const made = await runLab([
      "get",
      `http://${api}/proxies`,
      "-X",
      "POST",
      "-d",
      '{"name":"two","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}',
    ]);
    expect(made.code, made.stderr).toBe(0);
    await udp.waitForOutput(/emulating each way/);
    expect(await exposureLines(tcp)).toBe(0);
    expect(await exposureLines(udp)).toBe(0);
  }, 30_000);
});

describe("lab server --mode echo|upper, lab files --raw, lab replay --as-server: exposure", () => {
  it.skipIf(!canIsolateNetwork)(
    "each says who can reach it beyond loopback, and nothing on loopback",
    async () => {
      const file = join(dir, "notes.txt");
      writeFileSync(file, "private\n");
      const rec = join(dir, "s.jsonl");
      writeFileSync(
        rec,
        '{"netlab":"session","v":1,"ts":0,"side":"server"}\n{"type":"open","t":0,"conn":1,"transport":"tcp","client":"127.0.0.1:1","server":"127.0.0.1:2"}\n',
      );
      const upper = startLabIsolated(["server", "--mode", "upper", "--host", "0.0.0.0", "--port", "0"]);
      await upper.waitForOutput(warning("every interface (0.0.0.0)", "have any line sent back upper-cased"));
      const raw = startLabIsolated(["files", "--raw", file, "--host", "::", "--port", "0"]);
      await raw.waitForOutput(warning("every interface ([::])", `download ${file}`));
      const replay = startLabIsolated([
        "replay",
        rec,
        "--as-server",
        "--listen",
        "[::]:0",
        "--accept-wait",
        "30",
      ]);
      await replay.waitForOutput(
        "lab: warning: every interface ([::]) is reachable from other machines, and anyone who reaches it can connect and be played the recording's server side (docs/security.md)\n",
      );
      for (const lab of [upper, raw]) expect(await exposureLines(lab)).toBe(1);
      replay.child.kill("SIGINT");
      await replay.exited;

      const quiet = [
        startLab(["server", "--mode", "upper", "--port", "0"]),
        startLab(["files", "--raw", file, "--port", "0"]),
        startLab(["replay", rec, "--as-server", "--accept-wait", "30"]),
      ];
      for (const lab of quiet) await lab.waitForOutput(/listening on|serving /);
      for (const lab of quiet) {
        lab.child.kill("SIGINT");
        await lab.exited;
        expect(lab.stderr()).not.toContain("reachable from other machines");
      }
    },
    30_000,
  );
});
