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
 * Pass `self` (the reader's nick) for the sender's copy of a private message. The escaping is
 * `formatEvent`'s `escape` option, the same that `lab client` and the demo use on a terminal.
 * @example textLine({ type: "message", id: 1, room: "#lobby", from: "eve", text: "hi\x1b[2J", ts: 0 })
 *   // → "<eve> hi^[[2J\n"
 */
export function textLine(e: ChatEvent, self?: string): Buffer {
  return Buffer.from(`${formatEvent(e, self, ESCAPE)}\n`, "utf8");
}

/** formatEvent's options for a text-mode client: one object, not one per line. */
const ESCAPE = { escape: true } as const;
