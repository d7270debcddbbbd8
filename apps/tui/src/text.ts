import { escapeControls } from "@netlab/core";

/**
 * Text helpers for fixed-width panes. Widths count UTF-16 code points, one column each; wide
 * glyphs (CJK, emoji) may overhang, and every line is also rendered with truncation as a guard.
 *
 * Every string a pane shows goes through one of them, and each starts with {@link screenText}:
 * text from the network (messages, nicks, file names, payloads) is shown, never obeyed.
 */

/**
 * `text` as a pane may draw it: every control and bidi character shown (`^[`, `^G`, `<U+202E>`,
 * as `escapeControls` does), except the line breaks that {@link wrapText} lays out. Idempotent,
 * so text escaped earlier is unchanged.
 * @example screenText("hi \x1b[2J") // "hi ^[[2J"
 */
export function screenText(text: string): string {
  return text.includes("\n")
    ? text
        .split("\n")
        .map((line) => escapeControls(line))
        .join("\n")
    : escapeControls(text);
}

/** Columns a wrapped line's continuation rows are indented by, so they read as part of the line above. */
export const WRAP_INDENT = 2;

/** A unit after a number: the space before it never breaks, so "16.0" and "MiB" stay on one row. */
const UNIT = /^(?:B|KiB|MiB|GiB|TiB|kB|MB|GB|ms|s|%|dgram|msg)(?:\/s)?(?![\p{L}\d])/u;
/** A line's leading marker (`*`, `+`, `-`, `!`, `✓`, `×`, `→`, `←`): kept with the word after it. */
const MARKER = /^[*+\-!✓×→←]$/;

/**
 * Splits `text` into rows of at most `width` columns, breaking at spaces where it can. Made for
 * narrow panes (an 80×24 terminal gives a client pane 22 columns), it leaves no orphaned fragment:
 * continuation rows are indented by {@link WRAP_INDENT}, so a wrapped piece reads as part of its
 * line; a number is never parted from its unit (`16.0 MiB`), nor a leading marker (`* `, `+ `) from
 * its word; and a last row of one word takes the word before it when that fits (as `… for` /
 * `commands` becomes `…` / `for commands`). A word longer than a row is cut.
 */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  // Too narrow to indent and still show something: plain rows.
  const indent = w > WRAP_INDENT * 4 ? WRAP_INDENT : 0;
  const out: string[] = [];
  for (const paragraph of screenText(text).split("\n")) {
    const rows = wrapParagraph([...paragraph], w, w - indent);
    out.push(...rows.map((row, i) => (i === 0 ? row : " ".repeat(indent) + row)));
  }
  return out;
}

/** The rows of one paragraph: the first up to `first` columns, the rest up to `rest` (before indenting). */
function wrapParagraph(chars: string[], first: number, rest: number): string[] {
  if (chars.length === 0) return [""];
  const breaks = breakable(chars);
  const rows: string[][] = [];
  let at = 0;
  while (at < chars.length) {
    const room = rows.length === 0 ? first : rest;
    if (chars.length - at <= room) {
      rows.push(chars.slice(at));
      break;
    }
    // The last breakable space within the row; else any space; else a hard cut.
    let cut = -1;
    for (let i = at + room; i > at; i--) {
      if (breaks[i]) {
        cut = i;
        break;
      }
    }
    if (cut < 0) cut = chars.lastIndexOf(" ", at + room);
    if (cut <= at) {
      rows.push(chars.slice(at, at + room));
      at += room;
      continue;
    }
    rows.push(trimEnd(chars.slice(at, cut)));
    at = cut + 1;
    while (chars[at] === " " && at < chars.length) at++;
  }
  avoidWidow(rows, rest);
  return rows.map((r) => r.join(""));
}

