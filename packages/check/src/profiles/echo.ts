import { fail } from "../failure.js";
import { printable } from "../random.js";
import type { CheckTest, Profile } from "../types.js";
import { expectBytes, openMany, readLine, roundTrip, THREADED_UNIX_HINT } from "./shared.js";

const MiB = 1024 * 1024;

/** How much the bounded-buffer test offers a server whose echo nobody reads: beyond any kernel's buffers. */
export const UNREAD_OFFER_BYTES = 128 * MiB;

/** How long writes may make no progress before the server counts as pushing back, ms. */
const STALL_MS = 500;

async function concurrent(ctx: Parameters<CheckTest["run"]>[0], n: number, bytes: number): Promise<void> {
  const conns = await openMany((l) => ctx.open(l), n);
  const payloads = conns.map(() => printable(ctx.random, bytes));
  await Promise.all(
    conns.map((c, i) => roundTrip(c, payloads[i] as Buffer, 3_000, `${c.label}'s own ${bytes} bytes back`)),
  );
}

const tests: CheckTest[] = [
  {
    id: "echo.all-bytes",
    title: "every byte value 0x00–0xff comes back unchanged (no text decoding, no C strings)",
    timeoutMs: 3_000,
    hint: "treat the data as bytes: no decode/encode, no strip(), no string functions that stop at 0x00",
    async run(ctx) {
      const order = Array.from({ length: 256 }, (_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(ctx.random() * (i + 1));
        [order[i], order[j]] = [order[j] as number, order[i] as number];
      }
      const data = Buffer.from([...order, ...order.reverse(), 0x00, 0xff, 0x0d, 0x0a]);
      const conn = await ctx.open("client");
      await roundTrip(conn, data, 2_000, "the 516 bytes sent, in order");
    },
  },
  {
    id: "echo.one-mib",
    title: "1 MiB sent at once comes back whole and in order",
    timeoutMs: 5_000,
    hint: "one recv() is not one message: keep reading and writing (sendall) until the peer closes",
    async run(ctx) {
      const conn = await ctx.open("client");
      await roundTrip(conn, printable(ctx.random, MiB), 4_000, "all 1 MiB back");
    },
  },
  {
    id: "echo.sliced",
    title: "bytes that arrive one at a time come back, all of them, in order",
    timeoutMs: 3_000,
    hint: "a read can return a single byte; echo whatever each read returns",
    async run(ctx) {
      // lab proxy's slicer, in-process: one byte per TCP segment, an event-loop turn apart.
      const slicer = { type: "slicer", stream: "upstream", attributes: { average_size: 1, delay: 0 } };
      const conn = await ctx.open("client (1-byte slices)", { toxics: [slicer] });
      await roundTrip(conn, printable(ctx.random, 300), 2_500, "300 bytes sent one by one, back");
    },
  },
  {
    id: "echo.concurrent-5",
    title: "5 clients at once each get their own bytes back",
    timeoutMs: 5_000,
    hint: "serve each connection on its own thread/task (socketserver.ThreadingTCPServer), not one after another",
    overUnix: { hint: THREADED_UNIX_HINT },
    run: (ctx) => concurrent(ctx, 5, 64 * 1024),
  },
  {
    id: "echo.concurrent-50",
    title: "50 clients at once each get their own bytes back",
    timeoutMs: 6_000,
    hint: "serve each connection on its own thread/task; check the listen backlog and any client limit",
    overUnix: { hint: `${THREADED_UNIX_HINT}; check the listen backlog and any client limit` },
    run: (ctx) => concurrent(ctx, 50, 16 * 1024),
  },
  {
    id: "echo.half-close",
    title: "after the client half-closes (FIN), the whole echo comes back and then a clean EOF",
    timeoutMs: 5_000,
    hint: "when recv() returns b'' finish sending, then shutdown(SHUT_WR) or close(); never reset (SO_LINGER 0) or drop what is unsent",
    async run(ctx) {
      const conn = await ctx.open("client");
      const data = printable(ctx.random, MiB);
      await conn.write(data);
      conn.endWrite();
      await expectBytes(conn, data, 4_000, "all 1 MiB back after our FIN");
      const end = await conn.waitEnd(2_000, "EOF after the echo");
      if (end !== "fin" && end !== "closed") {
        fail({
          expected: "EOF (FIN) after the last byte",
          observed: end === "reset" ? "a reset (RST) instead of EOF" : `the connection ${end}`,
          conn,
        });
      }
      // An echo sends back what came, and nothing of its own: extra bytes are a bug too.
      const extra = conn.receivedBytes - data.length;
      if (extra > 0) {
        fail({
          expected: "EOF right after the echo's last byte",
          observed: `${extra} more bytes after the echo, then EOF`,
          hint: "send back exactly the bytes that came, nothing of your own (no banner, prompt or added newline)",
          conn,
          at: data.length,
        });
      }
    },
  },
  {
    id: "echo.slow-reader-isolation",
    title:
      "a client that sends 8 MiB and stops reading does not stop a second client being served within 1 s",
    timeoutMs: 6_000,
    hint: "one stuck peer must not block the others: a thread or task per connection, never one loop serving all",
    async run(ctx) {
      const hog = await ctx.open("hog (does not read)");
      hog.pause();
      const block = printable(ctx.random, MiB);
      for (let i = 0; i < 8; i++) hog.writeNow(block);
      // Give the server time to fill its buffers towards the hog: the state the lesson is about.
      await ctx.pace(300);
      const conn = await ctx.open("second client");
      const ping = printable(ctx.random, 32);
      await roundTrip(conn, ping, 1_000, "the second client's 32 bytes back");
    },
  },
  {
    id: "echo.slow-reader-bounded",
    title:
      "a client that never reads its echo is eventually pushed back on: the server does not buffer without bound",
    timeoutMs: 8_000,
    hint: "write with sendall()/await drain before reading more; an unbounded queue per client is a memory leak a slow peer can trigger",
    async run(ctx) {
      const conn = await ctx.open("client (never reads)", { maxReceiveBytes: 1 });
      conn.pause();
      const block = printable(ctx.random, MiB);
      let offered = 0;
      while (offered < UNREAD_OFFER_BYTES) {
        const stalled = await Promise.race([
          conn.write(block).then(
            () => false,
            () => true,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(true), STALL_MS)),
        ]);
        if (stalled) return;
        offered += block.length;
      }
      fail({
        expected: `the server to stop taking bytes once its writes to us blocked (we read none of the echo)`,
        observed: `it took all ${UNREAD_OFFER_BYTES / MiB} MiB we offered and never pushed back: it buffers without bound, or drops what it does not echo`,
        conn,
        side: "sent",
      });
    },
  },
];

/** `echo`: RFC 862 / Protohackers 0, bytes in, the same bytes out. */
export const echoProfile: Profile = {
  name: "echo",
  summary: "a byte echo server (RFC 862, Protohackers 0): every byte back, any size, many clients",
  tests,
  // The classic mix-up: a line server (lab server --mode echo is one) graded as a byte echo fails
  // every test without saying why. It answers `netlab` only once the newline follows.
  async diagnose(ctx) {
    const conn = await ctx.open("probe");
    await conn.write("netlab");
    const answered = await conn
      .waitFor(
        "any answer to 6 bytes without a newline",
        () => (conn.receivedBytes > 0 || conn.end !== "open" ? true : undefined),
        500,
      )
      .catch(() => false);
    if (answered) return undefined;
    await conn.write("\n");
    const line = (await readLine(conn, 1_000, "an answer to the newline").catch(() => undefined))?.toString(
      "latin1",
    );
    if (line !== "netlab" && line !== "NETLAB") return undefined;
    return `the server sent back "${line}" only once a newline followed it: it looks like a line server (lab server --mode echo is one), which lab check line grades; an echo server sends each byte back as it comes`;
  },
};
