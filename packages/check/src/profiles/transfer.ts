import type { Conn, ConnOptions } from "../conn.js";
import { fail, firstDifference } from "../failure.js";
import { showBytes } from "../hex.js";
import type { CheckTest, Profile, TestContext } from "../types.js";

function expected(ctx: TestContext): Buffer {
  return ctx.inputs.file as Buffer;
}

/** How fast the slow reader reads, KB/s (toxiproxy's 1 KB = 1000 bytes). */
const SLOW_READ_KBPS = 1_000;

/**
 * Connects as `label` and waits (up to `ms`) until the whole file arrived or the server ended the
 * connection; what it received is kept up to a MiB past the file's size.
 */
async function receiveFile(
  ctx: TestContext,
  file: Buffer,
  ms: number,
  { label = "client", how = "", ...options }: Partial<ConnOptions> & { label?: string; how?: string } = {},
): Promise<Conn> {
  const conn = await ctx.open(label, { maxReceiveBytes: file.length + 1024 * 1024, ...options });
  await conn.waitFor(
    `all ${file.length} bytes${how}`,
    () => (conn.receivedBytes >= file.length || conn.end !== "open" ? true : undefined),
    ms,
  );
  return conn;
}

const tests: CheckTest[] = [
  {
    id: "transfer.exact-bytes",
    title: "the file's bytes arrive exactly: none missing, none changed, none extra",
    timeoutMs: 10_000,
    hint: "send with sendall() (send() may write only part), in binary mode, and flush before closing",
    async run(ctx) {
      const file = expected(ctx);
      const conn = await receiveFile(ctx, file, 9_000);
      const got = conn.received;
      const at = firstDifference(got.subarray(0, file.length), file);
      if (at >= 0 || got.length < file.length) {
        const where = at >= 0 && at < got.length ? at : got.length;
        fail({
          expected: `${file.length} bytes, the file's`,
          observed:
            got.length < file.length && (at < 0 || at >= got.length)
              ? `${got.length} bytes, then the connection ${conn.end === "reset" ? "was reset" : "closed"}: the last ${file.length - got.length} are missing`
              : `byte ${where} is ${showBytes(got.subarray(where, where + 4))}, not ${showBytes(file.subarray(where, where + 4))}`,
          conn,
          at: where,
        });
      }
      if (got.length > file.length) {
        fail({
          expected: `${file.length} bytes`,
          observed: `${got.length - file.length} extra bytes after the file`,
          conn,
          at: file.length,
        });
      }
    },
  },
  {
    id: "transfer.closes-after-file",
    title: "the server closes the connection (EOF) right after the last byte",
    timeoutMs: 10_000,
    hint: "close the socket when the file is sent: the reader knows the file ended only by EOF",
    async run(ctx) {
      const file = expected(ctx);
      const conn = await receiveFile(ctx, file, 8_000);
      const end = await conn.waitEnd(1_000, "EOF after the last byte");
      if (end === "reset") fail({ expected: "EOF (FIN) after the file", observed: "a reset (RST)", conn });
    },
  },
  {
    id: "transfer.slow-reader",
    title: "a client that reads slowly still gets every byte",
    timeoutMs: 20_000,
    hint: "a blocking sendall() waits for a slow reader; with timeouts or non-blocking sockets, retry what was not sent",
    async run(ctx) {
      const file = expected(ctx);
      // lab proxy's bandwidth toxic on what we receive: 1 MB/s, so the server's writes stall and resume.
      const slow = { type: "bandwidth", stream: "downstream", attributes: { rate: SLOW_READ_KBPS } };
      const seconds = Math.ceil(file.length / (SLOW_READ_KBPS * 1000)) + 5;
      const conn = await receiveFile(ctx, file, seconds * 1000, {
        label: "slow client",
        how: ` at ${SLOW_READ_KBPS} KB/s`,
        toxics: [slow],
      });
      const got = conn.received;
      if (!got.equals(file)) {
        const at = Math.max(0, firstDifference(got, file));
        fail({
          expected: `${file.length} bytes, the file's`,
          observed: `${got.length} bytes, differing from byte ${at}`,
          conn,
          at,
        });
      }
    },
  },
];

/** `transfer`: the seed's raw file sender (connect, receive the file, EOF). */
export const transferProfile: Profile = {
  name: "transfer",
  summary: "a raw file sender (the seed's): connect, get the file's exact bytes, then EOF",
  needs: "file",
  tests,
};