/** `breaks[i]`: the space at `i` may end a row (it does not part a number from its unit or a marker from its word). */
function breakable(chars: string[]): boolean[] {
  const text = chars.join("");
  const offsets: number[] = [];
  // chars holds code points; the regular expressions below read the string, so map positions.
  let unit = 0;
  for (const c of chars) {
    offsets.push(unit);
    unit += c.length;
  }
  return chars.map((c, i) => {
    if (c !== " " || i === 0) return false;
    const before = chars[i - 1] ?? "";
    if (/\d/.test(before) && UNIT.test(text.slice((offsets[i] ?? 0) + 1))) return false;
    if (i === 1 && MARKER.test(before)) return false;
    return true;
  });
}

/**
 * A last row of one word takes the previous row's last word, when that fits and leaves the
 * previous row two words and half full.
 */
function avoidWidow(rows: string[][], rest: number): void {
  if (rows.length < 2) return;
  const last = rows[rows.length - 1] as string[];
  const prev = rows[rows.length - 2] as string[];
  // One word: no space it could break at ("0.1 ms" counts as one).
  if (breakable(last).some(Boolean)) return;
  const prevBreaks = breakable(prev);
  const space = prevBreaks.lastIndexOf(true);
  // The row it leaves keeps two words at least (a marker and its word count: "* connecting").
  if (space <= 0 || !prev.slice(0, space).includes(" ")) return;
  const moved = prev.slice(space + 1);
  // Only a word's worth: the row it leaves stays at least half full.
  if (moved.length + 1 + last.length > rest || space < rest / 2) return;
  rows[rows.length - 2] = trimEnd(prev.slice(0, space));
  rows[rows.length - 1] = [...moved, " ", ...last];
}

function trimEnd(chars: string[]): string[] {
  let end = chars.length;
  while (end > 0 && chars[end - 1] === " ") end--;
  return chars.slice(0, end);
}

/** `text` on one line, every control and bidi character shown: a newline is `^J`. */
export function oneLine(text: string): string {
  return escapeControls(text);
}

/** `text` on one line (see {@link screenText}; a newline shows as `^J`), cut to `width` columns, ending in `…` when cut. */
export function truncate(text: string, width: number): string {
  const shown = escapeControls(text);
  const chars = [...shown];
  if (chars.length <= width) return shown;
  if (width <= 0) return "";
  return `${chars.slice(0, width - 1).join("")}…`;
}

/** `text` padded with spaces (or cut) to exactly `width` columns. */
export function fit(text: string, width: number): string {
  const t = truncate(text, width);
  return t + " ".repeat(Math.max(0, width - [...t].length));
}

/** A byte count for people (`1.2 KiB`): netlab's one formatter, from @netlab/core. */
export { formatBytes, formatRate } from "@netlab/core";

/**
 * The last `height` lines of `lines` after skipping `offset` lines from the bottom (a scrolled-up
 * view), with how many lines lie above and below the window.
 */
export function tail<T>(
  lines: readonly T[],
  height: number,
  offset = 0,
): { visible: T[]; above: number; below: number; offset: number } {
  const h = Math.max(0, height);
  const maxOffset = Math.max(0, lines.length - h);
  const o = Math.min(Math.max(0, offset), maxOffset);
  const end = lines.length - o;
  const start = Math.max(0, end - h);
  return { visible: lines.slice(start, end), above: start, below: o, offset: o };
}

/**
 * `visible` with the rows at its top that continue a line scrolled out of view blanked: a wrapped
 * piece is never shown without the start of its line (an orphaned fragment).
 */
export function blankPartialTop<T>(
  visible: readonly T[],
  isContinuation: (row: T) => boolean,
  blank: (row: T) => T,
): T[] {
  let partial = 0;
  while (partial < visible.length && isContinuation(visible[partial] as T)) partial++;
  return visible.map((row, i) => (i < partial ? blank(row) : row));
}

/**
 * As many whole `fields` as fit in `width` columns, joined by `separator`: a status line or a
 * subtitle loses its last fields on a narrow screen instead of ending in the middle of one
 * ("" when not even the first fits).
 */
export function fitFields(fields: readonly string[], width: number, separator: string): string {
  let line = "";
  for (const field of fields) {
    const next = line === "" ? field : `${line}${separator}${field}`;
    if ([...next].length > width) return line;
    line = next;
  }
  return line;
}
