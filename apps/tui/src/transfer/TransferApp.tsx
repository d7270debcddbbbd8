import { Box, type Key, Text, useApp, useInput } from "ink";
import { useCallback, useRef, useState, useSyncExternalStore } from "react";
import { Legend, TRANSFER_LEGEND } from "../components/Legend.js";
import { TooSmall } from "../components/TooSmall.js";
import { Transcript } from "../components/Transcript.js";
import { computeLayout, type Rect } from "../layout.js";
import { formatBytes, truncate } from "../text.js";
import { stateColor, stateGlyph, useTheme } from "../theme.js";
import { useTerminalSize } from "../use-terminal-size.js";
import type { FileServerView, TransferControls, UploaderView } from "./model.js";

/** Props for {@link TransferApp}. */
export interface TransferAppProps {
  lab: TransferControls;
  onQuit?: () => void;
}

const PAGE_ROWS = 5;

/**
 * The transfer scene in the same frame: uploader panes side by side (a progress bar for the file
 * in flight, then each finished file with its SHA-256), the file server below, the legend last.
 */
export function TransferApp({ lab, onQuit }: TransferAppProps) {
  const { exit } = useApp();
  const theme = useTheme();
  const snapshot = useSyncExternalStore(lab.subscribe, lab.getSnapshot);
  const { columns, rows } = useTerminalSize();
  const ui = useRef({ focus: 0, offsets: {} as Record<number, number>, isQuitting: false });
  const [, setVersion] = useState(0);
  const update = useCallback((patch: Partial<typeof ui.current>) => {
    ui.current = { ...ui.current, ...patch };
    setVersion((v) => v + 1);
  }, []);

  const handle = (input: string, key: Key): void => {
    if (!key.ctrl && !key.meta && input.length > 1 && !input.includes("\u001b")) {
      for (const ch of input) handle(ch, { ...key, return: ch === "\r", tab: ch === "\t" });
      return;
    }
    const state = ui.current;
    if (key.ctrl && input === "c") {
      if (state.isQuitting) return;
      update({ isQuitting: true });
      void lab
        .close()
        .catch(() => {})
        .finally(() => {
          exit();
          onQuit?.();
        });
      return;
    }
    if (state.isQuitting) return;
    const all = lab.getSnapshot().clients;
    const count = all.length;
    const focus = Math.min(state.focus, count - 1);
    const current = all[focus];
    if (!current) return;
    if (key.tab) update({ focus: key.shift ? (focus - 1 + count) % count : (focus + 1) % count });
    else if (key.return) lab.upload(current.id);
    else if (key.ctrl && input === "n") void lab.addClient().then((id) => update({ focus: id - 1 }));
    else if (key.ctrl && input === "r") void lab.restartServer().catch(() => {});
    else if (key.pageUp || key.upArrow || key.pageDown || key.downArrow) {
      const step = key.pageUp || key.pageDown ? PAGE_ROWS : 1;
      const delta = key.pageUp || key.upArrow ? step : -step;
      update({
        offsets: { ...state.offsets, [current.id]: Math.max(0, (state.offsets[current.id] ?? 0) + delta) },
      });
    }
  };
  useInput(handle);

  const clients = snapshot.clients;
  const { focus, offsets, isQuitting } = ui.current;
  const focusedId = clients[Math.min(focus, clients.length - 1)]?.id ?? 1;
  const layout = computeLayout(columns, rows, clients.length);
  if (layout.kind === "too-small") return <TooSmall layout={layout} clients={clients.length} />;
  const server = snapshot.server;
  const title = " netlab demo ";
  const where = server.port === 0 ? "starting…" : `${server.host}:${server.port}`;
  const subtitle = `  file server ${where} · ${clients.length} uploader${clients.length === 1 ? "" : "s"} · verified uploads: every file's SHA-256 checked by the server`;
  const grid: number[][] = [];
  for (let r = 0; r < layout.gridRows; r++) {
    grid.push(clients.slice(r * layout.perRow, (r + 1) * layout.perRow).map((c) => c.id - 1));
  }
  return (
    <Box flexDirection="column" width={columns} height={layout.height}>
      <Text wrap="truncate">
        <Text bold inverse color={theme.accent}>
          {title}
        </Text>
        <Text color={theme.dim}>{truncate(subtitle, Math.max(0, columns - title.length))}</Text>
      </Text>
      {grid.map((row) => (
        <Box key={row[0]} flexDirection="row">
          {row.map((index) => {
            const c = clients[index]!;
            return (
              <UploaderPane
                key={c.id}
                uploader={c}
                rect={layout.clients[index]!}
                isFocused={c.id === focusedId}
                offset={offsets[c.id] ?? 0}
              />
            );
          })}
        </Box>
      ))}
      <FileServerPane server={server} rect={layout.server} />
      {isQuitting ? (
        <Text color={theme.warn}>closing every socket and the server…</Text>
      ) : (
        <Legend width={columns} items={TRANSFER_LEGEND} />
      )}
    </Box>
  );
}

