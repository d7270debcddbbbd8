import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lineClient } from "../../packages/chat/test/line-client.js";
import { runLab, startLab } from "../helpers/lab.js";
import { chatServer, watchTempDir } from "../helpers/watch.js";

const TOKEN = "replay-token-0123456789";

/** A token file that binds TOKEN to alice, and a server that requires it. */
async function authServer(dir: string, extra: string[] = []) {
  const tokens = join(dir, "tokens.txt");
  await writeFile(tokens, `alice:${TOKEN}\n`, { mode: 0o600 });
  const { lab, port } = await chatServer(["--token-file", tokens, "--allow-plaintext-auth", ...extra]);
  return { lab, port, tokens };
}

/** `lab client --record` (redacted, the default) of alice saying hi to a server that requires her token. */
async function recordClient(dir: string): Promise<string> {
  const rec = join(dir, "client.jsonl");
  const recording = await authServer(dir);
  const client = await runLab(["client", "--port", String(recording.port), "--record", rec], {
    input: "hi\n",
    env: { LAB_TOKEN: TOKEN },
    timeoutMs: 15_000,
  });
  expect(client.code, client.stderr).toBe(0);
  expect(await recording.lab.stop("SIGINT")).toBe(0);
  return rec;
}

describe("lab replay of a recording whose secrets were masked", () => {
  it("says the JSON token is masked (the server refuses the stars); LAB_TOKEN or --token-file puts it back", async () => {
    const dir = await watchTempDir();
    const rec = await recordClient(dir);

    const { lab: server, port, tokens } = await authServer(dir);
    const to = ["--to", `127.0.0.1:${port}`];
    const stars = await runLab(["replay", rec, ...to], { timeoutMs: 15_000 });
    expect(stars.code, stars.stderr).toBe(0);
    expect(stars.stderr).toContain(
      "lab: note: this recording has 1 masked secret (1 JSON token; recorded without --no-redact); the server will see stars. hint: pass --token-file FILE or set LAB_TOKEN",
    );
    // Said once, before the replay's summary.
    expect(stars.stderr.match(/note:/g)).toHaveLength(1);
    expect(stars.stderr.indexOf("note:")).toBeLessThan(stars.stderr.indexOf("replayed 1 connection"));
    await server.waitForOutput(/guest-1 left: the server refused the token/);

    const compare = ["--compare", "--ignore-json-fields", "ts,reclaim"];
    const fromEnv = await runLab(["replay", rec, ...to, ...compare], {
      env: { LAB_TOKEN: TOKEN },
      timeoutMs: 15_000,
    });
    expect(fromEnv.stderr).toContain(
      "lab: note: sending the token from LAB_TOKEN in place of 1 masked token\n",
    );
    expect(fromEnv.stderr).toContain("0 differences");
    expect(fromEnv.code).toBe(0);
    await server.waitForOutput(/alice left: quit/);

    // Not compared: alice's first replay left a message in the room's history, which she now gets.
    const fromFile = await runLab(["replay", rec, ...to, "--token-file", tokens], {
      timeoutMs: 15_000,
    });
    expect(fromFile.stderr).toContain(`sending the token from ${tokens} in place of 1 masked token`);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    await server.waitForOutput(/alice left: quit[\s\S]*alice left: quit/);

    const argv = await runLab(["replay", rec, ...to, "--token", TOKEN], { timeoutMs: 15_000 });
    expect(argv.code).toBe(2);
    expect(argv.stderr).toMatch(/^lab: a token on the command line .* refused\nhint: .*--token-file FILE/);
    expect(await server.stop("SIGINT")).toBe(0);
  });

  it("puts the token back after a text-mode /auth in a server's recording; the server accepts it", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "server.jsonl");
    const recording = await authServer(dir, ["--record", rec]);
    const text = await lineClient(recording.port);
    await text.waitFor(/AUTH_REQUIRED/);
    text.send(`/auth ${TOKEN}`);
    await text.waitFor(/token accepted: you are alice/);
    text.socket.end();
    await recording.lab.waitForOutput(/disconnect/);
    expect(await recording.lab.stop("SIGINT")).toBe(0);

    const { lab: server, port, tokens } = await authServer(dir);
    const to = ["--to", `127.0.0.1:${port}`, "--compare"];
    const stars = await runLab(["replay", rec, ...to], { timeoutMs: 15_000 });
    expect(stars.stderr).toContain("this recording has 1 masked secret (1 /auth token;");
    expect(stars.stderr).toMatch(/the server's bytes differ from the recording/);
    expect(stars.code).toBe(1);
    await server.waitForOutput(/the server refused the token/);

    const real = await runLab(["replay", rec, ...to, "--token-file", tokens], { timeoutMs: 15_000 });
    expect(real.stderr).toContain("sending the token from");
    // 0 differences: the server answered "token accepted: you are alice" and the rest, as recorded.
    expect(real.stderr).toContain("0 differences");
    expect(real.code).toBe(0);
    await server.waitForOutput(/disconnect .*\(#2/);
    expect(server.stderr().match(/refused the token/g)).toHaveLength(1);
    expect(await server.stop("SIGINT")).toBe(0);
  });

  it("says a masked reclaim cannot be restored, token or not, and still replays to a server without auth", async () => {
    const dir = await watchTempDir();
    const rec = join(dir, "hand-made.jsonl");
    const hello = '{"type":"hello","proto":1,"nick":"alice","token":"*****","reclaim":"********"}\n';
    const lines = [
      { netlab: "session", v: 1, ts: 0, side: "client", command: "lab client" },
      { type: "open", t: 0, conn: 1, transport: "tcp", client: "127.0.0.1:1", server: "127.0.0.1:2" },
      { type: "data", t: 1, conn: 1, from: "client", b64: Buffer.from(hello).toString("base64") },
      { type: "close", t: 2, conn: 1, reason: "fin" },
    ];
    await writeFile(rec, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const { lab: server, port } = await chatServer();
    const to = ["--to", `127.0.0.1:${port}`, "--pace", "fast"];
    const plain = await runLab(["replay", rec, ...to], { timeoutMs: 15_000 });
    expect(plain.stderr).toContain(
      "this recording has 2 masked secrets (1 JSON token, 1 reclaim token; recorded without --no-redact); the server will see stars; reclaim tokens cannot be restored (one-time secrets). hint:",
    );
    expect(plain.code, plain.stderr).toBe(0);
    const withToken = await runLab(["replay", rec, ...to], { env: { LAB_TOKEN: TOKEN }, timeoutMs: 15_000 });
    expect(withToken.stderr).toContain(
      "lab: note: sending the token from LAB_TOKEN in place of 1 masked token; 1 masked reclaim token cannot be restored (one-time secrets): the server will see stars\n",
    );
    expect(withToken.code, withToken.stderr).toBe(0);
    await server.waitForOutput(/disconnect .*\(#2/);
    expect(await server.stop("SIGINT")).toBe(0);
  });

  it("--as-server --compare masks what the client sends as the recording was masked: the same client with its token finds 0 differences", async () => {
    const dir = await watchTempDir();
    const rec = await recordClient(dir);
    const replay = startLab(["replay", rec, "--as-server", "--compare"]);
    await replay.waitForOutput(/listening on 127\.0\.0\.1:\d+/);
    const port = replay.stderr().match(/listening on 127\.0\.0\.1:(\d+)/)![1]!;
    expect(replay.stderr()).toContain(
      "lab: note: this recording has 1 masked secret (1 reclaim token; recorded without --no-redact); the client will see stars; reclaim tokens cannot be restored (one-time secrets).\n",
    );
    const client = await runLab(["client", "--port", port], {
      input: "hi\n",
      env: { LAB_TOKEN: TOKEN },
      timeoutMs: 15_000,
    });
    expect(client.code, client.stderr).toBe(0);
    expect(await replay.exited).toBe(0);
    expect(replay.stderr()).toContain("0 differences");
  });
});
