import { escapeControls, hasControls } from "@netlab/protocol";
import { formatEvent } from "./format.js";
import type { ChatEvent } from "./schema.js";

/**
 * The line a text-mode client (nc, telnet) gets for `e`, newline included: the project's one rule
 * for text that reaches a person, applied where the hub writes the plain line protocol. Every
 * string in the event (message, action, nicks, room names, reasons, error texts, `/who` lists,
 * history replays alike) has its control and bidi characters shown, `cat -v` style (`^[`, `^G`,
 * `<U+202E>`), before it is formatted, so a peer can neither drive the reader's terminal nor start
 * a line of its own (a `\n` or `\r` in JSON-sent text shows as `^J`, `^M`). Only the server's own
 * notices keep their newlines (help is several lines). JSON-mode clients get the exact text.
 * Pass `self` (the reader's nick) for the sender's copy of a private message.
 * @example textLine({ type: "message", id: 1, room: "#lobby", from: "eve", text: "hi\x1b[2J", ts: 0 })
 *   // → "<eve> hi^[[2J\n"
 */
export function textLine(e: ChatEvent, self?: string): Buffer {
  const keepLayout = e.type === "notice" && e.kind !== "operator";
  const shown = needsEscape(e) ? (escapeAll(e, keepLayout) as ChatEvent) : e;
  return Buffer.from(`${formatEvent(shown, self)}\n`, "utf8");
}

/** Whether any string in `value` holds a character to show; most events have none and are not copied. */
function needsEscape(value: unknown): boolean {
  if (typeof value === "string") return hasControls(value);
  if (Array.isArray(value)) return value.some(needsEscape);
  if (typeof value === "object" && value !== null) return Object.values(value).some(needsEscape);
  return false;
}

/** A copy of `value` with every string escaped: walks all fields, so a field added later is covered too. */
function escapeAll(value: unknown, keepLayout: boolean): unknown {
  if (typeof value === "string") return escapeControls(value, { keepLayout });
  if (Array.isArray(value)) return value.map((v) => escapeAll(v, keepLayout));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeAll(v, keepLayout)]));
  }
  return value;
}
