import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventLineSchema, sessionHeaderSchema, sessionRecordSchema } from "../../packages/watch/src/index.js";
import { runLab, startServer } from "../helpers/lab.js";
import { chatServer, jsonLines, twoClientChat, watchTempDir } from "../helpers/watch.js";

describe("#19 lab proxy --record, --events, --hexdump (the same tap as servers and clients)", () => {
  it("records a two-client chat through the proxy; every line validates; replay lockstep --compare: 0 differences on a fresh server, exit 1 naming the offset when the greeting differs", {
    timeout: 60_000,
  }, async () => {
    const dir = await watchTempDir("netlab-watch-proxy-");
    const rec = join(dir, "proxy.jsonl");
    const ev = join(dir, "events.jsonl");
    const hex = join(dir, "hex.txt");
    const { lab: server, port: serverPort } = await chatServer();
    const { lab: proxy, port } = await startServer(
      (p) => [
        "proxy",
        `127.0.0.1:${p}`,
        `127.0.0.1:${serverPort}`,
        "--record",
        rec,
        "--events",
        ev,
        "--hexdump",
        hex,
      ],
      (p) => `proxying 127.0.0.1:${p} → 127.0.0.1:${serverPort}`,
    );

    // Plain-text clients, as nc, through the proxy.
    await twoClientChat(port);
    expect(await proxy.stop("SIGINT")).toBe(0);
    await server.stop("SIGINT");

    const [header, ...records] = await jsonLines(rec);
    // The proxy's clients are its server connections: the recording replays like a server's own.
    expect(sessionHeaderSchema.parse(header)).toMatchObject({ side: "server", command: "lab proxy" });
    const parsed = records.map((r) => sessionRecordSchema.parse(r));
    const opens = parsed.filter((r) => r.type === "open");
    expect(opens).toHaveLength(2);
    expect(opens[0]).toMatchObject({ server: `127.0.0.1:${port}` });
    const sent = parsed
      .filter((r) => r.type === "data" && r.from === "client")
      .map((r) => Buffer.from((r as { b64: string }).b64, "base64").toString())
      .join("");
    expect(sent).toContain("hello from a");
    expect(parsed.filter((r) => r.type === "close")).toHaveLength(2);

    const events = (await jsonLines(ev)).map((l) => eventLineSchema.parse(l));
    const seqs = events.map((e) => e.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    expect(events[0]).toMatchObject({ event: "server.listen", attrs: { "server.port": port } });
    const closes = events.filter((e) => e.event === "connection.close");
    expect(closes).toHaveLength(2);
    for (const c of closes)
      expect(c.attrs).toMatchObject({ "netlab.side": "server", "netlab.close.reason": "fin" });

    const dump = await readFile(hex, "utf8");
    expect(dump).toMatch(
      new RegExp(`#\\d+ open tcp server 127\\.0\\.0\\.1:${port} <-> 127\\.0\\.0\\.1:\\d+`),
    );
    expect(dump).toMatch(/#\d+ < from 127\.0\.0\.1:\d+ 13 B\n00000000 {2}68 65 6c 6c 6f 20 66 72/);

    const { lab: fresh, port: freshPort } = await chatServer();
    const to = `127.0.0.1:${freshPort}`;
    const same = await runLab(["replay", rec, "--to", to, "--pace", "lockstep", "--compare"], {
      timeoutMs: 15_000,
    });
    expect(same.stderr).toContain("0 differences");
    expect(same.code).toBe(0);
    // The same server again greets its next client as guest-3, not guest-1: a changed greeting.
    const changed = await runLab(
      ["replay", rec, "--to", to, "--pace", "lockstep", "--compare", "--wait", "2"],
      { timeoutMs: 15_000 },
    );
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(
      /connection \d+: the server's bytes differ from the recording at offset 53\n {2}expected: 31 2e/,
    );
    await fresh.stop("SIGINT");
  });
});
