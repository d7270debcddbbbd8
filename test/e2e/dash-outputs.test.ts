import { spawnSync } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import getPort from "get-port";
import { describe, expect, it, onTestFinished } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { eventLineSchema, sessionHeaderSchema, sessionRecordSchema } from "../../packages/watch/src/index.js";
import { runLab, startLab, startServer } from "../helpers/lab.js";
import { watchTempDir } from "../helpers/watch.js";

/** `lab server` (chat) on a free port in `cwd`, with `extra` flags. */
const serverIn = (cwd: string, extra: string[]) =>
  startServer(
    (p) => ["server", "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p}`,
    { cwd },
  );

/** One plain-text client that says hello and leaves; resolves once its connection is closed. */
async function hello(port: number): Promise<void> {
  const a = await lineClient(port);
  await a.waitFor(/welcome/);
  a.send("hello over stdout");
  a.socket.end();
  await a.closed;
}

const lines = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as unknown);

// `-` was taken as a file name: each of these wrote a file named "-" in the current folder.
describe("a watch output given as - (stdout)", () => {
  it("lab server --events - writes the events to stdout, and no file named -", async () => {
    const dir = await watchTempDir();
    const { lab, port } = await serverIn(dir, ["--events", "-"]);
    await hello(port);
    await lab.waitForOutput(/disconnect .*#1/);
    expect(await lab.stop("SIGINT")).toBe(0);
    const events = lines(lab.stdout()).map((l) => eventLineSchema.parse(l));
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(["server.listen", "connection.close"]));
    // The log stays on stderr, apart from the events.
    expect(lab.stderr()).toContain("listening on");
    expect(lab.stderr()).not.toContain('"event"');
    expect(existsSync(join(dir, "-"))).toBe(false);
  });

  it("lab server --record - writes the recording to stdout, and --hexdump (no file) stays on stderr", async () => {
    const dir = await watchTempDir();
    const { lab, port } = await serverIn(dir, ["--record", "-", "--hexdump"]);
    await hello(port);
    await lab.waitForOutput(/disconnect .*#1/);
    expect(await lab.stop("SIGINT")).toBe(0);
    const [header, ...records] = lines(lab.stdout());
    sessionHeaderSchema.parse(header);
    for (const r of records) sessionRecordSchema.parse(r);
    expect(lab.stderr()).toMatch(/^[0-9a-f]{8} {2}/m);
    expect(existsSync(join(dir, "-"))).toBe(false);
  });

  it("refuses two outputs that both ask for stdout, with exit 2 and nothing created", async () => {
    const dir = await watchTempDir();
    const r = await runLab(["server", "--port", "0", "--events", "-", "--record", "-"], { cwd: dir });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --events - and --record - both ask for stdout\nhint: give one of them a file, such as --record session.jsonl\n",
    });
    expect(existsSync(join(dir, "-"))).toBe(false);
  });

  it.each([
    [["client", "--port", "1", "--events", "-"], "--events", "lab client", "what the server sends"],
    [["client", "--port", "1", "--record", "-"], "--record", "lab client", "what the server sends"],
    [["udp", "ping", "--port", "1", "-c", "1", "--hexdump", "-"], "--hexdump", "lab udp ping", "its replies"],
    [["udp", "listen", "--port", "0", "--events", "-"], "--events", "lab udp listen", "the datagrams"],
    [["transfer", "--list", "--port", "1", "--events", "-"], "--events", "lab transfer", "its results"],
  ])(
    "lab %j refuses - where stdout is the command's own output (exit 2)",
    async (args, flag, command, what) => {
      const dir = await watchTempDir();
      const r = await runLab(args, { cwd: dir });
      const example = { "--events": "events.jsonl", "--hexdump": "hexdump.txt", "--record": "session.jsonl" }[
        flag
      ];
      const hint =
        flag === "--record"
          ? `give a file, such as --record ${example}`
          : `give a file, such as ${flag} ${example}, or leave out the - for stderr`;
      expect(r).toMatchObject({
        code: 2,
        stderr: `lab: ${flag} - would write to stdout, which is ${command}'s output (${what})\nhint: ${hint}\n`,
      });
      expect(existsSync(join(dir, "-"))).toBe(false);
    },
  );
});

describe("a watch option's usage error", () => {
  // The options are read in a preAction hook, whose errors skipped the action's reporting: exit 1
  // with "this is a bug in lab".
  it("--events-queue 0 is a usage error (exit 2) with the range, not a bug", async () => {
    const r = await runLab(["server", "--port", "0", "--events", "--events-queue", "0"]);
    expect(r).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(
        /^lab: --events-queue must be a whole number from 1 to 10000000, got "0"\n/,
      ),
    });
    expect(r.stderr).not.toContain("bug");
  });
});

