// #15 authentication, end to end: the built `lab` with --token-file, and raw sockets playing nc.
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { runLab, startLabOnTerminal, startServer } from "../helpers/lab.js";

const RW = "rw-token-0123456789abcdef";
const RO = "ro-token-0123456789abcdef";
const ALICE = "alice-token-0123456789abc";

let dir: string;
let tokens: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "netlab-e2e-auth-"));
  tokens = path.join(dir, "tokens.txt");
  await writeFile(tokens, `# chat and files\n${RW}:rw\n${RO}:ro\nalice:${ALICE}\n`, { mode: 0o600 });
  await chmod(tokens, 0o600);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function chatServer(extra: string[] = ["--token-file", tokens, "--allow-plaintext-auth"]) {
  return startServer(
    (p) => ["server", "--port", String(p), ...extra],
    (p) => `listening on 127.0.0.1:${p}`,
  );
}

/** A raw TCP client, as nc: lines in, lines out, from a chosen local address. */
async function rawClient(port: number, localAddress = "127.0.0.1") {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  onTestFinished(() => {
    socket.destroy();
  });
  let text = "";
  let isClosed = false;
  const waiters = new Set<() => void>();
  socket.setEncoding("utf8");
  socket.on("data", (d: string) => {
    text += d;
    for (const w of [...waiters]) w();
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    isClosed = true;
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return {
    text: () => text,
    write: (line: string) => socket.write(`${line}\n`),
    /** Resolves once the text so far matches `re` (or rejects after `timeoutMs`, or at close without a match). */
    waitFor(re: RegExp, timeoutMs = 10_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(text)) done(resolve);
          else if (isClosed) done(() => reject(new Error(`closed before ${re}; got:\n${text}`)));
        };
        const timer = setTimeout(
          () => done(() => reject(new Error(`timed out waiting for ${re}; got:\n${text}`))),
          timeoutMs,
        );
        const done = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
    closed: () =>
      new Promise<void>((resolve) => {
        if (isClosed) resolve();
        else socket.once("close", () => resolve());
      }),
  };
}

describe("chat with --token-file", () => {
  it("greets a text client with one line asking for /auth, refuses anything else first, then lets it in", async () => {
    const { port } = await chatServer();
    const watcher = await rawClient(port);
    await watcher.waitFor(/\[AUTH_REQUIRED\]\n/);
    expect(watcher.text().split("\n")[0]).toMatch(
      /requires a token: send \/auth TOKEN first \[AUTH_REQUIRED\]$/,
    );
    watcher.write(`/auth ${RW}`);
    await watcher.waitFor(/token accepted: you are guest-\d+/);
    await watcher.waitFor(/joined #lobby/);

    const nc = await rawClient(port);
    await nc.waitFor(/\[AUTH_REQUIRED\]\n/);
    nc.write("sneaky message");
    await nc.waitFor(/! this server requires a token: send \/auth TOKEN first \[AUTH_REQUIRED\]/);
    nc.write(`/auth ${ALICE}`);
    await nc.waitFor(/token accepted: you are alice\./);
    nc.write("hello from alice");
    await watcher.waitFor(/<alice> hello from alice/);
    expect(watcher.text()).not.toContain("sneaky");
    nc.write("/nick mallory");
    await nc.waitFor(/your nick is bound to your token.*\[NICK_BOUND\]/);
  });

  it("closes a text client whose token is wrong, with one line saying so", async () => {
    const { port } = await chatServer();
    const nc = await rawClient(port);
    nc.write("/auth not-the-token");
    await nc.waitFor(/! the server refused the token \[AUTH_FAILED\]/);
    await nc.closed();
  });

  it(":ro is listen-only: it reads the room but cannot send or rename", async () => {
    const { port } = await chatServer();
    const listener = await rawClient(port);
    listener.write(`/auth ${RO}`);
    await listener.waitFor(/\(listen-only\)/);
    listener.write("can I talk?");
    await listener.waitFor(/listen-only.*\[READ_ONLY\]/);
    listener.write("/nick loud");
    await listener.waitFor(/\[READ_ONLY\][\s\S]*\[READ_ONLY\]/);
    const r = await runLab(["client", "--port", String(port), "--token-file", tokens], {
      input: "for the listeners\n",
    });
    expect(r.code).toBe(0);
    await listener.waitFor(/for the listeners/);
    expect(listener.text()).not.toContain("can I talk?");
  });

  it("lab client sends the token in hello.token, from LAB_TOKEN or --token-file; the name binds the nick", async () => {
    const { port } = await chatServer();
    const fromEnv = await runLab(["client", "--port", String(port), "--json"], {
      input: "hi\n",
      env: { LAB_TOKEN: ALICE },
    });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toMatch(/"type":"welcome"[^\n]*"nick":"alice"/);
    const file = path.join(dir, "mine.txt");
    await writeFile(file, `${RW}\n`, { mode: 0o600 });
    const fromFile = await runLab(["client", "--port", String(port), "--json", "--token-file", file], {
      input: "hi\n",
    });
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/"type":"welcome"/);
  });

  it("lab client exits non-zero when the server refuses the token, or wants one it does not have", async () => {
    const { port } = await chatServer();
    const wrong = await runLab(["client", "--port", String(port)], {
      input: "hi\n",
      env: { LAB_TOKEN: "wrong" },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^lab: the server refused the token\nhint: .+/m);
    const none = await runLab(["client", "--port", String(port)], { input: "hi\n", env: { LAB_TOKEN: "" } });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^lab: LAB_TOKEN is set but empty\nhint: /m);
    const missing = await runLab(["client", "--port", String(port)], { input: "hi\n" });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lab: the server requires a token\nhint: .*--token-file/m);
  });
});

