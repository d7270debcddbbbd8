import { formatHostPort } from "@netlab/core";
import { Text } from "ink";
import { ClientHeader, Pane, paneInner, ServerHeader } from "../components/Pane.js";
import { Transcript } from "../components/Transcript.js";
import type { Rect } from "../layout.js";
import {
  addKey,
  ctrl,
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
import { truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { pct } from "./controller.js";
import type { EchoView, PingerView, ProbeResult, UdpControls, UdpSnapshot } from "./model.js";

/** Props for {@link UdpApp}. */
export type UdpAppProps = SceneProps<UdpControls>;

const LOSS_STEP = 0.05;
const DELAY_STEP_MS = 10;
const BARS = "▁▂▃▄▅▆▇█";

/** The UDP scene's keys, in the legend's order. */
export const UDP_KEYS: readonly KeyBinding<SceneUi, UdpControls, UdpSnapshot>[] = [
  focusKey(),
  addKey("add pinger", (lab) => lab.addPinger()),
  {
    keys: "^D",
    label: "stop/start pinger",
    short: "stop",
    matches: ctrl("d"),
    act: ({ focused }) => ({ run: ({ lab }) => void lab.togglePinger(focused.id) }),
  },
  {
    keys: "+/-",
    label: "loss ±5%",
    short: "loss",
    matches: typed("+", "=", "-", "_"),
    act: ({ input, snapshot }) => {
      const step = input === "+" || input === "=" ? LOSS_STEP : -LOSS_STEP;
      const lossRate = Math.round((snapshot.server.lossRate + step) * 100) / 100;
      return { run: ({ lab }) => void lab.setNetwork({ lossRate }) };
    },
  },
  {
    keys: "</>",
    label: "delay ±10 ms",
    short: "delay",
    matches: typed("<", ",", ">", "."),
    act: ({ input, snapshot }) => {
      const step = input === ">" || input === "." ? DELAY_STEP_MS : -DELAY_STEP_MS;
      return { run: ({ lab }) => void lab.setNetwork({ delayMs: snapshot.server.delayMs + step }) };
    },
  },
  restartKey(),
  scrollKey(),
  quitKey(),
];

/**
 * The UDP scene in the same frame as the chat demo: pinger panes side by side, the echo server
 * (with its emulated loss and delay) below, the key legend last.
 */
export function UdpApp(props: UdpAppProps) {
  const { snapshot, ui, focused, columns, rows } = useScene(props, UDP_KEYS);
  const { server, clients } = snapshot;
  return (
    <SceneShell
      columns={columns}
      rows={rows}
      subtitle={`  udp echo ${serverAddress(server)} · ${plural(clients.length, "pinger")} · loss ${pct(server.lossRate)}, delay ${server.delayMs} ms: watch RTT and loss change`}
      clients={clients}
      focusedId={focused?.id}
      keyMap={UDP_KEYS}
      isQuitting={ui.isQuitting}
      exposure={server.exposure}
      pane={(p, rect, isFocused) => (
        <PingerPane
          key={p.id}
          pinger={p}
          rect={rect}
          isFocused={isFocused}
          offset={ui.offsets[`client:${p.id}`] ?? 0}
        />
      )}
      below={(layout) => <EchoPane server={server} rect={layout.server} />}
    />
  );
}

/** RTTs as bars scaled to the largest in view; `×` for a probe that timed out. */
export function rttStrip(recent: readonly ProbeResult[], width: number): string {
  const shown = recent.slice(-Math.max(0, width));
  const max = Math.max(1, ...shown.filter((r): r is number => r !== null));
  return shown
    .map((r) => (r === null ? "×" : BARS[Math.min(BARS.length - 1, Math.floor((r / max) * BARS.length))]))
    .join("");
}

function PingerPane({
  pinger,
  rect,
  isFocused,
  offset,
}: {
  pinger: PingerView;
  rect: Rect;
  isFocused: boolean;
  offset: number;
}) {
  const theme = useTheme();
  const inner = paneInner(rect);
  const logHeight = Math.max(1, rect.height - 6);
  const state =
    pinger.state === "running" ? "connected" : pinger.state === "stopped" ? "closed" : "connecting";
  const rtt = pinger.rtt;
  // Loss first: in a narrow pane it is the figure that must not be cut off.
  const rttText = !rtt
    ? "rtt –"
    : inner >= 36
      ? `rtt ${rtt.minMs.toFixed(1)}/${rtt.avgMs.toFixed(1)}/${rtt.maxMs.toFixed(1)} ms (min/avg/max)`
      : `rtt ${rtt.minMs.toFixed(0)}/${rtt.avgMs.toFixed(0)}/${rtt.maxMs.toFixed(0)} ms`;
  return (
    <Pane rect={rect} isFocused={isFocused}>
      <ClientHeader
        name={`${isFocused ? "▶ " : ""}${pinger.id} pinger`}
        isFocused={isFocused}
        state={state}
        label={pinger.state}
      />
      <Text wrap="truncate">
        <Text bold color={pinger.lossPercent > 0 ? theme.bad : theme.ok}>
          {`loss ${pinger.lossPercent.toFixed(1)}%`}
        </Text>
        {`  recv ${pinger.received}/${pinger.transmitted}`}
      </Text>
      <Text wrap="truncate">{truncate(rttText, inner)}</Text>
      <Text color={theme.accent} wrap="truncate">
        {rttStrip(pinger.recent, inner) || " "}
      </Text>
      <Transcript lines={pinger.log} width={inner} height={logHeight} offset={offset} />
    </Pane>
  );
}

function EchoPane({ server, rect }: { server: EchoView; rect: Rect }) {
  const inner = paneInner(rect);
  const title = server.port === 0 ? "udp echo" : `udp echo ${formatHostPort(server.host, server.port)}`;
  const stats = `  loss ${pct(server.lossRate)}  delay ${server.delayMs} ms  ${server.datagramsPerSecond.toFixed(1)} dgram/s  ${plural(server.datagrams, "datagram")}  ${server.dropped} dropped`;
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
