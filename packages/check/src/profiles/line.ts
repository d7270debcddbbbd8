import type { Conn } from "../conn.js";
import { fail } from "../failure.js";
import { showBytes } from "../hex.js";
import { word } from "../random.js";
import type { CheckTest, Profile, TestContext } from "../types.js";
import { openMany, readLine, THREADED_UNIX_HINT } from "./shared.js";

/** What the server does to each line: the seed's echo or upper server. Learned by `prepare`. */
type Transform = "echo" | "upper";

function apply(ctx: TestContext, line: Uint8Array): Buffer {
  const out = Buffer.from(line);
  if (ctx.state.transform === "upper")
    for (let i = 0; i < out.length; i++)
      if ((out[i] as number) >= 0x61 && (out[i] as number) <= 0x7a) out[i] = (out[i] as number) - 0x20;
  return out;
}

/** Reads one line and fails unless it is `expected` (ending stripped). */
async function expectLine(conn: Conn, expected: Uint8Array, timeoutMs: number, what: string): Promise<void> {
  const start = conn.pos;
  const line = await readLine(conn, timeoutMs, what);
  if (line === undefined) {
    fail({
      expected: what,
      observed: `the connection ${conn.end === "reset" ? "was reset" : "ended"} first`,
      conn,
      at: start,
    });
  }
  if (!line.equals(expected)) {
    fail({
      expected: `${what}: ${showBytes(expected)}`,
      observed: `the line ${showBytes(line)}`,
      conn,
      at: start,
    });
  }
}

const MiB = 1024 * 1024;

