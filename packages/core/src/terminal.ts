/**
 * netlab's one rule for text from the network that reaches a person: every character a terminal
 * could act on is shown, never obeyed. C0 controls and DEL appear in caret notation as `cat -v`
 * prints them (`^[`, `^G`, `^?`); C1 controls, bidirectional overrides and isolates, the line and
 * paragraph separators and the BOM appear as `<U+202E>`. Everything else passes unchanged.
 *
 * JSON output and pipes a script reads keep the exact text; renderers for a person call
 * {@link escapeControls} (or {@link safeLine} for one line of output) at the last moment.
 */

/**
 * Characters a terminal or a bidi-aware renderer may act on: C0 (U+0000–U+001F), DEL, C1
 * (U+0080–U+009F), bidi embeddings/overrides (U+202A–U+202E) and isolates (U+2066–U+2069), the
 * implicit marks (U+200E, U+200F, U+061C), U+2028/U+2029 and the BOM (U+FEFF).
 */
export const UNSAFE_TEXT =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_TEXT_GLOBAL = new RegExp(UNSAFE_TEXT.source, "g");
const UNSAFE_TEXT_KEEP_LAYOUT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/** Options for {@link escapeControls}. */
export interface EscapeOptions {
  /** Keep `\n` and `\t` as they are (multi-line text for a pager); default false. */
  keepLayout?: boolean;
}

/** How one unsafe character is shown: caret notation for C0 and DEL, `<U+XXXX>` for the rest. */
export function showControl(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
  if (code === 0x7f) return "^?";
  return `<U+${code.toString(16).toUpperCase().padStart(4, "0")}>`;
}

/**
 * Text made safe to print to a terminal: control and bidi characters shown visibly, never live.
 * @example escapeControls("hi \x1b]0;PWNED\x07") // "hi ^[]0;PWNED^G"
 */
export function escapeControls(text: string, options: EscapeOptions = {}): string {
  const pattern = options.keepLayout ? UNSAFE_TEXT_KEEP_LAYOUT : UNSAFE_TEXT_GLOBAL;
  // Most text is clean: test before building a new string.
  pattern.lastIndex = 0;
  if (!pattern.test(text)) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, showControl);
}

/** Whether `text` holds any character {@link escapeControls} would rewrite. */
export function hasControls(text: string): boolean {
  return UNSAFE_TEXT.test(text);
}

/**
 * One line of output for a terminal: `text` escaped (a newline inside it included, so one message
 * stays one line) and cut to `maxChars` with `…`.
 * @example safeLine("a\nb") // "a^Jb"
 */
export function safeLine(text: string, maxChars = Number.POSITIVE_INFINITY): string {
  const shown = escapeControls(text);
  return shown.length > maxChars ? `${shown.slice(0, Math.max(0, maxChars - 1))}…` : shown;
}

// East Asian wide and fullwidth characters and most emoji take two terminal cells.
const WIDE =
  /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;

/**
 * `text` (already escaped) cut to at most `columns` terminal cells, with `…` where it was cut: a
 * line redrawn in place with `\r` must not wrap, or each redraw starts a new line.
 * @example fitColumns("progress of a long name", 10) // "progress …"
 */
export function fitColumns(text: string, columns: number): string {
  const cells = (ch: string) => (WIDE.test(ch) ? 2 : 1);
  const chars = Array.from(text);
  if (chars.reduce((n, ch) => n + cells(ch), 0) <= columns) return text;
  let out = "";
  let used = 0;
  for (const ch of chars) {
    if (used + cells(ch) > columns - 1) break; // one cell for the ellipsis
    out += ch;
    used += cells(ch);
  }
  return columns > 0 ? `${out}…` : "";
}

/**
 * JSON text with every character {@link escapeControls} would rewrite as a `\uXXXX` escape: the
 * same value to a parser, but safe to `cat` or `tail -f` (JSON.stringify leaves DEL, C1, bidi and
 * U+2028/U+2029 raw). For JSON.stringify's output, pretty or not: newlines and tabs are kept (outside
 * strings they are layout; inside, JSON.stringify has escaped them already).
 * @example safeJson(JSON.stringify({ name: "\u009b2J" })) // '{"name":"\\u009b2J"}'
 */
export function safeJson(json: string): string {
  UNSAFE_TEXT_KEEP_LAYOUT.lastIndex = 0;
  return json.replace(
    UNSAFE_TEXT_KEEP_LAYOUT,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
