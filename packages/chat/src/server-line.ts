import { ChatError } from "./errors.js";
import { type ChatEvent, chatEventSchema } from "./schema.js";

/** The one line a full netlab chat server sends before closing. */
const FULL = /^! (.*) \[SERVER_FULL\]$/;

/** A netlab server turning the client away (its first line says SERVER_FULL); undefined for any other line. */
export function serverFull(line: string): ChatError | undefined {
  if (!FULL.test(line)) return undefined;
  return new ChatError("SERVER_FULL", line.replace(FULL, "$1"), {
    hint: "try again later, or ask the operator to raise --max-clients",
  });
}

/**
 * The event a JSON-mode line carries. Undefined for text lines sent before the server saw our
 * hello, and for an event from a newer server (skipped rather than failed).
 */
export function parseEvent(line: string): ChatEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const parsed = chatEventSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