const startOnTty = (args: string[]) => startLabOnTerminal(args);

describe("the token prompt on a terminal", () => {
  it("lab client asks for the token only when the server wants one, and does not echo it", async () => {
    const { port } = await chatServer();
    const client = startOnTty(["client", "--port", String(port)]);
    await client.waitForOutput(`token for 127.0.0.1:${port}: `);
    client.write(`${ALICE}\r`);
    await client.waitForOutput("you are alice");
    client.write("q\r");
    expect(await client.exited).toBe(0);
    expect(client.stdout()).not.toContain(ALICE);
  });

  it("lab transfer asks after the server says a token is required, then retries with it", async () => {
    const shared = path.join(dir, "shared");
    await mkdir(shared);
    await writeFile(path.join(shared, "there.txt"), "x\n");
    const { port } = await startServer(
      (p) => ["files", shared, "--port", String(p), "--token-file", tokens, "--allow-plaintext-auth"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const t = startOnTty(["transfer", "--list", "--port", String(port)]);
    await t.waitForOutput(`token for 127.0.0.1:${port}: `);
    t.write(`${RO}\r`);
    await t.waitForOutput("there.txt");
    expect(await t.exited).toBe(0);
    expect(t.stdout()).not.toContain(RO);
  });

  it("Ctrl-D at an empty token prompt answers 'no token' (as sudo's prompt), instead of waiting on", async () => {
    const shared = path.join(dir, "shared-eof");
    await mkdir(shared);
    const { port } = await startServer(
      (p) => ["files", shared, "--port", String(p), "--token-file", tokens, "--allow-plaintext-auth"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const t = startOnTty(["transfer", "--list", "--port", String(port)]);
    await t.waitForOutput(`token for 127.0.0.1:${port}: `);
    t.write("\u0004");
    await t.waitForOutput("lab: the server requires a token");
    expect(await t.exited).toBe(1);
  });
});

describe("bad token inputs", () => {
  it("refuses plaintext auth without --allow-plaintext-auth, in lab server and lab files", async () => {
    for (const args of [
      ["server", "--port", "0", "--token-file", tokens],
      ["files", dir, "--port", "0", "--token-file", tokens],
    ]) {
      const r = await runLab(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^lab: tokens over a plaintext connection can be read by anyone on the path; refusing to start\nhint: .*--allow-plaintext-auth/m,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("says a missing token file does not exist, and refuses an empty token by line", async () => {
    const missing = await runLab([
      "server",
      "--port",
      "0",
      "--token-file",
      path.join(dir, "nope"),
      "--allow-plaintext-auth",
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^lab: token file .*nope does not exist\nhint: /m);
    const empty = path.join(dir, "empty.txt");
    await writeFile(empty, "good-token-0123456789\nbob:\n", { mode: 0o600 });
    const r = await runLab(["files", dir, "--port", "0", "--token-file", empty, "--allow-plaintext-auth"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lab: token file .*empty\.txt, line 2: empty token\nhint: /m);
  });

  it("warns (and still starts) when the token file is readable by others", async () => {
    await chmod(tokens, 0o644);
    const { lab } = await chatServer();
    expect(lab.stderr()).toMatch(
      /^lab: warning: token file .* is readable or writable by other users \(mode 0644\)\nhint: .*chmod 600/m,
    );
  });

  it("warns (and still starts) when lab files' token file is readable by others", async () => {
    await chmod(tokens, 0o640);
    const { lab } = await startServer(
      (p) => ["files", dir, "--port", String(p), "--token-file", tokens, "--allow-plaintext-auth"],
      (p) => `serving ${dir} on 127.0.0.1:${p}`,
    );
    expect(lab.stderr()).toMatch(
      /^lab: warning: token file .* is readable or writable by other users \(mode 0640\)\nhint: .*chmod 600/m,
    );
  });

  it("a client's token file readable by others warns, and the client still joins with it", async () => {
    const { port } = await chatServer();
    const mine = path.join(dir, "mine.txt");
    await writeFile(mine, `${ALICE}\n`);
    await chmod(mine, 0o644);
    const r = await runLab(["client", "--port", String(port), "--token-file", mine], { input: "hi\n" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("<alice> hi");
    expect(r.stderr).toMatch(
      /^lab: warning: token file .*mine\.txt is readable or writable by other users \(mode 0644\)\nhint: .*chmod 600 /m,
    );
  });

  it("an empty token on the client side (a file with none, a blank LAB_TOKEN) is one lab: line, in lab client and lab transfer", async () => {
    const { port } = await chatServer();
    const none = path.join(dir, "none.txt");
    await writeFile(none, "# no token yet\n\n", { mode: 0o600 });
    for (const cmd of [["client"], ["transfer", "--list"]]) {
      const fromFile = await runLab([...cmd, "--port", String(port), "--token-file", none], {
        input: "hi\n",
      });
      expect(fromFile.code, cmd[0]).toBe(1);
      expect(fromFile.stderr).toMatch(/^lab: token file .*none\.txt holds no token\nhint: [^\n]+\n$/);
      const blank = await runLab([...cmd, "--port", String(port)], {
        input: "hi\n",
        env: { LAB_TOKEN: "  " },
      });
      expect(blank.code, cmd[0]).toBe(1);
      expect(blank.stderr).toBe(
        "lab: LAB_TOKEN is set but empty\nhint: unset LAB_TOKEN, or set it to the token\n",
      );
    }
  });

  it("an empty answer at the token prompt is 'the server requires a token', exit 1", async () => {
    const { port } = await chatServer();
    const client = startOnTty(["client", "--port", String(port)]);
    await client.waitForOutput(`token for 127.0.0.1:${port}: `);
    client.write("\r");
    expect(await client.exited).toBe(1);
    expect(client.stdout()).toMatch(/lab: the server requires a token\r?\nhint: /);
  });

  it("refuses a token on argv with a hint, in every command", async () => {
    for (const args of [
      ["client", "--token", "s3cret"],
      ["transfer", "--list", "--token=s3cret"],
      ["server", "--token", "s3cret"],
      ["files", "--token", "s3cret"],
    ]) {
      const r = await runLab(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/^lab: a token on the command line is visible to every user of this machine/m);
      expect(r.stderr).toMatch(/^hint: .*--token-file/m);
    }
  });

  it("--token-file is for the chat mode only", async () => {
    const r = await runLab(["server", "--mode", "echo", "--port", "0", "--token-file", tokens]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^lab: --token-file works with --mode chat only/m);
  });
});

describe("files with --token-file", () => {
  let shared: string;
  let local: string;
  beforeEach(async () => {
    shared = path.join(dir, "shared");
    local = path.join(dir, "local");
    await mkdir(shared);
    await mkdir(local);
    await writeFile(path.join(shared, "there.txt"), "already there\n");
    await writeFile(path.join(local, "up.txt"), "uploaded\n");
  });
  const serve = () =>
    startServer(
      (p) => ["files", shared, "--port", String(p), "--token-file", tokens, "--allow-plaintext-auth"],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
  const transfer = (port: number, args: string[], token?: string) =>
    runLab(["transfer", "--port", String(port), ...args], {
      cwd: local,
      env: token === undefined ? {} : { LAB_TOKEN: token },
    });

  it("an ro token lists and downloads but cannot upload (READ_ONLY); an rw token uploads", async () => {
    const { port } = await serve();
    const list = await transfer(port, ["--list"], RO);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain("there.txt");
    const get = await transfer(port, ["--get", "there.txt"], RO);
    expect(get.code).toBe(0);
    expect(await readFile(path.join(local, "there.txt"), "utf8")).toBe("already there\n");
    const put = await transfer(port, ["up.txt"], RO);
    expect(put.code).toBe(1);
    expect(put.stderr).toMatch(/^lab: your token is read-only: uploads are refused\nhint: .*:rw/m);
    await expect(stat(path.join(shared, "up.txt"))).rejects.toMatchObject({ code: "ENOENT" });
    const rw = await transfer(port, ["up.txt"], RW);
    expect(rw.code).toBe(0);
    expect(await readFile(path.join(shared, "up.txt"), "utf8")).toBe("uploaded\n");
  });

  it("a missing or wrong token is refused for list, download and upload", async () => {
    const { port, lab } = await serve();
    for (const args of [["--list"], ["--get", "there.txt"], ["up.txt"]]) {
      const none = await transfer(port, args);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^lab: the server requires a token\nhint: /m);
      const wrong = await transfer(port, args, "wrong-token");
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^lab: the server refused the token\nhint: /m);
    }
    await expect(stat(path.join(local, "there.txt"))).rejects.toMatchObject({ code: "ENOENT" });
    await lab.waitForOutput("the server refused the token");
  });

  it("--read-only still refuses uploads with an rw token", async () => {
    const { port } = await startServer(
      (p) => [
        "files",
        shared,
        "--port",
        String(p),
        "--token-file",
        tokens,
        "--allow-plaintext-auth",
        "--read-only",
      ],
      (p) => `serving ${shared} on 127.0.0.1:${p}`,
    );
    const put = await transfer(port, ["up.txt"], RW);
    expect(put.code).toBe(1);
    expect(put.stderr).toMatch(/^lab: the server is read-only/m);
  });
});

describe("backoff after failed tokens", () => {
  // Undelayed refusals must come back under it: each is a round trip to the lab server process,
  // which on a loaded 2-core machine can wait half a second for a core (a bare node process took
  // up to 526 ms to exit on SIGTERM at load 13), so 400 ms was too close.
  const DELAY_MS = 1_500;

  /** One wrong /auth from `from`: how long the refusal took, and when it came (performance.now() ms). */
  async function failOnce(port: number, from: string): Promise<{ tookMs: number; at: number }> {
    const nc = await rawClient(port, from);
    await nc.waitFor(/\[AUTH_REQUIRED\]\n/);
    const started = performance.now();
    nc.write("/auth wrong-guess");
    await nc.waitFor(/\[AUTH_FAILED\]/);
    const at = performance.now();
    return { tookMs: at - started, at };
  }

  it("makes the 6th failure from one address wait, and leaves other addresses alone", async () => {
    const { port } = await chatServer([
      "--token-file",
      tokens,
      "--allow-plaintext-auth",
      "--auth-delay",
      String(DELAY_MS / 1000),
    ]);
    let fifth = 0;
    for (let i = 0; i < 5; i++) {
      const failure = await failOnce(port, "127.0.0.1");
      expect(failure.tookMs).toBeLessThan(DELAY_MS);
      fifth = failure.at;
    }
    // The 6th from 127.0.0.1 waits; 127.0.0.2 (another address on loopback) does not, meanwhile.
    const sixth = failOnce(port, "127.0.0.1");
    const other = await failOnce(port, "127.0.0.2");
    expect(other.tookMs).toBeLessThan(DELAY_MS);
    // The delay counts from the 5th refusal (on the server's clock, a hair before ours).
    expect((await sixth).at - fifth).toBeGreaterThanOrEqual(DELAY_MS - 50);
    // A right token from the delayed address still gets in, after its wait.
    const nc = await rawClient(port, "127.0.0.1");
    nc.write(`/auth ${RW}`);
    await nc.waitFor(/token accepted/);
  });
});
