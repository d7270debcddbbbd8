/**
 * For tests that play a hostile transfer server by hand (serve() of tcp.ts speaking the wire
 * protocol: a u32 big-endian length, then a JSON header; see packages/transfer/src/header.ts), so
 * they do not trust the code they test.
 */

/** One header frame as the transfer protocol sends it. */
export function frame(header: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(json.length);
  return Buffer.concat([head, json]);
}

/** Characters that must never reach a terminal live (C0 but \n, DEL, C1, bidi controls, separators). */
export const LIVE_CONTROLS =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;
