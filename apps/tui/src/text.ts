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

/** Splits `text` into lines of at most `width` columns, breaking at spaces where it can. */
export function wrapText(text: string, width: number): string[] {
  const w = Math.max(1, width);
  const out: string[] = [];
  for (const paragraph of screenText(text).split("\n")) {
    let rest = [...paragraph];
    if (rest.length === 0) out.push("");
    while (rest.length > 0) {
      if (rest.length <= w) {
        out.push(rest.join(""));
        break;
      }
      let cut = rest.lastIndexOf(" ", w);
      if (cut <= 0) cut = w;
      out.push(rest.slice(0, cut).join("").trimEnd());
      rest = rest.slice(rest[cut] === " " ? cut + 1 : cut);
    }
  }
  return out;
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