describe("lab check --transcript -", () => {
  // It made a folder named "-": a transcript is one file per test, and stdout is the report.
  it("is a usage error that names a folder to give, and makes nothing", async () => {
    const dir = await watchTempDir();
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["check", "line", "--transcript", "-", String(port)], { cwd: dir });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --transcript takes a folder for one file per test, not - (stdout is lab check's report)\nhint: give a folder, such as --transcript transcripts (made if missing)\n",
    });
    expect(existsSync(join(dir, "-"))).toBe(false);
  });
});

describe("watch outputs that cannot all be written", () => {
  it("refuses two outputs given the same file (their lines would interleave in it), and makes nothing", async () => {
    const dir = await watchTempDir();
    const r = await runLab(["server", "--port", "0", "--events", "x.jsonl", "--record", "./x.jsonl"], {
      cwd: dir,
    });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --events and --record both write x.jsonl\nhint: give each its own file, such as --record session.jsonl\n",
    });
    expect(existsSync(join(dir, "x.jsonl"))).toBe(false);
  });

  it.each([
    ["--record=", "give a file, such as --record session.jsonl (- for stdout)"],
    ["--hexdump=", "give a file, such as --hexdump hexdump.txt (- for stdout), or no file for stderr"],
  ])("%s (an empty file name) is a usage error, not 'cannot write'", async (flag, hint) => {
    const r = await runLab(["server", "--port", "0", flag], { cwd: await watchTempDir() });
    expect(r).toMatchObject({
      code: 2,
      stderr: `lab: ${flag.slice(0, -1)} needs a file name, got ""\nhint: ${hint}\n`,
    });
  });
});

describe("a watch option without the output it changes", () => {
  // Each was ignored in silence: a user who typed --events-bodies expected bodies somewhere.
  it.each([
    [
      ["--events-bodies"],
      "--events-bodies changes --events, which is not given",
      "add --events (stderr) or --events FILE, or drop --events-bodies",
    ],
    [
      ["--events-queue", "100"],
      "--events-queue changes --events and --hexdump, neither of which is given",
      "add --events or --hexdump, or drop --events-queue",
    ],
    [
      ["--no-redact", "--events"],
      "--no-redact changes --hexdump and --record, neither of which is given",
      "add --hexdump or --record FILE, or drop --no-redact",
    ],
  ])("lab server %j is a usage error", async (flags, message, hint) => {
    const r = await runLab(["server", "--port", "0", ...flags], { cwd: await watchTempDir() });
    expect(r).toMatchObject({ code: 2, stderr: `lab: ${message}\nhint: ${hint}\n` });
  });

  it("names only the outputs the command has: lab udp send has no --record", async () => {
    const port = String(await getPort({ host: "127.0.0.1" }));
    const r = await runLab(["udp", "send", `127.0.0.1:${port}`, "hi", "--no-redact"]);
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --no-redact changes --hexdump, which is not given\nhint: add --hexdump, or drop --no-redact\n",
    });
  });
});

describe("lab get -o", () => {
  // Nothing listens at the URL: each used to connect, then drop the body or fail on a rename.
  it("-o - with --json is a usage error: both would write to stdout (the body was dropped)", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["get", `http://127.0.0.1:${port}/a.txt`, "-o", "-", "--json"]);
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: -o - and --json both write to stdout\nhint: give -o FILE for the body (the JSON says where it went), or drop one of them\n",
    });
  });

  it("-o '' is a usage error, not Node's rename error", async () => {
    const port = await getPort({ host: "127.0.0.1" });
    const r = await runLab(["get", `http://127.0.0.1:${port}/a.txt`, "-o", ""]);
    expect(r).toMatchObject({
      code: 2,
      stderr:
        'lab: -o needs a file name, got ""\nhint: give a file (-O names it after the URL), or - for stdout\n',
    });
  });
});

describe("an empty file name", () => {
  // Each read as a file error about a file with no name ("cannot write : …", "token file  does
  // not exist", "lab: : no such file"), exit 1, some after connecting.
  it.each([
    [
      ["session", "export", "s.jsonl", "--pcap", ""],
      "--pcap",
      "give a file, such as --pcap session.pcap, or - for stdout",
    ],
    [
      ["transfer", "--get", "x", "--port", "PORT", "-o", ""],
      "-o",
      "give a file or a folder, or leave -o out to save it here under its name",
    ],
    [
      ["server", "--port", "0", "--token-file", ""],
      "--token-file",
      "give the file that holds the tokens, one per line",
    ],
    [
      ["client", "--port", "PORT", "--token-file", ""],
      "--token-file",
      "give the file that holds the tokens, one per line",
    ],
    [["files", "--raw", "", "--port", "0"], "--raw", "give the file to send to each client"],
  ])("lab %j is a usage error", async (words, flag, hint) => {
    const dir = await watchTempDir();
    await writeFile(join(dir, "s.jsonl"), '{"netlab":"session","v":1,"ts":0,"side":"server"}\n');
    const port = String(await getPort({ host: "127.0.0.1" }));
    const r = await runLab(
      words.map((w) => w.replace("PORT", port)),
      { cwd: dir, input: "" },
    );
    expect(r).toMatchObject({ code: 2, stderr: `lab: ${flag} needs a file name, got ""\nhint: ${hint}\n` });
  });

  it("lab files --raw - is a usage error: each client gets the whole file, and stdin is read once", async () => {
    const r = await runLab(["files", "--raw", "-", "--port", "0"], { input: "" });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --raw - would send stdin, which can be read only once, and each client gets the whole file\nhint: save it to a file first (cat > FILE), then --raw FILE\n",
    });
  });
});

