import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StreamRequestHandler, TCPServer, type WireDataEvent, wireDataChannel } from "@netlab/socketserver";
import { describe, expect, it, onTestFinished } from "vitest";
import { hexdumpBytes } from "../../../test/helpers/watch.js";
import {
  eventsJsonSchema,
  hexLines,
  LineSink,
  maskJsonFields,
  parseSession,
  REPLAY_EXTRA_BYTES,
  replay,
  sessionJsonSchema,
  sessionToPcap,
  startWatch,
} from "../src/index.js";

describe("LineSink", () => {
  it("never waits, drops the oldest when full and reports the exact count before the next line", async () => {
    const dir = await mkdtemp(join(tmpdir(), "netlab-sink-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "out.txt");
    const sink = await LineSink.open<number>(path, {
      maxQueuedItems: 10,
      format: (n) => String(n),
      dropped: (count, next) => `dropped ${count} before ${next}`,
    });
    // One push starts a write; the next 99 arrive while it is in flight: 89 of them are dropped.
    for (let i = 1; i <= 100; i++) sink.push(i);
    await sink.close();
    const lines = (await readFile(path, "utf8")).trimEnd().split("\n");
    expect(lines).toEqual([
      "1",
      "dropped 89 before 91",
      ...Array.from({ length: 10 }, (_, i) => String(91 + i)),
    ]);
    expect(sink.droppedTotal).toBe(89);
  });

  it("keeps every byte of lines that wrap around its ring and lines longer than the ring", async () => {
    const dir = await mkdtemp(join(tmpdir(), "netlab-sink-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "out.txt");
    const sink = await LineSink.open<string>(path, { maxQueuedItems: 100_000, format: (t) => t });
    const want: string[] = [];
    for (let i = 0; i < 3000; i++) {
      // Mixed lengths (multi-byte characters too), a few far longer than the first ring (64 KiB).
      const line = i % 997 === 0 ? `${i}:${"é".repeat(50_000)}` : `${i}:${"x".repeat(i % 300)}ü`;
      want.push(line);
      sink.push(line);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    await sink.close();
    expect((await readFile(path, "utf8")).split("\n")).toEqual([...want, ""]);
    expect(sink.droppedTotal).toBe(0);
  });
});

describe("LineSink with isOpenedOnFirstLine", () => {
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "netlab-sink-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    return dir;
  };

  it("leaves the file as it was until the first line, then truncates it and writes", async () => {
    const path = join(await tempDir(), "out.txt");
    await writeFile(path, "precious\n");
    const sink = await LineSink.open<string>(path, { format: (t) => t, isOpenedOnFirstLine: true });
    expect(await readFile(path, "utf8")).toBe("precious\n");
    sink.push("one");
    await sink.close();
    expect(await readFile(path, "utf8")).toBe("one\n");
  });

  it("without a line, close() creates the empty file; close({ isCreatedIfUnwritten: false }) leaves the path as it was", async () => {
    const dir = await tempDir();
    const created = await LineSink.open<string>(join(dir, "new.txt"), {
      format: (t) => t,
      isOpenedOnFirstLine: true,
    });
    expect(existsSync(join(dir, "new.txt"))).toBe(false);
    await created.close();
    expect(await readFile(join(dir, "new.txt"), "utf8")).toBe("");

    await writeFile(join(dir, "old.txt"), "precious\n");
    for (const name of ["old.txt", "none.txt"]) {
      const sink = await LineSink.open<string>(join(dir, name), {
        format: (t) => t,
        isOpenedOnFirstLine: true,
      });
      await sink.close({ isCreatedIfUnwritten: false });
    }
    expect(await readFile(join(dir, "old.txt"), "utf8")).toBe("precious\n");
    expect(existsSync(join(dir, "none.txt"))).toBe(false);
  });

  it("still fails in open() for a path that cannot be written, in cannotWrite's words", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "plain"), "");
    const cases: Array<[string, string]> = [
      [join(dir, "nope", "out.txt"), "its folder does not exist"],
      [dir, "it is a folder"],
      [join(dir, "plain", "out.txt"), "a part of its path is a file, not a folder"],
    ];
    for (const [path, why] of cases) {
      await expect(
        LineSink.open<string>(path, { format: (t) => t, isOpenedOnFirstLine: true }),
        path,
      ).rejects.toMatchObject({ code: "FILE_ERROR", message: `cannot write ${path}: ${why}` });
    }
  });
});

describe("hexLines", () => {
  it("prints offset, 16 bytes in two groups, and ASCII with dots for every non-printable byte", () => {
    const bytes = Buffer.from("hello\r\n\u001b[31mworld!\u0000\u00ff", "latin1");
    expect(hexLines(bytes, 0x20)).toEqual([
      "00000020  68 65 6c 6c 6f 0d 0a 1b  5b 33 31 6d 77 6f 72 6c  hello...[31mworl",
      "00000030  64 21 00 ff                                       d!..",
    ]);
  });
});

describe("published schemas", () => {
  it("docs/schema/*.json are the ones the zod schemas generate", async () => {
    const docs = new URL("../../../docs/schema/", import.meta.url);
    expect(JSON.parse(await readFile(new URL("events.schema.json", docs), "utf8"))).toEqual(
      eventsJsonSchema(),
    );
    expect(JSON.parse(await readFile(new URL("session.schema.json", docs), "utf8"))).toEqual(
      sessionJsonSchema(),
    );
  });
});

describe("sessionToPcap", () => {
  it("writes a pcap with a handshake and the payload bytes", () => {
    const session = oneConnection("server", [
      { type: "data", t: 1, conn: 1, from: "client", b64: Buffer.from("ping\n").toString("base64") },
    ]);
    const pcap = sessionToPcap(session);
    expect(pcap.readUInt32LE(0)).toBe(0xa1b2c3d4);
    expect(pcap.includes(Buffer.from("ping\n"))).toBe(true);
  });
});

describe("maskJsonFields", () => {
  it("leaves the fields out of complete JSON lines at any depth, other lines as they are, a partial line until the end", () => {
    const fields = new Set(["ts"]);
    const bytes = Buffer.from('* hello\n{"type":"join","ts":17,"a":{"ts":1,"b":2}}\n{"type":"x","ts":');
    expect(maskJsonFields(bytes, fields, false).toString()).toBe('* hello\n{"type":"join","a":{"b":2}}\n');
    expect(maskJsonFields(bytes, fields, true).toString()).toBe(
      '* hello\n{"type":"join","a":{"b":2}}\n{"type":"x","ts":',
    );
    expect(maskJsonFields(bytes, new Set(), false)).toBe(bytes);
  });
});

describe("replay against a hostile server", () => {
  it("stops reading a server that sends without end, past the recording by REPLAY_EXTRA_BYTES, and names the first extra byte", {
    timeout: 20_000,
  }, async () => {
    // A real server that answers one line with 64 MiB of 'x' (bounded: the loop ends on its own).
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.write("hi\n");
      let left = 1024;
      const pump = () => {
        while (left > 0 && !socket.destroyed) {
          left--;
          if (!socket.write(Buffer.alloc(64 * 1024, 0x78))) return void socket.once("drain", pump);
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;
    const session = oneConnection(
      "client",
      [
        { type: "data", t: 1, conn: 1, from: "server", b64: Buffer.from("hi\n").toString("base64") },
        // A second later, at the recording's pace: meanwhile the server floods.
        { type: "data", t: 1_000, conn: 1, from: "client", b64: Buffer.from("bye\n").toString("base64") },
      ],
      1_001,
    );
    const r = await replay(session, {
      host: "127.0.0.1",
      port,
      compare: true,
      pace: "original",
      waitMs: 2_000,
    });
    expect(r.bytesReceived).toBeLessThanOrEqual(3 + REPLAY_EXTRA_BYTES);
    expect(r.difference).toMatchObject({ conn: 1, offset: 3, expectedHex: "" });
  });
});

describe("replay --compare of JSON lines", () => {
  it("names the fields that differ in the first differing line, at any depth, when it is a JSON object on both sides", {
    timeout: 10_000,
  }, async () => {
    const server = net.createServer((socket) => {
      socket.on("error", () => {});
      socket.end('* hi\n{"type":"join","ts":2,"who":{"nick":"bo","since":5},"room":"#a"}\n');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as net.AddressInfo;
    const recorded = '* hi\n{"type":"join","ts":1,"who":{"nick":"bo","since":4},"room":"#a"}\n';
    const session = oneConnection("client", [
      { type: "data", t: 1, conn: 1, from: "server", b64: Buffer.from(recorded).toString("base64") },
    ]);
    const r = await replay(session, { host: "127.0.0.1", port, compare: true, waitMs: 2_000 });
    expect(r.difference).toMatchObject({ conn: 1, line: 2, jsonFields: ["ts", "since"] });
    const text = await replay(
      oneConnection("client", [
        { type: "data", t: 1, conn: 1, from: "server", b64: Buffer.from("* ho\n").toString("base64") },
      ]),
      { host: "127.0.0.1", port, compare: true, waitMs: 2_000 },
    );
    expect(text.difference).toMatchObject({ offset: 3, jsonFields: [] });
  });
});

describe("startWatch file modes", () => {
  it("redact: false (--no-redact) writes --record and --hexdump files only their owner can read, a file already there too", {
    timeout: 10_000,
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "netlab-mode-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const rec = join(dir, "raw.jsonl");
    const hex = join(dir, "raw.hex");
    await writeFile(rec, "old", { mode: 0o644 });
    await chmod(rec, 0o644);
    const raw = await startWatch({ record: { path: rec }, hexdump: { path: hex }, redact: false });
    await raw.stop();
    expect((await stat(rec)).mode & 0o777).toBe(0o600);
    expect((await stat(hex)).mode & 0o777).toBe(0o600);
    // Masked outputs are made to be shared: the mode of any new file (umask applies).
    const shared = join(dir, "shared.jsonl");
    const masked = await startWatch({ record: { path: shared } });
    await masked.stop();
    await writeFile(join(dir, "plain"), "");
    expect((await stat(shared)).mode).toBe((await stat(join(dir, "plain"))).mode);
  });
});

class Echo extends StreamRequestHandler {
  override async handle() {
    for await (const text of this.rfile) await this.wfile.write(`${text}\n`);
  }
}

describe("startWatch redaction", () => {
  it("masks a token split across two reads in --record and --hexdump, both ways, at the same byte count; redact: false keeps it", {
    timeout: 15_000,
  }, async () => {
    const server = new TCPServer({ host: "127.0.0.1", port: 0 }, Echo);
    await server.listen();
    void server.serveForever();
    onTestFinished(() => server.shutdown());
    const { port } = server.address;
    const dir = await mkdtemp(join(tmpdir(), "netlab-redact-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));

    const session = async (redact: boolean | undefined) => {
      const rec = join(dir, `${redact}.jsonl`);
      const hex = join(dir, `${redact}.hex`);
      const watch = await startWatch({ record: { path: rec }, hexdump: { path: hex }, redact });
      // The second half is written only once the server has read the first: two reads.
      let firstRead!: () => void;
      const readOnce = new Promise<void>((resolve) => {
        firstRead = resolve;
      });
      const onData = (e: unknown) => {
        const d = e as WireDataEvent;
        if (d.conn.side === "server" && d.direction === "in") firstRead();
      };
      wireDataChannel.subscribe(onData);
      const socket = net.connect({ host: "127.0.0.1", port });
      onTestFinished(() => {
        socket.destroy();
      });
      let echoed = "";
      socket.on("data", (d: Buffer) => {
        echoed += d.toString();
      });
      await new Promise<void>((resolve) => socket.once("connect", resolve));
      socket.write('{"type":"hello","tok');
      await readOnce;
      wireDataChannel.unsubscribe(onData);
      socket.write('en":"s3cret"}\n');
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no echo in 5 s")), 5_000);
        socket.on("data", () => {
          if (echoed.endsWith("\n")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      socket.end();
      await watch.stop();
      const records = parseSession(await readFile(rec, "utf8")).records;
      const bytes = (from: string) =>
        Buffer.concat(
          records.flatMap((r) =>
            r.type === "data" && r.from === from ? [Buffer.from(r.b64, "base64")] : [],
          ),
        ).toString();
      const dumped = (await hexdumpBytes(hex)).toString();
      const fromClient = records.filter((r) => r.type === "data" && r.from === "client");
      return { client: bytes("client"), server: bytes("server"), dumped, clientChunks: fromClient.length };
    };

    const masked = await session(undefined);
    expect(masked.clientChunks).toBeGreaterThanOrEqual(2);
    expect(masked.client).toBe('{"type":"hello","token":"******"}\n');
    expect(masked.server).toBe('{"type":"hello","token":"******"}\n');
    // The hexdump, what the server read and wrote: no s3cret either way.
    expect(masked.dumped).not.toContain("s3cret");
    expect(masked.dumped).toContain('"token":"******"}');
    const raw = await session(false);
    expect(raw.client).toBe('{"type":"hello","token":"s3cret"}\n');
    expect(raw.dumped).toContain("s3cret");
  });
});

/** A recording of one TCP connection seen from `side`: its open, `records` (data), its close at `closeAt` ms. */
function oneConnection(side: "client" | "server", records: object[], closeAt = 2) {
  const lines = [
    { netlab: "session", v: 1, ts: 1_000, side },
    { type: "open", t: 0, conn: 1, transport: "tcp", client: "127.0.0.1:40000", server: "127.0.0.1:5001" },
    ...records,
    { type: "close", t: closeAt, conn: 1, reason: "fin" },
  ];
  return parseSession(`${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
}

describe("startWatch outputs", () => {
  it("writes an output to a stream of its own (--events -), apart from the default stream", {
    timeout: 15_000,
  }, async () => {
    const { PassThrough } = await import("node:stream");
    const own = new PassThrough();
    const fallback = new PassThrough();
    let ownText = "";
    let fallbackText = "";
    own.on("data", (d: Buffer) => {
      ownText += d.toString();
    });
    fallback.on("data", (d: Buffer) => {
      fallbackText += d.toString();
    });
    const watch = await startWatch({ events: { stream: own }, stream: fallback });
    const server = new TCPServer({ host: "127.0.0.1", port: 0 }, Echo);
    await server.listen();
    await server.shutdown();
    await watch.stop();
    expect(ownText).toContain('"event":"server.listen"');
    expect(fallbackText).toBe("");
  });

  it("refuses an output with both a path and a stream, and a recording with neither (INVALID_OPTION)", async () => {
    const { PassThrough } = await import("node:stream");
    // A folder of its own: were the check gone, the file would be made there, not in the repository.
    const dir = await mkdtemp(join(tmpdir(), "netlab-outputs-"));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "x.jsonl");
    await expect(startWatch({ events: { path, stream: new PassThrough() } })).rejects.toMatchObject({
      code: "INVALID_OPTION",
    });
    await expect(startWatch({ record: {} })).rejects.toMatchObject({ code: "INVALID_OPTION" });
  });
});

describe.skipIf(!existsSync("/dev/full"))("LineSink on a failing file", () => {
  it("calls failed once and then discards what is pushed; close resolves (without failed, it rejects)", async () => {
    const errors: Error[] = [];
    const sink = await LineSink.open<number>("/dev/full", { format: String, failed: (e) => errors.push(e) });
    sink.push(1);
    await sink.close();
    sink.push(2);
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(["ENOSPC"]);
    expect(sink.queued).toBe(0);
    const plain = await LineSink.open<number>("/dev/full", { format: String });
    plain.push(1);
    await expect(plain.close()).rejects.toMatchObject({ code: "ENOSPC" });
  });
});
