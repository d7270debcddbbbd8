import { escapeControls, hasControls } from "@netlab/core";
import type { ChatEvent } from "./schema.js";

/** Options for {@link formatEvent}. */
export interface FormatOptions {
  /**
   * For a terminal (or an nc user, see `textLine`): every string of the event (text, nicks, rooms,
   * reasons, error texts, lists) has its control and bidi characters shown (`^[`, `<U+202E>`, see
   * `escapeControls`), never live, and a newline inside a message shows as `^J`, so one message
   * stays one line. Only the server's own notices (help) keep their line breaks, each line
   * starting with `* `. Default false: the exact text, for a pipe a script reads.
   */
  escape?: boolean;
  /**
   * Mark messages replayed from the room's history (`history: true`) with the time they were said
   * and `(history)`: `[12:03] (history) <alice> hi` (local time; the date too when not today), so
   * a reader tells them from live ones. Default false: the server's own text mode sends them as
   * live lines.
   */
  markHistory?: boolean;
}

/**
 * A time as a chat line shows it, in local time: `12:03` today, `2026-12-05 12:03` another day.
 * @example clockTime(Date.now()) // → "12:03"
 */
export function clockTime(ts: number, now: number = Date.now()): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return "--:--"; // a peer's ts is any number
  const pad = (n: number) => String(n).padStart(2, "0");
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === new Date(now).toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
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
  if (options.markHistory && e.type === "message" && e.history) {
    const line = formatEvent(e, self, { escape: options.escape ?? false });
    return `[${clockTime(e.ts)}] (history) ${line}`;
  }
  if (options.escape && needsEscape(e)) {
    // Every string of the event is escaped before the line is put together: the line breaks
    // formatEvent adds stay, the ones a peer sent do not. Only the server's own notices (help)
    // keep theirs.
    const keepLines = e.type === "notice" && e.kind !== "operator";
    return formatEvent(
      escapeAll(e, keepLines) as ChatEvent,
      self === undefined ? undefined : escapeControls(self),
    );
  }
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
    case "nodes":
      return `* nodes: ${e.nodes.map((n) => `${n.id} (${n.clients} client${n.clients === 1 ? "" : "s"}${n.self ? ", this node" : ""})`).join(", ")}`;
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

/**
 * Whether any string in `value` holds a character to show; most events have none and are not copied.
 * Loops rather than `Object.values().some()`: the hub runs this once per message, mostly as cold
 * code at chat rates, where every array and callback counts.
 */
function needsEscape(value: unknown): boolean {
  if (typeof value === "string") return hasControls(value);
  if (typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (needsEscape(value[i])) return true;
    return false;
  }
  for (const key in value) {
    const field = (value as Record<string, unknown>)[key];
    if (typeof field === "string" ? hasControls(field) : needsEscape(field)) return true;
  }
  return false;
}

/**
 * A copy of `value` with every string escaped (`keepLines`: except `\n`): walks all fields, so a
 * field added to an event later is covered too.
 */
function escapeAll(value: unknown, keepLines: boolean): unknown {
  if (typeof value === "string") {
    return keepLines
      ? value
          .split("\n")
          .map((line) => escapeControls(line))
          .join("\n")
      : escapeControls(value);
  }
  if (Array.isArray(value)) return value.map((v) => escapeAll(v, keepLines));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeAll(v, keepLines)]));
  }
  return value;
}
