import { type Conn, WaitTimeout } from "../conn.js";
import { fail, firstDifference } from "../failure.js";
import { showBytes } from "../hex.js";

/**
 * Waits until `conn` received `expected.length` bytes past its cursor (or input ended), then
 * compares; fails at the first differing byte with the excerpt centred on it.
 */
export async function expectBytes(
  conn: Conn,
  expected: Uint8Array,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const start = conn.pos;
  let got: Buffer;
  try {
    got = await conn.readBytes(expected.length, timeoutMs, what);
  } catch (err) {
    if (!(err instanceof WaitTimeout)) throw err;
    // Fewer bytes came back than were sent: a wrong byte among them says more than the wait.
    got = conn.received.subarray(start);
    const at = firstDifference(got, expected);
    if (at < 0 || at >= got.length) throw err;
  }
  const at = firstDifference(got, expected);
  if (at < 0) return;
  if (got.length < expected.length && at >= got.length) {
    fail({
      expected: `${what} (${expected.length} bytes)`,
      observed: `${got.length} bytes, then the connection ${conn.end === "reset" ? "was reset" : conn.end === "open" ? "went quiet" : "closed"}`,
      conn,
      at: start + got.length - 1,
    });
  }
  fail({
    expected: `${what}; byte ${at} should be ${showBytes(expected.subarray(at, at + 1))}`,
    observed: `${showBytes(got.subarray(at, at + 8))} at byte ${at}`,
    conn,
    at: start + at,
  });
}

/** Writes `data` and reads its echo at the same time (a 1 MiB echo would deadlock done one after the other). */
export async function roundTrip(
  conn: Conn,
  data: Uint8Array,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const writing = conn.write(data);
  await Promise.all([writing, expectBytes(conn, data, timeoutMs, what)]);
}

/** One line with its ending (`\n` or `\r\n`) removed. */
export async function readLine(conn: Conn, timeoutMs: number, what: string): Promise<Buffer | undefined> {
  const line = await conn.readLine(timeoutMs, what);
  if (line && line.length > 0 && line[line.length - 1] === 0x0d) return line.subarray(0, -1);
  return line;
}

/** Opens `n` connections at once; resolves when all are connected. */
export function openMany(
  open: (label: string) => Promise<Conn>,
  n: number,
  prefix = "client",
): Promise<Conn[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => open(`${prefix} ${i + 1}`)));
}

/** The concurrency tests' hint over a Unix socket, where socketserver's class has another name. */
export const THREADED_UNIX_HINT =
  "serve each connection on its own thread/task (socketserver.ThreadingUnixStreamServer), not one after another";