describe.skipIf(!existsSync("/dev/full"))("a watch output that fails while the server runs", () => {
  // The failure was silent until Ctrl-C, then one raw line ("lab: ENOSPC: no space left on
  // device, write"), and the exit was 1.
  it("is said once, when it happens, naming the output; the server goes on and stops with exit 0", async () => {
    const dir = await watchTempDir();
    const { lab, port } = await serverIn(dir, ["--events", "/dev/full"]);
    await hello(port);
    await lab.waitForOutput(
      "lab: --events stopped: cannot write /dev/full: the disk is full (the rest goes on without it)",
      { stream: "stderr" },
    );
    await hello(port);
    await lab.waitForOutput(/disconnect .*#2/);
    expect(await lab.stop("SIGINT")).toBe(0);
    expect(lab.stderr().match(/--events stopped/g)).toHaveLength(1);
    expect(lab.stderr()).not.toContain("ENOSPC");
  });
});

describe("--token-file -", () => {
  // It read as "token file - does not exist", a hint to create a file named "-".
  it.each([[["server", "--port", "0"]], [["client", "--port", "PORT"]]])(
    "lab %j says tokens come from a file, not stdin (exit 2)",
    async (words) => {
      const port = String(await getPort({ host: "127.0.0.1" }));
      const r = await runLab([...words.map((w) => w.replace("PORT", port)), "--token-file", "-"], {
        cwd: await watchTempDir(),
        input: "",
      });
      expect(r).toMatchObject({
        code: 2,
        stderr:
          "lab: --token-file - : tokens are read from a file, not stdin\nhint: put them in a file only you can read (chmod 600), one per line, or set LAB_TOKEN for a client\n",
      });
    },
  );
});

describe("a watch output given a file the command reads", () => {
  // The outputs are opened (truncated) before the action: lab transfer a.txt --events a.txt
  // emptied a.txt, then uploaded nothing.
  it.each([
    [["transfer", "a.txt", "--port", "PORT", "--events", "a.txt"], "--events", "a.txt"],
    [["files", "--raw", "a.txt", "--port", "0", "--hexdump", "./a.txt"], "--hexdump", "./a.txt"],
    [["server", "--port", "0", "--token-file", "a.txt", "--record", "a.txt"], "--record", "a.txt"],
  ])("lab %j is a usage error, and the file is left as it was", async (words, flag, file) => {
    const dir = await watchTempDir();
    await writeFile(join(dir, "a.txt"), "precious\n");
    const port = String(await getPort({ host: "127.0.0.1" }));
    const r = await runLab(
      words.map((w) => w.replace("PORT", port)),
      { cwd: dir, input: "" },
    );
    expect(r).toMatchObject({
      code: 2,
      stderr: `lab: ${flag} ${file} would overwrite a file this command reads\nhint: give ${flag} another file, such as ${flag} ${{ "--events": "events.jsonl", "--hexdump": "hexdump.txt", "--record": "session.jsonl" }[flag]}\n`,
    });
    expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("precious\n");
  });
});

describe("a watch output's file is written only once the command is under way", () => {
  // The outputs were opened (created, truncated) in a hook before the command's own checks:
  // lab transfer --events a.txt (the optional FILE took the file to upload) emptied a.txt and then
  // failed for the missing file, and any usage error left an empty output file behind.
  it("lab transfer --events a.txt fails for the missing upload and leaves a.txt as it was", async () => {
    const dir = await watchTempDir();
    await writeFile(join(dir, "a.txt"), "precious\n");
    const port = String(await getPort({ host: "127.0.0.1" }));
    const r = await runLab(["transfer", "--port", port, "--events", "a.txt"], { cwd: dir, input: "" });
    expect(r).toMatchObject({ code: 2, stderr: expect.stringMatching(/^lab: name the files to upload\n/) });
    expect(await readFile(join(dir, "a.txt"), "utf8")).toBe("precious\n");
  });

  it.each([
    [["server", "--host", "not an address!", "--port", "0", "--events", "out.txt"], /is not a host name/],
    [["client", "--port", "70000", "--hexdump", "out.txt"], /--port must be a whole number/],
    [["server", "--port", "0", "--record", "out.txt", "--idle-timeout", "soon"], /--idle-timeout/],
    [["udp", "ping", "-c", "0", "--events", "out.txt"], /-c|count/],
  ])("lab %j is a usage error that makes no file", async (words, message) => {
    const dir = await watchTempDir();
    const r = await runLab(words, { cwd: dir, input: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(join(dir, "out.txt"))).toBe(false);
  });

  it("a command that fails before it does anything leaves an existing file as it was", async () => {
    const dir = await watchTempDir();
    await writeFile(join(dir, "ev.jsonl"), "last run\n");
    const port = String(await getPort({ host: "127.0.0.1" }));
    const r = await runLab(["transfer", "missing.txt", "--port", port, "--events", "ev.jsonl"], {
      cwd: dir,
      input: "",
    });
    expect(r.code).toBe(1);
    expect(await readFile(join(dir, "ev.jsonl"), "utf8")).toBe("last run\n");
  });

  it("a server still refuses to start when its --record file cannot be created, before it listens", async () => {
    const dir = await watchTempDir();
    await writeFile(join(dir, "plain"), "");
    const r = await runLab(["server", "--port", "0", "--record", join(dir, "plain", "s.jsonl")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lab: cannot write .*s\.jsonl: /);
    expect(r.stderr).not.toContain("listening");
  });
});

describe("a watch output that is a FIFO", () => {
  // Opening a FIFO waits for its reader: the server sat there without a word.
  it("says it waits for the FIFO's reader, then serves once one opens it", async () => {
    const dir = await watchTempDir();
    const fifo = join(dir, "events.fifo");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    const lab = startLab(["server", "--port", "0", "--events", fifo]);
    await lab.waitForOutput(
      `lab: --events ${fifo} is a FIFO: waiting for a reader to open it (such as cat ${fifo})`,
      { stream: "stderr" },
    );
    const reader = createReadStream(fifo);
    onTestFinished(() => {
      reader.destroy();
    });
    let read = "";
    reader.on("data", (d) => {
      read += d.toString();
    });
    await lab.waitForOutput(/listening on 127\.0\.0\.1:\d+/);
    expect(await lab.stop("SIGINT")).toBe(0);
    await new Promise<void>((resolve) => (reader.closed ? resolve() : reader.once("close", () => resolve())));
    expect(read).toContain('"event":"server.listen"');
  });
});

describe("an optional FILE that is an address", () => {
  // --hexdump and --events take an optional FILE: `lab udp ping --hexdump 127.0.0.1:PORT` wrote a
  // hexdump file named "127.0.0.1:PORT" and pinged the default address instead.
  it.each([
    [["udp", "ping", "-c", "1", "--hexdump", "127.0.0.1:PORT"], "--hexdump", "127.0.0.1:PORT"],
    [["client", "--events", "[::1]:PORT"], "--events", "[::1]:PORT"],
    [["client", "--events", "unix:/tmp/netlab-dash.sock"], "--events", "unix:/tmp/netlab-dash.sock"],
  ])("lab %j is a usage error, and no such file is made", async (words, flag, value) => {
    const dir = await watchTempDir();
    const port = String(await getPort({ host: "127.0.0.1" }));
    const shown = value.replace("PORT", port);
    const r = await runLab(
      words.map((w) => w.replace("PORT", port)),
      { cwd: dir, input: "" },
    );
    expect(r).toMatchObject({
      code: 2,
      stderr: `lab: ${flag} took ${shown} for its file, but it is an address\nhint: put the address before ${flag}, or write ${flag} ./${shown} for a file of that name\n`,
    });
    expect(existsSync(join(dir, shown))).toBe(false);
  });
});

describe("lab session export --pcap onto its own recording", () => {
  // It read the recording, then wrote the capture over it.
  it("is a usage error, and the recording is left as it was", async () => {
    const dir = await watchTempDir();
    const rec = '{"netlab":"session","v":1,"ts":0,"side":"server"}\n';
    await writeFile(join(dir, "s.jsonl"), rec);
    const r = await runLab(["session", "export", "s.jsonl", "--pcap", "./s.jsonl"], { cwd: dir });
    expect(r).toMatchObject({
      code: 2,
      stderr:
        "lab: --pcap ./s.jsonl is the recording it reads\nhint: give another file, such as --pcap session.pcap\n",
    });
    expect(await readFile(join(dir, "s.jsonl"), "utf8")).toBe(rec);
  });
});
