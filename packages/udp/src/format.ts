import { escapeControls } from "@netlab/protocol";

/** A payload as one readable line: the text when it is printable UTF-8, else hex. */
export interface PayloadView {
  kind: "text" | "hex" | "empty";
  /**
   * Text with `\n`, `\r`, `\t` and `\\` escaped and every other character a terminal could act
   * on shown as `<U+XXXX>` (C1 controls, bidi overrides, U+2028/2029, the BOM: the project's one
   * rule, `escapeControls`), or lowercase hex; cut at `maxChars`.
   */
  value: string;
  /** True when `value` was cut. */
  isTruncated: boolean;
}

// ignoreBOM keeps a leading BOM in the text, so it is shown rather than silently dropped.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Shows a datagram's payload on one line, safe for a terminal: UTF-8 text as text (escaping
 * newlines, so one datagram stays one line, and showing C1 controls, bidi overrides, line
 * separators and the BOM as `<U+XXXX>`), anything with other control bytes, or not UTF-8, as hex.
 * @example viewPayload(Buffer.from("hi\n")) // { kind: "text", value: "hi\\n", isTruncated: false }
 * @example viewPayload(Buffer.from("a\u202eb")).value // "a<U+202E>b"
 */
export function viewPayload(packet: Uint8Array, maxChars = Number.POSITIVE_INFINITY): PayloadView {
  if (packet.length === 0) return { kind: "empty", value: "", isTruncated: false };
  let text: string | undefined;
  try {
    text = utf8.decode(packet);
  } catch {
    text = undefined;
  }
  // Control characters other than tab, CR and LF (and DEL) make it binary.
  if (text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) {
    const escaped = text.replace(
      /[\\\n\r\t]/g,
      (c) => ({ "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!,
    );
    return cut("text", escapeControls(escaped), maxChars);
  }
  return cut(
    "hex",
    Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength).toString("hex"),
    maxChars,
  );
}

function cut(kind: "text" | "hex", value: string, maxChars: number): PayloadView {
  return value.length > maxChars
    ? { kind, value: value.slice(0, maxChars), isTruncated: true }
    : { kind, value, isTruncated: false };
}

/**
 * The line `lab udp listen` prints per datagram: `FROM  N bytes  text-or-hex`.
 * @example formatDatagram("127.0.0.1:40000", Buffer.from("hello\n")) // "127.0.0.1:40000  6 bytes  hello\\n"
 */
export function formatDatagram(from: string, packet: Uint8Array, maxChars = 200): string {
  const view = viewPayload(packet, maxChars);
  const size = `${packet.length} byte${packet.length === 1 ? "" : "s"}`;
  if (view.kind === "empty") return `${from}  ${size}`;
  const shown = view.kind === "hex" ? `hex ${view.value}` : view.value;
  return `${from}  ${size}  ${shown}${view.isTruncated ? " …" : ""}`;
}
