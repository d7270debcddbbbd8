// Rooms by name and by look-alike, and the history a joiner is replayed.
// Internal to the chat package (not exported from index.ts): ChatHub is its only user.
import { History } from "./history.js";
import { lookalikeKey } from "./nicks.js";
import type { Encoded, Outbox } from "./output.js";
import { DEFAULT_ROOM } from "./rules.js";
import type { ChatEvent } from "./schema.js";
import type { Session } from "./session.js";

export interface Room {
  name: string;
  members: Set<Session>;
  /** Messages as replayed (`history: true`), encoded once for every joiner to share. */
  history: History<Encoded>;
}

/**
 * The open rooms by name. A Map itself, so the room lookup on every line is Map's own `get`; the
 * rest opens and closes rooms, and finds one by its look-alike key.
 */
export class Rooms extends Map<string, Room> {
  /** Each room's name by its look-alike key: `/join #LOBBY` or `#lоbby` (Cyrillic о) is #lobby. */
  readonly #byLook = new Map<string, string>();
  readonly #historySize: number;

  constructor(historySize: number) {
    super();
    this.#historySize = historySize;
  }

  /** The room `wanted` names: an open room of that name, else an open one it looks like, else `wanted`. */
  resolve(wanted: string): string {
    return this.has(wanted) ? wanted : (this.#byLook.get(lookalikeKey(wanted)) ?? wanted);
  }

  /** The room called `name`, opened if it is not. */
  open(name: string): Room {
    let room = this.get(name);
    if (!room) {
      room = { name, members: new Set(), history: new History(this.#historySize) };
      this.set(name, room);
      this.#byLook.set(lookalikeKey(name), name);
    }
    return room;
  }

  /** Closes `room` once its last member left (true when it did); the default room stays open. */
  closeIfEmpty(room: Room): boolean {
    if (room.members.size === 0 && room.name !== DEFAULT_ROOM) {
      this.delete(room.name);
      this.#byLook.delete(lookalikeKey(room.name));
      return true;
    }
    return false;
  }

  /** Who is in `name`, as the `who` event. */
  who(name: string): ChatEvent {
    const members = this.get(name)?.members ?? new Set<Session>();
    return { type: "who", room: name, nicks: [...members].map((m) => m.nick).sort() };
  }

  /** The rooms and how many clients each holds (joined ones), by name: what `/rooms` lists. */
  list(): { name: string; clients: number }[] {
    return [...this.values()]
      .map((r) => ({ name: r.name, clients: r.members.size }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/**
 * The room's last messages to `s`, newest ones first in line for the budget: as many as fit in half
 * of the client's queue and under the server's total; the client is told how many were left out.
 */
export function replayHistory(out: Outbox, s: Session, room: Room | undefined): void {
  if (!room || room.history.size === 0) return;
  replayItems(out, s, room.history.items());
}

/** `items` (oldest first) to `s`, as many of the newest as fit its budget; it is told how many did not. */
export function replayItems(out: Outbox, s: Session, items: readonly Encoded[]): void {
  if (items.length === 0) return;
  const budget = out.budget(s);
  let first = items.length;
  for (let bytes = 0; first > 0; first--) {
    bytes += items[first - 1]!.for(s.mode).length;
    if (bytes > budget) break;
  }
  if (first > 0) {
    const shown = items.length - first;
    out.notice(
      s,
      "info",
      `history: ${first} older message${first === 1 ? "" : "s"} not shown, only the last ${shown} fit in this connection's output queue`,
    );
  }
  for (let i = first; i < items.length; i++) out.sendRaw(s, items[i]!.for(s.mode));
}
