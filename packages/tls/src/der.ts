// Just enough DER (ITU-T X.690) to write an X.509 v3 certificate and to find the parts of one we
// read back (its subject, a key's bits). Writing a certificate is ~40 short TLVs; a library for it
// costs ~300 ms of module loading at the first `lab server --tls` (docs/tls.md).

/** One DER value: tag, length, contents. */
export function tlv(tag: number, contents: Uint8Array): Buffer {
  const n = contents.length;
  let head: number[];
  if (n < 0x80) {
    head = [tag, n];
  } else {
    const bytes: number[] = [];
    for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
    head = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(head), contents]);
}

export const sequence = (...items: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(items));
export const set = (...items: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(items));
export const octetString = (bytes: Uint8Array): Buffer => tlv(0x04, bytes);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, "utf8"));
export const booleanTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));
/** A BIT STRING of whole bytes, or with `unusedBits` padding bits at the end of the last byte. */
export const bitString = (bytes: Uint8Array, unusedBits = 0): Buffer =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
/** `[n]` EXPLICIT: a constructed context tag around a whole value. */
export const explicit = (n: number, value: Uint8Array): Buffer => tlv(0xa0 | n, value);

/** A non-negative INTEGER from big-endian bytes, in its minimal two's-complement form. */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  const sign = (trimmed[0] ?? 0) & 0x80 ? Buffer.from([0]) : Buffer.alloc(0);
  return tlv(0x02, Buffer.concat([sign, trimmed]));
}

/** An OBJECT IDENTIFIER from its dotted form (`1.2.840.10045.4.3.2`). */
export function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const out: number[] = [40 * a + b];
  for (const arc of rest) {
    const digits: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) digits.unshift(0x80 | (v & 0x7f));
    out.push(...digits);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 on (RFC 5280 §4.1.2.5), to the second, in UTC. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), "ascii"))
    : tlv(0x18, Buffer.from(digits, "ascii"));
}

/** A parsed TLV: where its contents are in the buffer, and where the next value starts. */
export interface Element {
  tag: number;
  /** The whole value, header included. */
  whole: Buffer;
  contents: Buffer;
}

/** The values inside `buffer`, in order (one level, not recursive). Throws on malformed lengths. */
export function children(buffer: Buffer): Element[] {
  const out: Element[] = [];
  let at = 0;
  while (at < buffer.length) {
    const tag = buffer[at]!;
    let length = buffer[at + 1];
    let header = 2;
    if (length === undefined) throw new RangeError("DER: truncated header");
    if (length & 0x80) {
      const count = length & 0x7f;
      if (count === 0 || count > 4) throw new RangeError("DER: unsupported length");
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (buffer[at + 2 + i] ?? Number.NaN);
      header += count;
    }
    const end = at + header + length;
    if (!Number.isFinite(end) || end > buffer.length) throw new RangeError("DER: length past the end");
    out.push({ tag, whole: buffer.subarray(at, end), contents: buffer.subarray(at + header, end) });
    at = end;
  }
  return out;
}