/** A progress bar `width` cells wide: filled `█`, empty `░`. */
export function progressBar(done: number, total: number, width: number): string {
  const w = Math.max(0, width);
  const filled = total > 0 ? Math.min(w, Math.floor((done / total) * w)) : 0;
  return "█".repeat(filled) + "░".repeat(w - filled);
}

function UploaderPane({
  uploader: u,
  rect,
  isFocused,
  offset,
}: {
  uploader: UploaderView;
  rect: Rect;
  isFocused: boolean;
  offset: number;
}) {
  const theme = useTheme();
  const inner = Math.max(1, rect.width - 4);
  const shown =
    u.state === "uploading" || u.state === "connecting"
      ? "connecting"
      : u.state === "idle"
        ? "connected"
        : "closed";
  const percent = u.totalBytes > 0 ? Math.floor((100 * u.bytesDone) / u.totalBytes) : 0;
  const figures = ` ${String(percent).padStart(3)}%`;
  const detail =
    u.totalBytes > 0
      ? `${formatBytes(u.bytesDone)} / ${formatBytes(u.totalBytes)} · ${formatBytes(Math.round(u.bytesPerSecond))}/s`
      : "waiting";
  return (
    <Box
      flexDirection="column"
      width={rect.width}
      height={rect.height}
      borderStyle={isFocused ? "bold" : "round"}
      borderColor={isFocused ? theme.accent : theme.dim}
      paddingX={1}
    >
      <Text wrap="truncate">
        <Text bold color={isFocused ? theme.accent : undefined}>
          {`${isFocused ? "▶ " : ""}${u.id} uploader`}
        </Text>
        {"  "}
        <Text color={stateColor(theme, shown)}>{`${stateGlyph(shown)} ${u.state}`}</Text>
      </Text>
      <Text wrap="truncate">{truncate(u.name ?? "no file yet", inner)}</Text>
      <Text wrap="truncate">
        <Text color={u.state === "failed" ? theme.bad : theme.ok}>
          {progressBar(u.bytesDone, u.totalBytes, Math.max(0, inner - figures.length))}
        </Text>
        {figures}
      </Text>
      <Text color={theme.dim} wrap="truncate">
        {truncate(detail, inner)}
      </Text>
      <Transcript lines={u.log} width={inner} height={Math.max(1, rect.height - 6)} offset={offset} />
    </Box>
  );
}

function FileServerPane({ server, rect }: { server: FileServerView; rect: Rect }) {
  const theme = useTheme();
  const inner = Math.max(1, rect.width - 4);
  const title = server.port === 0 ? "file server" : `file server ${server.host}:${server.port}`;
  const status = `${stateGlyph(server.status)} ${server.status}`;
  const stats = `  ${server.files} files  ${formatBytes(server.bytesStored)} stored`;
  return (
    <Box
      flexDirection="column"
      width={rect.width}
      height={rect.height}
      borderStyle="round"
      borderColor={theme.dim}
      paddingX={1}
    >
      <Text wrap="truncate">
        <Text bold>{title}</Text>
        {"  "}
        <Text color={stateColor(theme, server.status)}>{status}</Text>
        <Text color={theme.dim}>
          {truncate(stats, Math.max(0, inner - title.length - status.length - 2))}
        </Text>
      </Text>
      <Transcript
        lines={server.log}
        width={inner}
        height={Math.max(1, rect.height - 3)}
        placeholder="no events yet"
      />
    </Box>
  );
}
