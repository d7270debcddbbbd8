import { Box, type Key, Text, useApp, useInput } from "ink";
import { useCallback, useRef, useState, useSyncExternalStore } from "react";
import { Legend, UDP_LEGEND } from "../components/Legend.js";
import { TooSmall } from "../components/TooSmall.js";
import { Transcript } from "../components/Transcript.js";
import { computeLayout, type Rect } from "../layout.js";
import { truncate } from "../text.js";
import { stateColor, stateGlyph, useTheme } from "../theme.js";
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
const PAGE_ROWS = 5;
const BARS = "▁▂▃▄▅▆▇█";

/**
 * The UDP scene in the same frame as the chat demo: pinger panes side by side, the echo server
 * (with its emulated loss and delay) below, the key legend last.
 */
export function UdpApp({ lab, onQuit }: UdpAppProps) {
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
    // Several keys in one read (typed fast, tmux send-keys): one at a time.
    if (!key.ctrl && !key.meta && input.length > 1 && !input.includes("\u001b")) {
      for (const ch of input) handle(ch, key);
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
    const server = lab.getSnapshot().server;
    if (key.tab || input === "\t")
      update({ focus: key.shift ? (focus - 1 + count) % count : (focus + 1) % count });
    else if (key.ctrl && input === "n") void lab.addPinger().then((id) => update({ focus: id - 1 }));
    else if (key.ctrl && input === "d") void lab.togglePinger(current.id);
    else if (key.ctrl && input === "r") void lab.restartServer().catch(() => {});
    else if (input === "+" || input === "=")
      void lab.setNetwork({ lossRate: hundredths(server.lossRate + LOSS_STEP) });
    else if (input === "-" || input === "_")
      void lab.setNetwork({ lossRate: hundredths(server.lossRate - LOSS_STEP) });
    else if (input === ">" || input === ".") void lab.setNetwork({ delayMs: server.delayMs + DELAY_STEP_MS });
    else if (input === "<" || input === ",") void lab.setNetwork({ delayMs: server.delayMs - DELAY_STEP_MS });
    else if (key.pageUp || key.upArrow || key.pageDown || key.downArrow) {
      const step = key.pageUp || key.pageDown ? PAGE_ROWS : 1;
      const delta = key.pageUp || key.upArrow ? step : -step;
      const offset = Math.max(0, (state.offsets[current.id] ?? 0) + delta);
      update({ offsets: { ...state.offsets, [current.id]: offset } });
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
  const subtitle = `  udp echo ${where} · ${clients.length} pinger${clients.length === 1 ? "" : "s"} · loss ${pct(server.lossRate)}, delay ${server.delayMs} ms: watch RTT and loss change`;
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
            const p = clients[index]!;
            return (
              <PingerPane
                key={p.id}
                pinger={p}
                rect={layout.clients[index]!}
                isFocused={p.id === focusedId}
                offset={offsets[p.id] ?? 0}
              />
            );
          })}
        </Box>
      ))}
      <EchoPane server={server} rect={layout.server} />
      {isQuitting ? (
        <Text color={theme.warn}>closing every socket and the server…</Text>
      ) : (
        <Legend width={columns} items={UDP_LEGEND} />
      )}
    </Box>
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
  const inner = Math.max(1, rect.width - 4);
  const logHeight = Math.max(1, rect.height - 6);
  const state =
    pinger.state === "running" ? "connected" : pinger.state === "stopped" ? "closed" : "connecting";
  const stateText = `${stateGlyph(state)} ${pinger.state}`;
  const rtt = pinger.rtt;
  // Loss first: in a narrow pane it is the figure that must not be cut off.
  const rttText = !rtt
    ? "rtt –"
    : inner >= 36
      ? `rtt ${rtt.minMs.toFixed(1)}/${rtt.avgMs.toFixed(1)}/${rtt.maxMs.toFixed(1)} ms (min/avg/max)`
      : `rtt ${rtt.minMs.toFixed(0)}/${rtt.avgMs.toFixed(0)}/${rtt.maxMs.toFixed(0)} ms`;
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
          {`${isFocused ? "▶ " : ""}${pinger.id} pinger`}
        </Text>
        {"  "}
        <Text color={stateColor(theme, state)}>{stateText}</Text>
      </Text>
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
    </Box>
  );
}

function EchoPane({ server, rect }: { server: EchoView; rect: Rect }) {
  const theme = useTheme();
  const inner = Math.max(1, rect.width - 4);
  const title = server.port === 0 ? "udp echo" : `udp echo ${server.host}:${server.port}`;
  const status = `${stateGlyph(server.status)} ${server.status}`;
  const stats = `  loss ${pct(server.lossRate)}  delay ${server.delayMs} ms  ${server.datagramsPerSecond.toFixed(1)} dgram/s  ${server.datagrams} datagrams  ${server.dropped} dropped`;
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
