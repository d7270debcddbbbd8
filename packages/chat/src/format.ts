import { escapeControls } from "@netlab/protocol";
import type { ChatEvent } from "./schema.js";

/** Options for {@link formatEvent}. */
export interface FormatOptions {
  /**
   * For a terminal: every field that came from the network (text, nicks, rooms, messages) has its
   * control and bidi characters shown (`^[`, `<U+202E>`, see `escapeControls`), never live, and a
   * newline inside a message shows as `^J`, so one message stays one line. Only a multi-line
   * notice (help) keeps its line breaks, each line starting with `* `. Default false: the exact
   * text, for a pipe a script reads.
   */
  escape?: boolean;
}

/**
 * One line of text for an event, as text-mode clients see it and as `lab client` and the TUI show
 * it: `<alice> hi`, `* alice waves`, `* bob joined #lobby`, `*alice* psst`, `! nick … [NICK_TAKEN]`.
 * Multi-line notices (help) contain newlines; everything else is one line. Pass `self` (our nick)
 * to show our own private messages as `-> *bob* text`; pass `{ escape: true }` when the line goes
 * to a terminal.
 * @example formatEvent({ type: "join", room: "#lobby", nick: "bob", ts: 0 }) // → "* bob joined #lobby"
 * @example formatEvent(event, client.nick, { escape: process.stdout.isTTY })
 */
export function formatEvent(e: ChatEvent, self?: string, options: FormatOptions = {}): string {
  // Each field is escaped on its own, before the line is put together: the line breaks formatEvent
  // adds (notices) stay, the ones a peer sent do not.
  const f = options.escape ? (text: string) => escapeControls(text) : (text: string) => text;
  switch (e.type) {
    case "welcome":
      return `* ${f(e.text)}`;
    case "message":
      return e.action ? `* ${f(e.from)} ${f(e.text)}` : `<${f(e.from)}> ${f(e.text)}`;
    case "join":
      return `* ${f(e.nick)} joined ${f(e.room)}`;
    case "leave":
      return `* ${f(e.nick)} left ${f(e.room)}${e.reason ? ` (${f(e.reason)})` : ""}`;
    case "nick":
      return `* ${f(e.from)} is now known as ${f(e.to)}`;
    case "who":
      return `* in ${f(e.room)}: ${e.nicks.map(f).join(", ")}`;
    case "rooms":
      return `* rooms: ${e.rooms.map((r) => `${f(r.name)} (${r.clients})`).join(", ") || "none"}`;
    case "private":
      // Our own private message comes back to us as confirmation.
      return self !== undefined && e.from === self && e.to !== self
        ? `-> *${f(e.to)}* ${f(e.text)}`
        : `*${f(e.from)}* ${f(e.text)}`;
    case "error":
      return `! ${f(e.message)} [${f(e.code)}]`;
    case "notice":
      if (e.kind === "operator") return `<server> ${f(e.text)}`;
      return e.text
        .split("\n")
        .map((l) => `* ${f(l)}`)
        .join("\n");
    case "pong":
      return `* pong${e.id === undefined ? "" : ` ${f(String(e.id))}`}`;
  }
}
