import type { Key } from "ink";
import type { SceneSnapshot } from "./controller.js";

/** What every scene's UI remembers: the focused pane, each pane's scroll offset, whether it is closing. */
export interface SceneUi {
  /** Index of the focused client pane (clamped to the panes there are). */
  focus: number;
  /** Rows scrolled back, per pane (`client:2`, `wire:2`); 0 is the newest line. */
  offsets: Readonly<Record<string, number>>;
  isQuitting: boolean;
}

/** What a key's action may do once the frame is drawn: call the lab, change the UI later, quit. */
export interface SceneIo<L, U> {
  lab: L;
  /** Changes the UI state (e.g. focus the client that `addClient` resolved with). */
  set(patch: Partial<U>): void;
  /** Closes the lab, then exits Ink. */
  quit(): void;
}

/** What a binding's action sees: the UI state, the lab's snapshot and the focused client. */
export interface KeyContext<U, S extends SceneSnapshot> {
  ui: U;
  snapshot: S;
  focused: S["clients"][number];
  /** The focused client's index, clamped. */
  focus: number;
  input: string;
  key: Key;
}

/** What a key does: a new UI state at once, and a call to the lab after the frame (`run`). */
export interface KeyResult<U, L> {
  ui?: Partial<U>;
  run?(io: SceneIo<L, U>): void;
}

/**
 * One key of a scene: how the legend names it, when it matches, what it does. A scene's key map is
 * one list of these, read by both the input handler and the legend, so the legend shows exactly
 * the keys that are handled. A binding without a `label` is handled but left out of the one-line
 * legend (Backspace, ^U, typing; docs/demo.md lists every key).
 */
export interface KeyBinding<U, L, S extends SceneSnapshot> {
  /** How the legend writes the key: "^N", "Tab/⇧Tab". */
  keys: string;
  /** What it does, as the legend says it when there is room, and when there is not. */
  label?: string;
  short?: string;
  /** Acts even before there is a client to focus (^C). */
  isGlobal?: boolean;
  matches(input: string, key: Key): boolean;
  act(ctx: KeyContext<U, S>): KeyResult<U, L>;
}

/** Rows one PgUp/PgDn scrolls. */
export const PAGE_ROWS = 5;

/** Control and a letter: `ctrl("n")` is ^N. */
export function ctrl(letter: string): (input: string, key: Key) => boolean {
  return (input, key) => key.ctrl && input === letter;
}

/** Any of these characters, typed without Ctrl or Alt. */
export function typed(...chars: string[]): (input: string, key: Key) => boolean {
  return (input, key) => !key.ctrl && !key.meta && chars.includes(input);
}

/** Tab and Shift-Tab: the next and the previous client, wrapping around. */
export function focusKey<U extends SceneUi, L, S extends SceneSnapshot>(): KeyBinding<U, L, S> {
  return {
    keys: "Tab/⇧Tab",
    label: "focus",
    short: "focus",
    matches: (_, key) => key.tab,
    act: ({ focus, snapshot, key }) => {
      const count = snapshot.clients.length;
      return { ui: { focus: key.shift ? (focus - 1 + count) % count : (focus + 1) % count } as Partial<U> };
    },
  };
}

/** PgUp/PgDn (a page) and ↑/↓ (a row) scroll the pane `pane` names; default the focused client's. */
export function scrollKey<U extends SceneUi, L, S extends SceneSnapshot>(
  pane: (ctx: KeyContext<U, S>) => string = ({ focused }) => `client:${focused.id}`,
): KeyBinding<U, L, S> {
  return {
    keys: "PgUp/PgDn",
    label: "scroll",
    short: "scroll",
    matches: (_, key) => key.pageUp || key.pageDown || key.upArrow || key.downArrow,
    act: (ctx) => {
      const { key, ui } = ctx;
      const rows = key.pageUp || key.pageDown ? PAGE_ROWS : 1;
      const delta = key.pageUp || key.upArrow ? rows : -rows;
      const at = pane(ctx);
      const offsets = { ...ui.offsets, [at]: Math.max(0, (ui.offsets[at] ?? 0) + delta) };
      return { ui: { offsets } as Partial<U> };
    },
  };
}

/** ^C: close the lab and exit, from anywhere; every key after it is ignored. */
export function quitKey<U extends SceneUi, L, S extends SceneSnapshot>(): KeyBinding<U, L, S> {
  return {
    keys: "^C",
    label: "quit",
    short: "quit",
    isGlobal: true,
    matches: ctrl("c"),
    act: () => ({ ui: { isQuitting: true } as Partial<U>, run: (io) => io.quit() }),
  };
}

/** ^N: add a client (`what`: "add client") with `add`, and focus it. */
export function addKey<U extends SceneUi, L, S extends SceneSnapshot>(
  what: string,
  add: (lab: L) => Promise<number>,
): KeyBinding<U, L, S> {
  return {
    keys: "^N",
    label: what,
    short: "add",
    matches: ctrl("n"),
    act: () => ({ run: ({ lab, set }) => void add(lab).then((id) => set({ focus: id - 1 } as Partial<U>)) }),
  };
}

/** ^R: restart the server (it logs its own failures). */
export function restartKey<
  U extends SceneUi,
  L extends { restartServer(): Promise<void> },
  S extends SceneSnapshot,
>(): KeyBinding<U, L, S> {
  return {
    keys: "^R",
    label: "restart server",
    short: "restart",
    matches: ctrl("r"),
    act: () => ({ run: ({ lab }) => void lab.restartServer().catch(() => {}) }),
  };
}

/** A key event with nothing pressed, for keys split out of one read. */
const NO_KEY = Object.fromEntries(
  ["upArrow", "downArrow", "leftArrow", "rightArrow", "pageDown", "pageUp", "home", "end", "return"]
    .concat([
      "escape",
      "ctrl",
      "shift",
      "tab",
      "backspace",
      "delete",
      "meta",
      "super",
      "hyper",
      "capsLock",
      "numLock",
    ])
    .map((name) => [name, false]),
) as unknown as Key;

/**
 * Keys typed faster than they are read (a paste, tmux send-keys) arrive as one string: each
 * character is a key of its own, so Enter, Tab, Backspace and ^N inside it still act. Escape
 * sequences (arrows, PgUp, Shift-Tab) are left whole to Ink's parsing.
 */
export function splitKeys(input: string, key: Key): Array<[string, Key]> {
  if (key.ctrl || key.meta || input.length <= 1 || input.includes("\u001b")) return [[input, key]];
  return [...input].map((ch) => {
    const code = ch.charCodeAt(0);
    if (code === 0x0d || code === 0x0a) return ["", { ...NO_KEY, return: true }];
    if (code === 0x09) return ["", { ...NO_KEY, tab: true }];
    if (code === 0x7f || code === 0x08) return ["", { ...NO_KEY, backspace: true }];
    if (code >= 0x01 && code <= 0x1a) return [String.fromCharCode(code + 0x60), { ...NO_KEY, ctrl: true }];
    return [ch, NO_KEY];
  });
}
