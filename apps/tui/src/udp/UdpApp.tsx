import { type Key, Text, useInput } from "ink";
import { useSyncExternalStore } from "react";
import { UDP_LEGEND } from "../components/Legend.js";
import { ClientHeader, Pane, paneInner, ServerHeader } from "../components/Pane.js";
import { ClientGrid, plural, SceneFrame, serverAddress } from "../components/SceneFrame.js";
import { TooSmall } from "../components/TooSmall.js";
import { Transcript } from "../components/Transcript.js";
import { computeLayout, type Rect } from "../layout.js";
import { truncate } from "../text.js";
import { useTheme } from "../theme.js";
import { cycleFocus, scrollDelta, scrolled, useSceneUi } from "../use-scene-ui.js";
import { useTerminalSize } from "../use-terminal-size.js";
import { pct } from "./controller.js";
import type { EchoView, PingerView, ProbeResult, UdpControls } from "./model.js";

/** Props for {@link UdpApp}. */
export interface UdpAppProps {
  lab: UdpControls;
  onQuit?: () => void;
}

const LOSS_STEP = 0.05;
const DELAY_STEP_MS = 10;
const BARS = "▁▂▃▄▅▆▇█";

/**
 * The UDP scene in the same frame as the chat demo: pinger panes side by side, the echo server
 * (with its emulated loss and delay) below, the key legend last.
 */
export function UdpApp({ lab, onQuit }: UdpAppProps) {
  const snapshot = useSyncExternalStore(lab.subscribe, lab.getSnapshot);
  const { columns, rows } = useTerminalSize();
  const { ui, update, quit } = useSceneUi(
    lab,
    { focus: 0, offsets: {} as Record<number, number>, isQuitting: false },
    onQuit,
  );

  const handle = (input: string, key: Key): void => {
    // Several keys in one read (typed fast, tmux send-keys): one at a time.
    if (!key.ctrl && !key.meta && input.length > 1 && !input.includes("\u001b")) {
      for (const ch of input) handle(ch, key);
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
    const server = lab.getSnapshot().server;
    const delta = scrollDelta(key);
    if (key.tab || input === "\t") update({ focus: cycleFocus(focus, all.length, key) });
    else if (key.ctrl && input === "n") void lab.addPinger().then((id) => update({ focus: id - 1 }));
    else if (key.ctrl && input === "d") void lab.togglePinger(current.id);
    else if (key.ctrl && input === "r") void lab.restartServer().catch(() => {});
    else if (input === "+" || input === "=")
      void lab.setNetwork({ lossRate: hundredths(server.lossRate + LOSS_STEP) });
    else if (input === "-" || input === "_")
      void lab.setNetwork({ lossRate: hundredths(server.lossRate - LOSS_STEP) });
    else if (input === ">" || input === ".") void lab.setNetwork({ delayMs: server.delayMs + DELAY_STEP_MS });
    else if (input === "<" || input === ",") void lab.setNetwork({ delayMs: server.delayMs - DELAY_STEP_MS });
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
  const subtitle = `  udp echo ${serverAddress(server)} · ${plural(clients.length, "pinger")} · loss ${pct(server.lossRate)}, delay ${server.delayMs} ms: watch RTT and loss change`;
  return (
    <SceneFrame
      columns={columns}
      height={layout.height}
      subtitle={subtitle}
      legend={UDP_LEGEND}
      isQuitting={isQuitting}
    >
      <ClientGrid
        layout={layout}
        clients={clients}
        focusedId={focusedId}
        pane={(p, rect, isFocused) => (
          <PingerPane key={p.id} pinger={p} rect={rect} isFocused={isFocused} offset={offsets[p.id] ?? 0} />
        )}
      />
      <EchoPane server={server} rect={layout.server} />
    </SceneFrame>
  );
}

function hundredths(n: number): number {
  return Math.round(n * 100) / 100;
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
  const title = server.port === 0 ? "udp echo" : `udp echo ${server.host}:${server.port}`;
  const stats = `  loss ${pct(server.lossRate)}  delay ${server.delayMs} ms  ${server.datagramsPerSecond.toFixed(1)} dgram/s  ${server.datagrams} datagrams  ${server.dropped} dropped`;
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
