import { formatHostPort, plural } from "@netlab/core";
import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { computeLayout, type FrameLayout, type Rect } from "../layout.js";
import { fitFields, truncate } from "../text.js";
import { useTheme } from "../theme.js";

const TITLE = " netlab demo ";
/** The title line's flag for a server others can reach (the whole warning is in its log). */
const EXPOSED = " ! reachable from other machines (docs/security.md)";

/** A key as the legend shows it: its keys, and what it does in a long and a short form. */
export interface LegendItem {
  keys: string;
  label?: string;
  short?: string;
}

/** Props for {@link SceneShell}. */
export interface SceneShellProps<C extends { id: number }> {
  columns: number;
  rows: number;
  /** The dim line after the title: what is running and what to watch. */
  subtitle: string;
  clients: readonly C[];
  focusedId: number | undefined;
  /** One client's pane at its place in the grid. */
  pane: (client: C, rect: Rect, isFocused: boolean) => ReactNode;
  /** What goes below the client grid (the server pane), laid out by `layout`. */
  below: (layout: FrameLayout) => ReactNode;
  /** The scene's key map; the bindings with a label make the legend. */
  keyMap: readonly LegendItem[];
  /** Replaces the legend with the "closing" line. */
  isQuitting: boolean;
  /** Lay out a wire view beside (or instead of) the server pane. */
  hasWire?: boolean;
  /**
   * The server's exposure warning, if any: flagged first in the title line (every window size
   * shows it; the server log, where the whole warning is, may be too short to).
   */
  exposure?: string;
}

/**
 * Every scene's frame: the title line, the client panes in rows, what the scene puts below them,
 * then the key legend (or "closing…"). A window too small for the panes gets a message instead.
 */
export function SceneShell<C extends { id: number }>(props: SceneShellProps<C>) {
  const { columns, rows, subtitle, clients, focusedId, pane, below, keyMap, isQuitting, hasWire, exposure } =
    props;
  const theme = useTheme();
  const layout = computeLayout(columns, rows, clients.length, { wire: hasWire });
  if (layout.kind === "too-small") {
    return (
      <Box flexDirection="column" paddingX={1}>
        <Text bold color={theme.warn} wrap="wrap">
          {`make the window at least ${layout.needColumns}×${layout.needRows}`}
        </Text>
        <Text wrap="wrap">{`it is ${layout.columns}×${layout.rows}, too small for ${plural(clients.length, "client")} and the server`}</Text>
        <Text color={theme.dim} wrap="wrap">
          Ctrl-C quits
        </Text>
      </Box>
    );
  }
  const grid: C[][] = [];
  for (let r = 0; r < layout.gridRows; r++)
    grid.push(clients.slice(r * layout.perRow, (r + 1) * layout.perRow));
  return (
    <Box flexDirection="column" width={columns} height={layout.height}>
      <Text wrap="truncate">
        <Text bold inverse color={theme.accent}>
          {TITLE}
        </Text>
        {exposure === undefined ? null : (
          <Text bold color={theme.warn}>
            {EXPOSED}
          </Text>
        )}
        <Text color={theme.dim}>
          {fitSubtitle(
            subtitle,
            Math.max(0, columns - TITLE.length - (exposure === undefined ? 0 : EXPOSED.length)),
          )}
        </Text>
      </Text>
      {grid.map((row, r) => (
        <Box key={row[0]?.id ?? r} flexDirection="row">
          {row.map((c, i) => pane(c, layout.clients[r * layout.perRow + i]!, c.id === focusedId))}
        </Box>
      ))}
      {below(layout)}
      {isQuitting ? (
        <Text color={theme.warn}>closing every socket and the server…</Text>
      ) : (
        <Legend width={columns} items={keyMap} />
      )}
    </Box>
  );
}

/** The subtitle's `·`-separated parts that fit whole; the first is cut with `…` when even it does not. */
function fitSubtitle(subtitle: string, width: number): string {
  const parts = subtitle.split(" · ");
  return fitFields(parts, width, " · ") || truncate(subtitle, width);
}

/** The legend's text at `width`: the long form if it fits, then the short one, then keys only. */
export function legendItems(
  width: number,
  keyMap: readonly LegendItem[],
): Array<{ keys: string; label: string }> {
  const items = keyMap.filter((i) => i.label !== undefined);
  const forms = [
    items.map((i) => ({ keys: i.keys, label: i.label ?? "" })),
    items.map((i) => ({ keys: i.keys, label: i.short ?? i.label ?? "" })),
    items.filter((i) => i.keys !== "PgUp/PgDn").map((i) => ({ keys: i.keys, label: i.short ?? "" })),
  ];
  const length = (form: Array<{ keys: string; label: string }>) =>
    form.reduce((n, i) => n + i.keys.length + 1 + i.label.length + 2, 0) - 2;
  for (const form of forms) if (length(form) <= width) return form;
  // Still too wide: whole items go, from the one before the last (^C quit always stays), never half of one.
  const form = [...forms[2]!];
  while (form.length > 1 && length(form) > width) form.splice(form.length - 2, 1);
  return form;
}

/** The one-line key legend at the bottom of the frame. */
function Legend({ width, items }: { width: number; items: readonly LegendItem[] }) {
  const theme = useTheme();
  return (
    <Text wrap="truncate">
      {legendItems(width, items).map((item, i) => (
        <Text key={item.keys}>
          {i > 0 ? "  " : ""}
          <Text bold color={theme.accent} inverse={!theme.isColor}>
            {item.keys}
          </Text>
          <Text color={theme.dim}>{` ${item.label}`}</Text>
        </Text>
      ))}
    </Text>
  );
}

/** `1 client`, `2 clients`: netlab's one helper, from @netlab/core. */
export { plural };

/** `host:port`, or "starting…" before the server has a port. */
export function serverAddress(server: { host: string; port: number }): string {
  return server.port === 0 ? "starting…" : formatHostPort(server.host, server.port);
}
