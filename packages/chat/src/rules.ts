import { ChatError } from "./errors.js";

/** The protocol name and version the server announces in its first line; clients upgrade on seeing it. */
export const PROTOCOL_TAG = "netlab chat/1";
/** The JSON-mode protocol version (`hello.proto`). */
export const PROTOCOL_VERSION = 1;
/** The room every client starts in. */
export const DEFAULT_ROOM = "#lobby";
/** Longest nick, in characters. */
export const MAX_NICK_CHARS = 32;

const NICK = /^[\p{L}\p{N}_-]{1,32}$/u;
const ROOM = /^#[\p{L}\p{N}_-]{1,32}$/u;
/** Nicks nobody may take, so `<server> text` can only come from the operator. */
const RESERVED = new Set(["server"]);

/** Throws NICK_INVALID unless `nick` is 1–32 letters, digits, `_` or `-` (and not reserved). */
export function checkNick(nick: string): string {
  if (!NICK.test(nick)) {
    throw new ChatError(
      "NICK_INVALID",
      `nick ${quoteShort(nick)} is not allowed: use 1–${MAX_NICK_CHARS} letters, digits, _ or -`,
      { hint: "for example /nick alice_2" },
    );
  }
  if (RESERVED.has(nick.toLowerCase())) {
    throw new ChatError("NICK_INVALID", `nick ${JSON.stringify(nick)} is reserved`, {
      hint: "choose another nick",
    });
  }
  return nick;
}

/** `text` in quotes, cut to 40 characters so an error line never echoes a huge input back. */
function quoteShort(text: string): string {
  const chars = [...text];
  return chars.length > 40 ? `${JSON.stringify(chars.slice(0, 40).join(""))}…` : JSON.stringify(text);
}

/** Normalises `room` (adds a missing `#`) and throws ROOM_INVALID unless it is `#` + 1–32 letters, digits, `_` or `-`. */
export function checkRoom(room: string): string {
  const name = room.startsWith("#") ? room : `#${room}`;
  if (!ROOM.test(name)) {
    throw new ChatError(
      "ROOM_INVALID",
      `room ${JSON.stringify(room)} is not allowed: use # and 1–32 letters, digits, _ or -`,
      { hint: "for example /join #games" },
    );
  }
  return name;
}

/** Case-insensitive key for nick uniqueness: `Alice` and `alice` are the same person. */
export function nickKey(nick: string): string {
  return nick.toLowerCase();
}

/** A command as typed in text mode, or sent as JSON: the one shape the server acts on. */
export type Command =
  | { type: "message"; text: string }
  | { type: "me"; text: string }
  | { type: "nick"; nick: string }
  | { type: "join"; room: string }
  | { type: "who" }
  | { type: "rooms" }
  | { type: "private"; to: string; text: string }
  | { type: "help" }
  | { type: "quit" }
  | { type: "ping"; id?: string | number | undefined };

/** The commands `/help` lists, in order. */
export const HELP_LINES: readonly string[] = [
  "commands:",
  "  /nick NAME        change your nick (1-32 letters, digits, _ or -)",
  "  /join #room       leave this room and join another (created on first join)",
  "  /rooms            list rooms and how many are in each",
  "  /who              list who is in your room",
  "  /msg NICK text    a private message",
  "  /me action        an action: * alice waves",
  "  /help             this list",
  "  /quit             leave",
  "anything else is a message to your room; start a line with // to send one starting with /",
];

/**
 * Parses one line as a person types it: text is a message, `/cmd args` a command, `//x` the
 * message `/x`. Returns undefined for an empty line. Throws UNKNOWN_COMMAND or BAD_ARGUMENTS.
 * @example parseInput("/msg bob hi") // → { type: "private", to: "bob", text: "hi" }
 */
export function parseInput(line: string): Command | undefined {
  if (line.trim() === "") return undefined;
  if (!line.startsWith("/")) return { type: "message", text: line };
  if (line.startsWith("//")) return { type: "message", text: line.slice(1) };
  const match = /^\/(\S+)\s*(.*)$/s.exec(line);
  const name = (match?.[1] ?? "").toLowerCase();
  const rest = (match?.[2] ?? "").trim();
  const [first = "", ...others] = rest.split(/\s+/);
  switch (name) {
    case "nick":
      if (!first || others.length > 0) throw usage("/nick NAME");
      return { type: "nick", nick: first };
    case "join":
      if (!first || others.length > 0) throw usage("/join #room");
      return { type: "join", room: first };
    case "rooms":
      return { type: "rooms" };
    case "who":
    case "names":
      return { type: "who" };
    case "msg":
    case "tell": {
      const text = rest.slice(first.length).trim();
      if (!first || !text) throw usage("/msg NICK text");
      return { type: "private", to: first, text };
    }
    case "me":
      if (!rest) throw usage("/me action");
      return { type: "me", text: rest };
    case "help":
    case "?":
      return { type: "help" };
    case "quit":
    case "exit":
      return { type: "quit" };
    default:
      throw new ChatError("UNKNOWN_COMMAND", `unknown command /${name}`, {
        hint: "/help lists the commands; start a line with // to send text that begins with /",
      });
  }
}

function usage(form: string): ChatError {
  return new ChatError("BAD_ARGUMENTS", `usage: ${form}`, { hint: "/help lists the commands" });
}