const tests: CheckTest[] = [
  {
    id: "line.partial-line",
    title: "a line that arrives in two reads is answered once, as one line",
    timeoutMs: 3_000,
    hint: "buffer bytes until the newline (rfile.readline(), or split on b'\\n' and keep the rest); one recv() is not one line",
    async run(ctx) {
      // lab proxy's slicer, in-process: two segments 250 ms apart, so no single read holds the line (even on a busy machine).
      const slicer = { type: "slicer", stream: "upstream", attributes: { average_size: 7, delay: 250_000 } };
      const conn = await ctx.open("client (line in 2 slices)", { toxics: [slicer] });
      const w = word(ctx.random, 12);
      await conn.write(`${w}\n`);
      await expectLine(conn, apply(ctx, Buffer.from(w)), 2_000, "the reply to the line sent in two pieces");
    },
  },
  {
    id: "line.several-lines",
    title: "several lines in one read are each answered, in order",
    timeoutMs: 3_000,
    hint: "one recv() can hold many lines: answer every complete line in the buffer, keep the partial rest",
    async run(ctx) {
      const conn = await ctx.open("client");
      const words = [word(ctx.random), word(ctx.random), word(ctx.random)];
      await conn.write(words.map((w) => `${w}\n`).join(""));
      for (const [i, w] of words.entries())
        await expectLine(conn, apply(ctx, Buffer.from(w)), 2_000, `the reply to line ${i + 1} of 3`);
    },
  },
  {
    id: "line.crlf",
    title: "a line ending in CRLF (telnet, Windows) is answered without a stray CR inside it",
    timeoutMs: 3_000,
    hint: "strip the line ending (\\r\\n or \\n) before working on the line",
    async run(ctx) {
      const conn = await ctx.open("client");
      const w = word(ctx.random);
      await conn.write(`${w}\r\n`);
      await expectLine(conn, apply(ctx, Buffer.from(w)), 2_000, "the reply to a CRLF line");
    },
  },
  {
    id: "line.long-line",
    title: "a 1 MiB line is answered whole (or refused with one error line), and the next line still works",
    timeoutMs: 10_000,
    hint: "cap the line length (refuse the line, keep the connection) or handle it whole; never crash the handler on it",
    async run(ctx) {
      const conn = await ctx.open("client", { maxReceiveBytes: 3 * MiB });
      const long = Buffer.alloc(MiB, 0x61);
      const after = word(ctx.random);
      const writing = conn.write(Buffer.concat([long, Buffer.from(`\n${after}\n`)]));
      // A server that dies on the line resets us mid-write: that is the failure reported below.
      writing.catch(() => {});
      const expectedAfter = apply(ctx, Buffer.from(after));
      const before: Buffer[] = [];
      for (;;) {
        const start = conn.pos;
        const line = await readLine(conn, 8_000, `the reply to the line after the 1 MiB line`);
        if (line === undefined) {
          fail({
            expected: "a reply to the line after the 1 MiB line",
            observed: `the connection ${conn.end === "reset" ? "was reset" : "closed"} after ${conn.receivedBytes} bytes`,
            hint: "the handler died on the long line: cap the line length and answer with an error instead",
            conn,
            at: start,
          });
        }
        if (line.equals(expectedAfter)) break;
        before.push(line);
      }
      await writing.catch(() => {});
      const whole = before.length === 1 && before[0]?.equals(apply(ctx, long));
      const refused = before.length === 1 && (before[0]?.length ?? 0) <= 1024;
      if (!whole && !refused) {
        fail({
          expected: "one line for the 1 MiB line: all of it, or a short error",
          observed: `${before.length} lines (${before
            .map((l) => l.length)
            .slice(0, 5)
            .join(", ")}${before.length > 5 ? ", …" : ""} bytes)`,
          hint: "the line was answered in pieces: buffer until the newline",
          conn,
          at: 0,
        });
      }
    },
  },
  {
    id: "line.nul",
    title: "a NUL byte inside a line survives (it is valid text, not the end of a string)",
    timeoutMs: 3_000,
    hint: "do not treat 0x00 as the end of the data; work on bytes or whole Python strings",
    async run(ctx) {
      const conn = await ctx.open("client");
      const line = Buffer.from(`${word(ctx.random)}\0${word(ctx.random)}`, "latin1");
      await conn.write(Buffer.concat([line, Buffer.from("\n")]));
      await expectLine(conn, apply(ctx, line), 2_000, "the reply to a line holding a NUL byte");
    },
  },
  {
    id: "line.invalid-utf8",
    title: "a line that is not UTF-8 gets an answer or an error, and the next line still works",
    timeoutMs: 3_000,
    hint: "decode with errors handled (or work on bytes): one bad line must not end the connection",
    async run(ctx) {
      const conn = await ctx.open("client");
      const next = word(ctx.random);
      await conn.write(
        Buffer.concat([Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from(`${word(ctx.random)}\n${next}\n`)]),
      );
      const expected = apply(ctx, Buffer.from(next));
      for (let i = 0; i < 2; i++) {
        const start = conn.pos;
        const line = await readLine(conn, 2_000, "the reply to the line after the invalid one");
        if (line === undefined) {
          fail({
            expected: "a reply to the line after the invalid UTF-8 one",
            observed: `the connection ${conn.end}`,
            conn,
            at: start,
          });
        }
        if (line.equals(expected)) return;
      }
      fail({
        expected: "the reply to the next line, after at most one line for the invalid one",
        observed: "other lines",
        conn,
      });
    },
  },
  {
    id: "line.reset-mid-line",
    title: "a client that resets (RST) in the middle of a line does not take the server down",
    timeoutMs: 3_000,
    hint: "catch ConnectionResetError around the handler's reads; one peer's reset ends only its connection",
    // A Unix stream socket has no RST (a close with unread data is the only reset, and this client
    // has none to leave): the peer that vanishes mid-line simply closes, and the server reads the
    // half line, then EOF, and meets EPIPE if it answers it. The same lesson, the Unix way.
    overUnix: {
      title:
        "a client that hangs up in the middle of a line (a Unix socket has no RST) does not take the server down",
      hint: "a line can end at EOF, and an answer to it can meet BrokenPipeError: catch it; one peer's hang-up ends only its connection",
    },
    async run(ctx) {
      // lab proxy's reset_peer, in-process: an RST 100 ms after connecting, the line still unfinished
      // (over a Unix socket Conn.reset() closes instead: see overUnix).
      const reset = { type: "reset_peer", stream: "upstream", attributes: { timeout: 100 } };
      const rude = await ctx.open("client that resets", { toxics: [reset] });
      await rude.write(`${word(ctx.random, 20)}`);
      await rude.waitEnd(2_000, "the reset");
      const conn = await ctx.open("next client");
      const w = word(ctx.random);
      await conn.write(`${w}\n`);
      await expectLine(
        conn,
        apply(ctx, Buffer.from(w)),
        2_000,
        "a reply on a new connection after another client's reset",
      );
    },
  },
  {
    id: "line.clients-50",
    title: "50 clients at once are each answered",
    timeoutMs: 6_000,
    hint: "serve each connection on its own thread/task (socketserver.ThreadingTCPServer), not one after another",
    overUnix: { hint: THREADED_UNIX_HINT },
    async run(ctx) {
      const conns = await openMany((l) => ctx.open(l), 50);
      const words = conns.map(() => [word(ctx.random), word(ctx.random), word(ctx.random)]);
      await Promise.all(conns.map((c, i) => c.write((words[i] as string[]).map((w) => `${w}\n`).join(""))));
      await Promise.all(
        conns.map(async (c, i) => {
          for (const w of words[i] as string[])
            await expectLine(c, apply(ctx, Buffer.from(w)), 4_000, `${c.label}'s reply`);
        }),
      );
    },
  },
];

/** `line`: the seed's line servers (echo or upper, told apart by their first answer). */
export const lineProfile: Profile = {
  name: "line",
  summary: "a line server (the seed's echo or upper): one answer per line, however the bytes arrive",
  tests,
  async prepare(ctx) {
    const conn = await ctx.open("probe");
    await conn.write("netlab\n");
    const line = await readLine(conn, 3_000, "an answer to the line netlab");
    const text = line?.toString("latin1");
    const transform: Transform | undefined =
      text === "netlab" ? "echo" : text === "NETLAB" ? "upper" : undefined;
    if (!transform) {
      fail({
        expected: "the line netlab back as netlab (echo) or NETLAB (upper)",
        observed: line === undefined ? `no line (the connection ${conn.end})` : `the line ${showBytes(line)}`,
        hint: "is this a line server? try: printf 'hi\\n' | nc HOST PORT",
        conn,
      });
    }
    return { transform };
  },
};
