import { closest, hasControls } from "@netlab/core";
import { ChatError } from "./errors.js";
import { hasInvisible, quoteShort } from "./nicks.js";

/** The protocol name and version the server announces in its first line; clients upgrade on seeing it. */
export const PROTOCOL_TAG = "netlab chat/1";
/** The ALPN protocol a chat server and client agree on over TLS. */
export const CHAT_ALPN = "netlab-chat/1";
/** The JSON-mode protocol version (`hello.proto`). */
export const PROTOCOL_VERSION = 1;
/** The room every client starts in. */
export const DEFAULT_ROOM = "#lobby";
export { checkNick, MAX_NICK_CHARS, nickKey } from "./nicks.js";

const ROOM = /^#[\p{L}\p{N}_-]{1,32}$/u;

/** Normalises `room` (adds a missing `#`) and throws ROOM_INVALID unless it is `#` + 1–32 letters, digits, `_` or `-`. */
export function checkRoom(room: string): string {
  const name = room.startsWith("#") ? room : `#${room}`;
  if (hasControls(name)) {
    throw new ChatError(
      "ROOM_INVALID",
      `room ${quoteShort(room)} is not allowed: it contains control or text-direction characters`,
      { hint: "use # and 1–32 letters, digits, _ or -, for example /join #games" },
    );
  }
  if (!ROOM.test(name)) {
    throw new ChatError(
      "ROOM_INVALID",
      `room ${quoteShort(room)} is not allowed: use # and 1–32 letters, digits, _ or -`,
      { hint: "for example /join #games" },
    );
  }
  if (hasInvisible(name)) {
    throw new ChatError(
      "ROOM_INVALID",
      `room ${quoteShort(room)} is not allowed: it contains invisible letters`,
      {
        hint: "use letters that show, for example /join #games",
      },
    );
  }
  return name;
}

/** A command as typed in text mode, or sent as JSON: the one shape the server acts on. */
export type Command =
  | { type: "message"; text: string }
  | { type: "me"; text: string }
  | { type: "nick"; nick: string }
  | { type: "join"; room: string }
  | { type: "who" }
  | { type: "rooms" }
  | { type: "nodes" }
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
  "  /nodes            list the cluster's nodes (one, when not in a cluster)",
  "  /msg NICK text    a private message",
  "  /me action        an action: * alice waves",
  "  /help             this list",
  "  /quit             leave",
  "anything else is a message to your room; start a line with // to send one starting with /",
];

/** Every command parseInput knows, aliases included: what a did-you-mean chooses from. */
const COMMAND_NAMES = ["nick", "join", "rooms", "who", "names", "msg", "tell", "me", "help", "quit", "exit"];

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
    case "nodes":
      return { type: "nodes" };
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
    default: {
      const near = closest(name, COMMAND_NAMES);
      // The suggestion is in the message: a chat's error line shows the message, not the hint.
      throw new ChatError(
        "UNKNOWN_COMMAND",
        `unknown command /${name}${near ? `: did you mean /${near}?` : ""}`,
        {
          hint: "/help lists the commands; start a line with // to send text that begins with /",
        },
      );
    }
  }
}

function usage(form: string): ChatError {
  return new ChatError("BAD_ARGUMENTS", `usage: ${form}`, { hint: "/help lists the commands" });
}
