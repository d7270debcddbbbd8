import { type Key, Text, useInput } from "ink";
import { useSyncExternalStore } from "react";
import { TRANSFER_LEGEND } from "../components/Legend.js";
import { ClientHeader, Pane, paneInner, ServerHeader } from "../components/Pane.js";
import { ClientGrid, plural, SceneFrame, serverAddress } from "../components/SceneFrame.js";
import { TooSmall } from "../components/TooSmall.js";
import { Transcript } from "../components/Transcript.js";
import { computeLayout, type Rect } from "../layout.js";
import { formatBytes, truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { cycleFocus, scrollDelta, scrolled, useSceneUi } from "../use-scene-ui.js";
import { useTerminalSize } from "../use-terminal-size.js";
import type { FileServerView, TransferControls, UploaderView } from "./model.js";

/** Props for {@link TransferApp}. */
export interface TransferAppProps {
  lab: TransferControls;
  onQuit?: () => void;
}

/**
 * The transfer scene in the same frame: uploader panes side by side (a progress bar for the file
 * in flight, then each finished file with its SHA-256), the file server below, the legend last.
 */
export function TransferApp({ lab, onQuit }: TransferAppProps) {
  const snapshot = useSyncExternalStore(lab.subscribe, lab.getSnapshot);
  const { columns, rows } = useTerminalSize();
  const { ui, update, quit } = useSceneUi(
    lab,
    { focus: 0, offsets: {} as Record<number, number>, isQuitting: false },
    onQuit,
  );

  const handle = (input: string, key: Key): void => {
    if (!key.ctrl && !key.meta && input.length > 1 && !input.includes("\u001b")) {
      for (const ch of input) handle(ch, { ...key, return: ch === "\r", tab: ch === "\t" });
      return;
    }
    const state = ui.current;
    if (key.ctrl && input === "c") {
      quit();
      return;
    }
    if (state.isQuitting) return;
    const all = lab.getSnapshot().clients;
    const focus = Math.min(state.focus, all.length - 1);
    const current = all[focus];
    if (!current) return;
    const delta = scrollDelta(key);
    if (key.tab) update({ focus: cycleFocus(focus, all.length, key) });
    else if (key.return) lab.upload(current.id);
    else if (key.ctrl && input === "n") void lab.addClient().then((id) => update({ focus: id - 1 }));
    else if (key.ctrl && input === "r") void lab.restartServer().catch(() => {});
    else if (delta !== undefined) {
      update({ offsets: scrolled(state.offsets, current.id, delta) });
    }
  };
  useInput(handle);

  const clients = snapshot.clients;
  const { focus, offsets, isQuitting } = ui.current;
  const focusedId = clients[Math.min(focus, clients.length - 1)]?.id ?? 1;
  const layout = computeLayout(columns, rows, clients.length);
  if (layout.kind === "too-small") return <TooSmall layout={layout} clients={clients.length} />;
  const server = snapshot.server;
  const subtitle = `  file server ${serverAddress(server)} · ${plural(clients.length, "uploader")} · verified uploads: every file's SHA-256 checked by the server`;
  return (
    <SceneFrame
      columns={columns}
      height={layout.height}
      subtitle={subtitle}
      legend={TRANSFER_LEGEND}
      isQuitting={isQuitting}
    >
      <ClientGrid
        layout={layout}
        clients={clients}
        focusedId={focusedId}
        pane={(c, rect, isFocused) => (
          <UploaderPane
            key={c.id}
            uploader={c}
            rect={rect}
            isFocused={isFocused}
            offset={offsets[c.id] ?? 0}
          />
        )}
      />
      <FileServerPane server={server} rect={layout.server} />
    </SceneFrame>
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
  const inner = paneInner(rect);
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
    <Pane rect={rect} isFocused={isFocused}>
      <ClientHeader
        name={`${isFocused ? "▶ " : ""}${u.id} uploader`}
        isFocused={isFocused}
        state={shown}
        label={u.state}
      />
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
    </Pane>
  );
}

function FileServerPane({ server, rect }: { server: FileServerView; rect: Rect }) {
  const inner = paneInner(rect);
  const title = server.port === 0 ? "file server" : `file server ${server.host}:${server.port}`;
  const stats = `  ${server.files} files  ${formatBytes(server.bytesStored)} stored`;
  return (
    <Pane rect={rect}>
      <ServerHeader title={title} status={server.status} stats={stats} inner={inner} />
      <Transcript
        lines={server.log}
        width={inner}
        height={Math.max(1, rect.height - 3)}
        placeholder="no events yet"
      />
    </Pane>
  );
}
