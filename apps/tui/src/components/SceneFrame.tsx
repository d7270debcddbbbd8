import { Box, Text } from "ink";
import type { ReactNode } from "react";
import type { FrameLayout, Rect } from "../layout.js";
import { truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { Legend, type LegendItem } from "./Legend.js";

const TITLE = " netlab demo ";

/** Props for {@link SceneFrame}. */
export interface SceneFrameProps {
  columns: number;
  height: number;
  /** The dim line after the title: what is running and what to watch. */
  subtitle: string;
  legend: readonly LegendItem[];
  /** Replaces the legend with the "closing" line. */
  isQuitting: boolean;
  children: ReactNode;
}

/** Every scene's chrome: the title line, the scene's panes, then the key legend (or "closing…"). */
export function SceneFrame({ columns, height, subtitle, legend, isQuitting, children }: SceneFrameProps) {
  const theme = useTheme();
  return (
    <Box flexDirection="column" width={columns} height={height}>
      <Text wrap="truncate">
        <Text bold inverse color={theme.accent}>
          {TITLE}
        </Text>
        <Text color={theme.dim}>{truncate(subtitle, Math.max(0, columns - TITLE.length))}</Text>
      </Text>
      {children}
      {isQuitting ? (
        <Text color={theme.warn}>closing every socket and the server…</Text>
      ) : (
        <Legend width={columns} items={legend} />
      )}
    </Box>
  );
}

/** `n thing` or `n things`. */
export function plural(n: number, thing: string): string {
  return `${n} ${thing}${n === 1 ? "" : "s"}`;
}

/** `host:port`, or "starting…" before the server has a port. */
export function serverAddress(server: { host: string; port: number }): string {
  return server.port === 0 ? "starting…" : `${server.host}:${server.port}`;
}

/**
 * The client panes in rows of `layout.perRow`: `pane` draws one client at its place in the grid
 * (its `rect` from the layout; `isFocused` when its id is `focusedId`).
 */
export function ClientGrid<C extends { id: number }>({
  layout,
  clients,
  focusedId,
  pane,
}: {
  layout: FrameLayout;
  clients: readonly C[];
  focusedId: number;
  pane: (client: C, rect: Rect, isFocused: boolean) => ReactNode;
}) {
  const rows: C[][] = [];
  for (let r = 0; r < layout.gridRows; r++)
    rows.push(clients.slice(r * layout.perRow, (r + 1) * layout.perRow));
  return (
    <>
      {rows.map((row, r) => (
        <Box key={row[0]?.id ?? r} flexDirection="row">
          {row.map((c, i) => pane(c, layout.clients[r * layout.perRow + i]!, c.id === focusedId))}
        </Box>
      ))}
    </>
  );
}
