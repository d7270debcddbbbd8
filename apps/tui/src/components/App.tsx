import { Box } from "ink";
import { useEffect } from "react";
import type { LabControls, LabSnapshot } from "../model.js";
import {
  addKey,
  ctrl,
  focusKey,
  type KeyBinding,
  quitKey,
  restartKey,
  type SceneUi,
  scrollKey,
} from "../scene/keys.js";
import { plural, SceneShell, serverAddress } from "../scene/SceneShell.js";
import { type SceneProps, useScene } from "../scene/use-scene.js";
import { ClientPane } from "./ClientPane.js";
import { ServerPane } from "./ServerPane.js";
import { WireView } from "./WireView.js";

/** Props for {@link App}. */
export type AppProps = SceneProps<LabControls>;

/** What the chat scene remembers besides focus and scrolling: each client's unsent input, the wire view. */
interface ChatUi extends SceneUi {
  inputs: Readonly<Record<number, string>>;
  isWire: boolean;
}

type ChatKey = KeyBinding<ChatUi, LabControls, LabSnapshot>;

/** `inputs` with client `id`'s line replaced. */
function typing(ui: ChatUi, id: number, line: string): Partial<ChatUi> {
  return { inputs: { ...ui.inputs, [id]: line } };
}

/**
 * The chat scene's keys, in the legend's order; the last three (^U, Backspace, typing) are not in
 * the one-line legend (docs/demo.md lists them). Any other Ctrl key does nothing.
 */
export const CHAT_KEYS: readonly ChatKey[] = [
  focusKey(),
  {
    keys: "Enter",
    label: "send",
    short: "send",
    matches: (_, key) => key.return,
    act: ({ ui, focused: { id } }) => {
      const line = ui.inputs[id] ?? "";
      if (line.trim() === "") return {};
      return {
        ui: { ...typing(ui, id, ""), offsets: { ...ui.offsets, [`client:${id}`]: 0 } },
        run: ({ lab }) => lab.send(id, line),
      };
    },
  },
  addKey("add client", (lab) => lab.addClient()),
  {
    keys: "^D",
    label: "drop/reconnect",
    short: "drop",
    matches: ctrl("d"),
    act: ({ focused: { id, state } }) => ({
      run: ({ lab }) => void (state === "closed" ? lab.reconnectClient(id) : lab.dropClient(id)),
    }),
  },
  restartKey(),
  {
    keys: "^W",
    label: "wire view",
    short: "wire",
    matches: ctrl("w"),
    act: ({ ui }) => ({ ui: { isWire: !ui.isWire } }),
  },
  scrollKey(({ ui, focused }) => `${ui.isWire ? "wire" : "client"}:${focused.id}`),
  quitKey(),
  {
    keys: "^U",
    matches: ctrl("u"),
    act: ({ ui, focused }) => ({ ui: typing(ui, focused.id, "") }),
  },
  {
    keys: "Backspace",
    matches: (_, key) => key.backspace || key.delete,
    act: ({ ui, focused: { id } }) => ({
      ui: typing(ui, id, [...(ui.inputs[id] ?? "")].slice(0, -1).join("")),
    }),
  },
  {
    keys: "typing",
    matches: (_, key) => !key.ctrl && !key.meta && !key.escape,
    act: ({ ui, input, focused: { id } }) => {
      // Control characters never reach the wire.
      const printable = input.replace(/[\u0000-\u001f\u007f]/g, "");
      return printable ? { ui: typing(ui, id, (ui.inputs[id] ?? "") + printable) } : {};
    },
  },
];

/**
 * The chat scene: title, client panes, the server pane (and the wire view), the key legend.
 * Focus starts on client 1; every key goes to the focused client's input except the lab keys.
 */
export function App(props: AppProps) {
  const { lab } = props;
  const { snapshot, ui, focused, columns, rows } = useScene(props, CHAT_KEYS, { inputs: {}, isWire: false });
  const watched = ui.isWire ? focused?.id : undefined;
  useEffect(() => lab.watchWire(watched), [lab, watched]);
  const { server, clients } = snapshot;
  return (
    <SceneShell
      columns={columns}
      rows={rows}
      subtitle={
        server.cluster
          ? `  chat cluster ${server.cluster.nodes.map((n) => `${n.id} :${n.port}`).join(", ")} · Redis ${server.cluster.redis} · ${plural(clients.length, "client")} · a→b: sent on node a, delivered by b`
          : `  chat server ${serverAddress(server)} · ${plural(clients.length, "client")} · type in any client and watch the message travel`
      }
      clients={clients}
      focusedId={focused?.id}
      keyMap={CHAT_KEYS}
      isQuitting={ui.isQuitting}
      hasWire={ui.isWire}
      exposure={server.exposure}
      pane={(c, rect, isFocused) => (
        <ClientPane
          key={c.id}
          client={c}
          rect={rect}
          isFocused={isFocused}
          input={ui.inputs[c.id] ?? ""}
          offset={ui.offsets[`client:${c.id}`] ?? 0}
        />
      )}
      below={(layout) => (
        <Box flexDirection="row">
          {layout.server.width > 0 ? <ServerPane server={server} rect={layout.server} /> : null}
          {layout.wire && focused ? (
            <WireView client={focused} rect={layout.wire} offset={ui.offsets[`wire:${focused.id}`] ?? 0} />
          ) : null}
        </Box>
      )}
    />
  );
}
