// JSON mode's lines: the hello that opens a connection, and the commands after it.
// Internal to the chat package (not exported from index.ts); text mode's are parseInput (rules.ts).
import { formatIssues } from "@netlab/protocol";
import { ChatError } from "./errors.js";
import type { Command } from "./rules.js";
import { clientMessageSchema, type Hello } from "./schema.js";

/** The connection's first line as a hello, or undefined when it is not one (the line is then a command). */
export function parseHello(text: string): Hello | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null || (value as { type?: unknown }).type !== "hello") {
    return undefined;
  }
  const parsed = clientMessageSchema.safeParse(value);
  return parsed.success && parsed.data.type === "hello" ? parsed.data : undefined;
}

/** A JSON-mode line as a command; throws BAD_MESSAGE (not JSON, not a command) or HELLO_TOO_LATE. */
export function parseJsonCommand(text: string): Command | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ChatError("BAD_MESSAGE", `bad message: not JSON: ${(cause as Error).message}`, {
      hint: 'send one JSON object per line, e.g. {"type":"message","text":"hi"}',
    });
  }
  const parsed = clientMessageSchema.safeParse(value);
  if (!parsed.success) {
    throw new ChatError("BAD_MESSAGE", `bad message: ${formatIssues(parsed.error.issues)}`, {
      hint: "see docs/PROTOCOL.md for the commands",
    });
  }
  const m = parsed.data;
  if (m.type === "hello") {
    throw new ChatError("HELLO_TOO_LATE", "hello must be the first line of the connection", {
      hint: "reconnect and send hello first",
    });
  }
  return m;
}
