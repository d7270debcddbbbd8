import { Box, Text } from "ink";
import type { ReactNode } from "react";
import type { Rect } from "../layout.js";
import type { ClientState, ServerStatus } from "../model.js";
import { fitFields, oneLine } from "../text.js";
import { stateColor, stateGlyph, useTheme } from "../theme.js";

/** Props for {@link Pane}. */
export interface PaneProps {
  rect: Rect;
  /** A heavy border in the accent colour. */
  isFocused?: boolean;
  /** The border colour when not focused (default: dim). */
  borderColor?: string;
  children: ReactNode;
}

/** A bordered pane of `rect`'s size with one column of padding: the box every scene's panes share. */
export function Pane({ rect, isFocused = false, borderColor, children }: PaneProps) {
  const theme = useTheme();
  return (
    <Box
      flexDirection="column"
      width={rect.width}
      height={rect.height}
      borderStyle={isFocused ? "bold" : "round"}
      borderColor={isFocused ? theme.accent : (borderColor ?? theme.dim)}
      paddingX={1}
    >
      {children}
    </Box>
  );
}

/** The columns inside a {@link Pane}'s border and padding. */
export function paneInner(rect: Rect): number {
  return Math.max(1, rect.width - 4);
}

/**
 * `stats` (figures separated by two spaces, after two leading ones) with as many whole figures as
 * fit in `width`: on a narrow screen the last ones go, none is cut in the middle.
 */
function fitStats(stats: string, width: number): string {
  const fields = stats.trim().split("  ");
  const shown = fitFields(fields, width - 2, "  ");
  return shown === "" ? "" : `  ${shown}`;
}

/** A server pane's header: bold title, the status with its glyph and colour, then the dim figures that fit. */
export function ServerHeader({
  title,
  status,
  stats,
  inner,
}: {
  title: string;
  status: ServerStatus;
  stats: string;
  inner: number;
}) {
  const theme = useTheme();
  const statusText = `${stateGlyph(status)} ${status}`;
  return (
    <Text wrap="truncate">
      <Text bold>{oneLine(title)}</Text>
      {"  "}
      <Text color={stateColor(theme, status)}>{statusText}</Text>
      <Text color={theme.dim}>
        {fitStats(stats, Math.max(0, inner - [...title].length - statusText.length - 2))}
      </Text>
    </Text>
  );
}

/** A client pane's header: the name (bold, accent when focused), then the state's glyph and `label`. */
export function ClientHeader({
  name,
  isFocused,
  state,
  label = state,
  children,
}: {
  /** With the `▶ ` focus marker, if the pane wants one. */
  name: string;
  isFocused: boolean;
  /** The state the glyph and colour stand for. */
  state: ClientState;
  /** The state as shown, when the scene has its own word for it. */
  label?: string;
  /** Anything after the state (the dim room name...). */
  children?: ReactNode;
}) {
  const theme = useTheme();
  return (
    <Text wrap="truncate">
      <Text bold color={isFocused ? theme.accent : undefined}>
        {oneLine(name)}
      </Text>
      {"  "}
      <Text color={stateColor(theme, state)}>{`${stateGlyph(state)} ${label}`}</Text>
      {children}
    </Text>
  );
}
