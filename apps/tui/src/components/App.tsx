import { Box, type Key, useInput } from "ink";
import { useEffect, useSyncExternalStore } from "react";
import { computeLayout } from "../layout.js";
import type { LabControls } from "../model.js";
import { cycleFocus, scrollDelta, scrolled, useSceneUi } from "../use-scene-ui.js";
import { useTerminalSize } from "../use-terminal-size.js";
import { ClientPane } from "./ClientPane.js";
import { LEGEND } from "./Legend.js";
import { ClientGrid, plural, SceneFrame, serverAddress } from "./SceneFrame.js";
import { ServerPane } from "./ServerPane.js";
import { TooSmall } from "./TooSmall.js";
import { WireView } from "./WireView.js";

/** Props for {@link App}. */
export interface AppProps {
  lab: LabControls;
  /** Called once the lab is closed after Ctrl-C; the app has exited by then. */
  onQuit?: () => void;
}

/** A key event with nothing pressed, for keys split out of a pasted string. */
const NO_KEY: Key = {
  upArrow: false,
  downArrow: false,
  leftArrow: false,
  rightArrow: false,
  pageDown: false,
  pageUp: false,
  home: false,
  end: false,
  return: false,
  escape: false,
  ctrl: false,
  shift: false,
  tab: false,
  backspace: false,
  delete: false,
  meta: false,
  super: false,
  hyper: false,
  capsLock: false,
  numLock: false,
};

/** One character of a pasted string as the key it stands for. */
function splitKey(part: string): [string, Key] {
  const code = part.length === 1 ? part.charCodeAt(0) : -1;
  if (code === 0x0d || code === 0x0a) return ["", { ...NO_KEY, return: true }];
  if (code === 0x09) return ["", { ...NO_KEY, tab: true }];
  if (code === 0x7f || code === 0x08) return ["", { ...NO_KEY, backspace: true }];
  if (code >= 0x01 && code <= 0x1a) return [String.fromCharCode(code + 0x60), { ...NO_KEY, ctrl: true }];
  return [part, NO_KEY];
}

/** What the app itself remembers: focus, each client's unsent input, scroll positions, toggles. */
interface UiState {
  focus: number;
  inputs: Record<number, string>;
  offsets: Record<string, number>;
  isWire: boolean;
  isQuitting: boolean;
}

/**
 * The whole demo: title, client panes, the server pane (and the wire view), the key legend.
 * Focus starts on client 1; every key goes to the focused client's input except the lab keys.
 */
export function App({ lab, onQuit }: AppProps) {
  const snapshot = useSyncExternalStore(lab.subscribe, lab.getSnapshot);
  const { columns, rows } = useTerminalSize();
  const { ui, update, quit } = useSceneUi<UiState>(
    lab,
    { focus: 0, inputs: {}, offsets: {}, isWire: false, isQuitting: false },
    onQuit,
  );

  const handle = (input: string, key: Key): void => {
    if (key.ctrl && input === "c") {
      quit();
      return;
    }
    // Keys typed faster than they are read (a paste, tmux send-keys) can arrive as one string:
    // the control keys inside it (Enter, Tab, Backspace, ^N...) still act as keys. Escape
    // sequences (arrows, PgUp) are left to Ink.
    if (
      !key.ctrl &&
      !key.meta &&
      input.length > 1 &&
      /[\u0000-\u001a\u007f]/.test(input) &&
      !input.includes("\u001b")
    ) {
      for (const part of input.split(/([\u0000-\u001a\u007f])/)) {
        if (part !== "") handle(...splitKey(part));
      }
      return;
    }
    const state = ui.current;
    const all = lab.getSnapshot().clients;
    const current = all[Math.min(state.focus, all.length - 1)];
    if (state.isQuitting || !current) return;
    const id = current.id;
    const scrollKey = state.isWire ? `wire:${id}` : `client:${id}`;
    const count = all.length;
    if (key.tab) {
      update({ focus: cycleFocus(Math.min(state.focus, count - 1), count, key) });
      return;
    }
    if (key.ctrl) {
      if (input === "n") {
        void lab.addClient().then((newId) => update({ focus: newId - 1 }));
      } else if (input === "d") {
        void (current.state === "closed" ? lab.reconnectClient(id) : lab.dropClient(id));
      } else if (input === "r") {
        void lab.restartServer().catch(() => {});
      } else if (input === "w") {
        update({ isWire: !state.isWire });
      } else if (input === "u") {
        update({ inputs: { ...state.inputs, [id]: "" } });
      }
      return;
    }
    const delta = scrollDelta(key);
    if (delta !== undefined) {
      update({ offsets: scrolled(state.offsets, scrollKey, delta) });
      return;
    }
    if (key.return) {
      const line = state.inputs[id] ?? "";
      if (line.trim() === "") return;
      lab.send(id, line);
      update({ inputs: { ...state.inputs, [id]: "" }, offsets: { ...state.offsets, [`client:${id}`]: 0 } });
      return;
    }
    if (key.backspace || key.delete) {
      const shorter = [...(state.inputs[id] ?? "")].slice(0, -1).join("");
      update({ inputs: { ...state.inputs, [id]: shorter } });
      return;
    }
    if (key.escape || key.meta) return;
    // Pasted text arrives as one string; control characters never reach the wire.
    const printable = input.replace(/[\u0000-\u001f\u007f]/g, "");
    if (printable) update({ inputs: { ...state.inputs, [id]: (state.inputs[id] ?? "") + printable } });
  };
  useInput(handle);

  const { focus, inputs, offsets, isWire, isQuitting } = ui.current;
  const clients = snapshot.clients;
  const focused = clients[Math.min(focus, clients.length - 1)];
  const focusedId = focused?.id ?? 1;
  const watched = isWire ? focusedId : undefined;
  useEffect(() => lab.watchWire(watched), [lab, watched]);

  const layout = computeLayout(columns, rows, clients.length, { wire: isWire });
  if (layout.kind === "too-small") return <TooSmall layout={layout} clients={clients.length} />;

  const server = snapshot.server;
  const subtitle = `  chat server ${serverAddress(server)} · ${plural(clients.length, "client")} · type in any client and watch the message travel`;
  return (
    <SceneFrame
      columns={columns}
      height={layout.height}
      subtitle={subtitle}
      legend={LEGEND}
      isQuitting={isQuitting}
    >
      <ClientGrid
        layout={layout}
        clients={clients}
        focusedId={focusedId}
        pane={(c, rect, isFocused) => (
          <ClientPane
            key={c.id}
            client={c}
            rect={rect}
            isFocused={isFocused}
            input={inputs[c.id] ?? ""}
            offset={offsets[`client:${c.id}`] ?? 0}
          />
        )}
      />
      <Box flexDirection="row">
        {layout.server.width > 0 ? <ServerPane server={server} rect={layout.server} /> : null}
        {layout.wire && focused ? (
          <WireView client={focused} rect={layout.wire} offset={offsets[`wire:${focusedId}`] ?? 0} />
        ) : null}
      </Box>
    </SceneFrame>
  );
}
