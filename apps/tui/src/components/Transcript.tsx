import { Box, Text } from "ink";
import type { LogLine } from "../model.js";
import { blankPartialTop, tail, truncate, wrapText } from "../text.js";
import { lineColor, useTheme } from "../theme.js";

/** Props for {@link Transcript}. */
export interface TranscriptProps {
  lines: readonly LogLine[];
  width: number;
  height: number;
  /** Rows scrolled up from the bottom; 0 follows new lines. */
  offset?: number;
  /** Shown when there are no lines yet. */
  placeholder?: string;
}

/**
 * A scrolling transcript: the newest lines that fit, wrapped to `width`, always exactly `height`
 * rows. When scrolled up, the top row says how many rows are hidden above and the bottom how many below.
 */
export function Transcript({ lines, width, height, offset = 0, placeholder }: TranscriptProps) {
  const theme = useTheme();
  const rows = lines.flatMap((line) =>
    wrapText(line.text, width).map((text, i) => ({
      key: `${line.seq}:${i}`,
      text,
      kind: line.kind,
      isContinuation: i > 0,
    })),
  );
  const view = tail(rows, height, offset);
  const visible = blankPartialTop(
    view.visible.map((r) => ({ ...r, note: false })),
    (r) => r.isContinuation,
    (r) => ({ ...r, text: "" }),
  );
  if (view.below > 0 && visible.length > 0) {
    visible[visible.length - 1] = {
      key: "below",
      text: `↓ ${view.below} more (PgDn)`,
      kind: "info",
      note: true,
      isContinuation: false,
    };
  }
  if (view.above > 0 && view.offset > 0 && visible.length > 1) {
    visible[0] = {
      key: "above",
      text: `↑ ${view.above} more`,
      kind: "info",
      note: true,
      isContinuation: false,
    };
  }
  return (
    <Box flexDirection="column" width={width} height={height}>
      {rows.length === 0 && placeholder ? (
        <Text color={theme.dim} dimColor={!theme.isColor} wrap="truncate">
          {truncate(placeholder, width)}
        </Text>
      ) : (
        visible.map((r) => (
          <Text key={r.key} color={r.note ? theme.accent : lineColor(theme, r.kind)} wrap="truncate">
            {r.text || " "}
          </Text>
        ))
      )}
    </Box>
  );
}
