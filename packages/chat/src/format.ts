import type { ChatEvent } from "./schema.js";

/**
 * One line of text for an event, as text-mode clients see it and as `lab client` and the TUI show
 * it: `<alice> hi`, `* alice waves`, `* bob joined #lobby`, `*alice* psst`, `! nick … [NICK_TAKEN]`.
 * Multi-line notices (help) contain newlines; everything else is one line. Pass `self` (our nick)
 * to show our own private messages as `-> *bob* text`.
 * @example formatEvent({ type: "join", room: "#lobby", nick: "bob", ts: 0 }) // → "* bob joined #lobby"
 */
export function formatEvent(e: ChatEvent, self?: string): string {
  switch (e.type) {
    case "welcome":
      return `* ${e.text}`;
    case "message":
      return e.action ? `* ${e.from} ${e.text}` : `<${e.from}> ${e.text}`;
    case "join":
      return `* ${e.nick} joined ${e.room}`;
    case "leave":
      return `* ${e.nick} left ${e.room}${e.reason ? ` (${e.reason})` : ""}`;
    case "nick":
      return `* ${e.from} is now known as ${e.to}`;
    case "who":
      return `* in ${e.room}: ${e.nicks.join(", ")}`;
    case "rooms":
      return `* rooms: ${e.rooms.map((r) => `${r.name} (${r.clients})`).join(", ") || "none"}`;
    case "private":
      // Our own private message comes back to us as confirmation.
      return self !== undefined && e.from === self && e.to !== self
        ? `-> *${e.to}* ${e.text}`
        : `*${e.from}* ${e.text}`;
    case "error":
      return `! ${e.message} [${e.code}]`;
    case "notice":
      if (e.kind === "operator") return `<server> ${e.text}`;
      return e.text
        .split("\n")
        .map((l) => `* ${l}`)
        .join("\n");
    case "pong":
      return `* pong${e.id === undefined ? "" : ` ${e.id}`}`;
  }
}
