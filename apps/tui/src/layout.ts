/**
 * Where every pane goes for a terminal of a given size. Pure, so it is tested at many sizes
 * without rendering. The frame is: a title row, the client grid, the server pane (and the wire
 * view), a legend row — `rows - 1` rows in all, so Ink never scrolls the terminal.
 */

/** Narrowest client pane, in columns (a nick, a state and a short message still fit). */
export const MIN_PANE_WIDTH = 24;
/** Narrowest frame, in columns. */
export const MIN_COLUMNS = 60;
/** Lowest client pane, in rows: border, header, two transcript rows, input. */
export const MIN_CLIENT_HEIGHT = 6;
/** Lowest server pane, in rows: border, header, two rows of peers or log. */
export const MIN_SERVER_HEIGHT = 5;
/** Wide enough to show the wire view beside the server pane rather than in its place. */
export const WIRE_BESIDE_COLUMNS = 120;

/** A rectangle in cells. */
export interface Rect {
  width: number;
  height: number;
}

/** A layout that fits. */
export interface FrameLayout {
  kind: "ok";
  columns: number;
  /** Rows the frame uses (terminal rows - 1). */
  height: number;
  /** Client panes per grid row. */
  perRow: number;
  /** Rows of client panes. */
  gridRows: number;
  /** Size of each client pane, in client order. */
  clients: Rect[];
  /** The server pane; width 0 when the wire view takes its place. */
  server: Rect;
  /** The wire view, when it is shown. */
  wire: Rect | undefined;
}

/** The terminal is too small: what to ask for. */
export interface TooSmall {
  kind: "too-small";
  columns: number;
  rows: number;
  /** A size that fits: "make the window at least needColumns×needRows". */
  needColumns: number;
  needRows: number;
}

/** Options for {@link computeLayout}. */
export interface LayoutOptions {
  /** Show the wire view for the focused client. */
  wire?: boolean;
}

/**
 * The layout for `clients` panes in a `columns`×`rows` terminal, or what size to ask for.
 * @example computeLayout(80, 24, 3) // three 26/27-column panes in one row, server pane below
 */
export function computeLayout(
  columns: number,
  rows: number,
  clients: number,
  opts: LayoutOptions = {},
): FrameLayout | TooSmall {
  const n = Math.max(1, clients);
  const height = rows - 1;
  const perRow = Math.min(n, Math.max(1, Math.floor(columns / MIN_PANE_WIDTH)));
  const gridRows = Math.ceil(n / perRow);
  const needRows = gridRows * MIN_CLIENT_HEIGHT + MIN_SERVER_HEIGHT + 3;
  if (columns < MIN_COLUMNS || rows < needRows) {
    const needColumns = Math.max(columns, MIN_COLUMNS);
    const atWidth = Math.min(n, Math.floor(needColumns / MIN_PANE_WIDTH));
    return {
      kind: "too-small",
      columns,
      rows,
      needColumns,
      needRows: Math.ceil(n / atWidth) * MIN_CLIENT_HEIGHT + MIN_SERVER_HEIGHT + 3,
    };
  }
  // Title and legend take a row each; the server gets about a third, clients the rest.
  const body = height - 2;
  const maxServer = body - gridRows * MIN_CLIENT_HEIGHT;
  const serverHeight = Math.min(maxServer, Math.max(MIN_SERVER_HEIGHT, Math.round(body * 0.36)));
  const clientArea = body - serverHeight;
  const rowHeight = Math.floor(clientArea / gridRows);
  const extra = clientArea - rowHeight * gridRows;
  const panes: Rect[] = [];
  for (let i = 0; i < n; i++) {
    const gridRow = Math.floor(i / perRow);
    const inRow = Math.min(perRow, n - gridRow * perRow);
    const col = i % perRow;
    const base = Math.floor(columns / inRow);
    const width = col === inRow - 1 ? columns - base * (inRow - 1) : base;
    panes.push({ width, height: rowHeight });
  }
  const bottomHeight = serverHeight + extra;
  let server: Rect = { width: columns, height: bottomHeight };
  let wire: Rect | undefined;
  if (opts.wire) {
    if (columns >= WIRE_BESIDE_COLUMNS) {
      // Wide enough for the peers table; the wire view gets the rest.
      const serverWidth = Math.max(56, Math.floor(columns * 0.42));
      server = { width: serverWidth, height: bottomHeight };
      wire = { width: columns - serverWidth, height: bottomHeight };
    } else {
      server = { width: 0, height: bottomHeight };
      wire = { width: columns, height: bottomHeight };
    }
  }
  return { kind: "ok", columns, height, perRow, gridRows, clients: panes, server, wire };
}
