import { formatHostPort } from "@netlab/core";
import { Text } from "ink";
import { ClientHeader, Pane, paneInner, ServerHeader } from "../components/Pane.js";
import { Transcript } from "../components/Transcript.js";
import type { Rect } from "../layout.js";
import {
  addKey,
  focusKey,
  type KeyBinding,
  quitKey,
  restartKey,
  type SceneUi,
  scrollKey,
} from "../scene/keys.js";
import { plural, SceneShell, serverAddress } from "../scene/SceneShell.js";
import { type SceneProps, useScene } from "../scene/use-scene.js";
import { fitFields, formatBytes, formatRate, truncate } from "../text.js";
import { useTheme } from "../theme.js";
import type { FileServerView, TransferControls, TransferSnapshot, UploaderView } from "./model.js";

/** Props for {@link TransferApp}. */
export type TransferAppProps = SceneProps<TransferControls>;

/** The transfer scene's keys, in the legend's order. */
export const TRANSFER_KEYS: readonly KeyBinding<SceneUi, TransferControls, TransferSnapshot>[] = [
  focusKey(),
  {
    keys: "Enter",
    label: "upload another file",
    short: "upload",
    matches: (_, key) => key.return,
    act: ({ focused }) => ({ run: ({ lab }) => lab.upload(focused.id) }),
  },
  addKey("add uploader", (lab) => lab.addClient()),
  restartKey(),
  scrollKey(),
  quitKey(),
];

/**
 * The transfer scene in the same frame: uploader panes side by side (a progress bar for the file
 * in flight, then each finished file with its SHA-256), the file server below, the legend last.
 */
export function TransferApp(props: TransferAppProps) {
  const { snapshot, ui, focused, columns, rows } = useScene(props, TRANSFER_KEYS);
  const { server, clients } = snapshot;
  return (
    <SceneShell
      columns={columns}
      rows={rows}
      subtitle={`  file server ${serverAddress(server)} · ${plural(clients.length, "uploader")} · verified uploads: every file's SHA-256 checked by the server`}
      clients={clients}
      focusedId={focused?.id}
      keyMap={TRANSFER_KEYS}
      isQuitting={ui.isQuitting}
      exposure={server.exposure}
      pane={(c, rect, isFocused) => (
        <UploaderPane
          key={c.id}
          uploader={c}
          rect={rect}
          isFocused={isFocused}
          offset={ui.offsets[`client:${c.id}`] ?? 0}
        />
      )}
      below={(layout) => <FileServerPane server={server} rect={layout.server} />}
    />
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
  // Narrow panes drop the total (the bar shows the share) before the rate, never half a figure.
  const full = `${formatBytes(u.bytesDone)} / ${formatBytes(u.totalBytes)} · ${formatRate(u.bytesPerSecond)}`;
  const detail =
    u.totalBytes === 0
      ? "waiting"
      : [...full].length <= inner
        ? full
        : fitFields([formatBytes(u.bytesDone), formatRate(u.bytesPerSecond)], inner, " · ");
  // "1 uploader  ○ uploading" needs 23 columns: a narrower pane says "1  ○ uploading".
  const who = `${isFocused ? "▶ " : ""}${u.id}`;
  const name = [...`${who} uploader  ○ ${u.state}`].length <= inner ? `${who} uploader` : who;
  return (
    <Pane rect={rect} isFocused={isFocused}>
      <ClientHeader name={name} isFocused={isFocused} state={shown} label={u.state} />
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
  const title = server.port === 0 ? "file server" : `file server ${formatHostPort(server.host, server.port)}`;
  const stats = `  ${plural(server.files, "file")}  ${formatBytes(server.bytesStored)} stored`;
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
