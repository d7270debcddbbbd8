import { Box, Text } from "ink";
import { ClientHeader, Pane, paneInner, ServerHeader } from "../components/Pane.js";
import { Transcript } from "../components/Transcript.js";
import type { Rect } from "../layout.js";
import {
  focusKey,
  type KeyBinding,
  quitKey,
  restartKey,
  type SceneUi,
  scrollKey,
  typed,
} from "../scene/keys.js";
import { plural, SceneShell, serverAddress } from "../scene/SceneShell.js";
import { type SceneProps, useScene } from "../scene/use-scene.js";
import { useTheme } from "../theme.js";
import type { LaneView, ProxyControls, ProxySnapshot, ProxyView, SceneToxic } from "./model.js";

/** Props for {@link ProxyApp}. */
export type ProxyAppProps = SceneProps<ProxyControls>;

function toggle(
  key: string,
  toxic: SceneToxic,
  label: string,
): KeyBinding<SceneUi, ProxyControls, ProxySnapshot> {
  return {
    keys: key,
    label,
    short: toxic,
    isGlobal: true,
    matches: typed(key),
    act: () => ({ run: ({ lab }) => void lab.toggleToxic(toxic) }),
  };
}

/** The proxy scene's keys, in the legend's order. */
export const PROXY_KEYS: readonly KeyBinding<SceneUi, ProxyControls, ProxySnapshot>[] = [
  focusKey(),
  toggle("l", "latency", "latency 300 ms"),
  toggle("s", "slicer", "slicer 5 B"),
  toggle("b", "bandwidth", "bandwidth 50 B/s"),
  toggle("t", "timeout", "timeout"),
  toggle("r", "reset_peer", "reset_peer"),
  restartKey(),
  scrollKey(),
  quitKey(),
];

/**
 * The proxy scene: two lanes (client → server, server → client), each with the chunks the proxy
 * let through on the left and the receiver's reads on the right; the proxy below.
 */
export function ProxyApp(props: ProxyAppProps) {
  const { snapshot, ui, focused, columns, rows } = useScene(props, PROXY_KEYS);
  const { server, clients } = snapshot;
  const on = server.toxics.length > 0 ? server.toxics.join(", ") : "no toxics";
  return (
    <SceneShell
      columns={columns}
      rows={rows}
      subtitle={`  proxy ${serverAddress(server)} → echo :${server.upstreamPort} · ${on}: watch writes coalesce and slice`}
      clients={clients}
      focusedId={focused?.id}
      keyMap={PROXY_KEYS}
      isQuitting={ui.isQuitting}
      exposure={server.exposure}
      pane={(lane, rect, isFocused) => (
        <LanePane
          key={lane.id}
          lane={lane}
          rect={rect}
          isFocused={isFocused}
          offset={ui.offsets[`client:${lane.id}`] ?? 0}
        />
      )}
      below={(layout) => <ProxyPane server={server} rect={layout.server} />}
    />
  );
}

function LanePane({
  lane,
  rect,
  isFocused,
  offset,
}: {
  lane: LaneView;
  rect: Rect;
  isFocused: boolean;
  offset: number;
}) {
  const theme = useTheme();
  const inner = paneInner(rect);
  const half = Math.max(1, Math.floor((inner - 1) / 2));
  const height = Math.max(1, rect.height - 4);
  const name = lane.direction === "upstream" ? "client → server" : "server → client";
  return (
    <Pane rect={rect} isFocused={isFocused}>
      <ClientHeader
        name={`${isFocused ? "▶ " : ""}${name}`}
        isFocused={isFocused}
        state="connected"
        label={`${lane.bytes} B`}
      />
      <Text color={theme.dim} wrap="truncate">
        {`${"out of the proxy".padEnd(half)} ${lane.direction === "upstream" ? "server's reads" : "client's reads"}`}
      </Text>
      <Box flexDirection="row">
        <Transcript
          lines={lane.chunks}
          width={half}
          height={height}
          offset={offset}
          placeholder="no chunks yet"
        />
        <Text> </Text>
        <Transcript
          lines={lane.reads}
          width={half}
          height={height}
          offset={offset}
          placeholder="no reads yet"
        />
      </Box>
    </Pane>
  );
}

function ProxyPane({ server, rect }: { server: ProxyView; rect: Rect }) {
  const inner = paneInner(rect);
  const title = server.port === 0 ? "lab proxy" : `lab proxy ${server.host}:${server.port}`;
  const stats = `  → echo :${server.upstreamPort}  ${plural(server.connections, "connection")}  toxics: ${server.toxics.join(", ") || "none"}`;
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
