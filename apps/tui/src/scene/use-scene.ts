import { type Key, useApp, useInput } from "ink";
import { useCallback, useLayoutEffect, useMemo, useReducer, useSyncExternalStore } from "react";
import { type TerminalSize, useTerminalSize } from "../use-terminal-size.js";
import type { SceneSnapshot } from "./controller.js";
import { type KeyBinding, type KeyResult, type SceneIo, type SceneUi, splitKeys } from "./keys.js";

/** What a scene's app is given: its lab, and what to call once the lab is closed after ^C. */
export interface SceneProps<L> {
  lab: L;
  /** Called once the lab is closed after Ctrl-C; the app has exited by then. */
  onQuit?: () => void;
}

/** What every lab offers the app: its snapshot, and `close`. */
interface Lab<S> {
  subscribe(listener: () => void): () => void;
  getSnapshot(): S;
  close(): Promise<void>;
}

type Run<L, U> = NonNullable<KeyResult<U, L>["run"]>;

/** The UI state and the lab calls keys asked for that have not been made yet. */
interface State<U, L> {
  ui: U;
  outbox: readonly Run<L, U>[];
}

type Action<U, S> =
  | { type: "key"; input: string; key: Key; snapshot: S }
  | { type: "set"; patch: Partial<U> }
  | { type: "ran"; count: number };

/**
 * The one reducer of every scene: a key finds its binding in the key map, which changes the UI
 * state and may queue a call to the lab. A reducer sees the state left by the key before it, so
 * keys typed faster than a frame (a paste, tmux send-keys) each act on the one before.
 */
function sceneReducer<U extends SceneUi, L, S extends SceneSnapshot>(keyMap: readonly KeyBinding<U, L, S>[]) {
  return (state: State<U, L>, action: Action<U, S>): State<U, L> => {
    if (action.type === "set") return { ...state, ui: { ...state.ui, ...action.patch } };
    if (action.type === "ran") return { ...state, outbox: state.outbox.slice(action.count) };
    const { input, key, snapshot } = action;
    if (state.ui.isQuitting) return state;
    const binding = keyMap.find((b) => b.matches(input, key));
    const focus = Math.min(state.ui.focus, snapshot.clients.length - 1);
    const focused = snapshot.clients[focus];
    if (!binding || (focused === undefined && !binding.isGlobal)) return state;
    const result = binding.act({ ui: state.ui, snapshot, focused: focused!, focus, input, key });
    return {
      ui: result.ui ? { ...state.ui, ...result.ui } : state.ui,
      outbox: result.run ? [...state.outbox, result.run] : state.outbox,
    };
  };
}

/**
 * Everything a scene's app needs from its lab and the terminal: the lab's snapshot, the terminal
 * size, and the UI state its key map drives (keys through Ink's `useInput`; the lab calls they ask
 * for are made right after the frame that shows their effect).
 */
export function useScene<U extends SceneUi, L extends Lab<S>, S extends SceneSnapshot>(
  { lab, onQuit }: SceneProps<L>,
  keyMap: readonly KeyBinding<U, L, S>[],
  /** What the scene's UI adds to {@link SceneUi} (focus on client 1, nothing scrolled). */
  initial: Omit<U, keyof SceneUi> = {} as Omit<U, keyof SceneUi>,
): TerminalSize & { snapshot: S; ui: U; focused: S["clients"][number] | undefined } {
  const snapshot = useSyncExternalStore(lab.subscribe, lab.getSnapshot);
  const size = useTerminalSize();
  const { exit } = useApp();
  const reducer = useMemo(() => sceneReducer(keyMap), [keyMap]);
  const [state, dispatch] = useReducer(reducer, initial, (extra) => ({
    ui: { focus: 0, offsets: {}, isQuitting: false, ...extra } as U,
    outbox: [],
  }));

  useInput(
    useCallback(
      (input: string, key: Key) => {
        for (const [i, k] of splitKeys(input, key)) {
          dispatch({ type: "key", input: i, key: k, snapshot: lab.getSnapshot() });
        }
      },
      [lab],
    ),
  );

  // A layout effect: the calls are made in the same turn as the frame that shows their key, so
  // whoever sees that frame (a test, a person) has had them made.
  useLayoutEffect(() => {
    if (state.outbox.length === 0) return;
    dispatch({ type: "ran", count: state.outbox.length });
    const io: SceneIo<L, U> = {
      lab,
      set: (patch) => dispatch({ type: "set", patch }),
      quit: () => {
        void lab
          .close()
          .catch(() => {})
          .finally(() => {
            exit();
            onQuit?.();
          });
      },
    };
    for (const run of state.outbox) run(io);
  }, [state.outbox, lab, exit, onQuit]);

  const clients = snapshot.clients;
  const focused = clients[Math.min(state.ui.focus, clients.length - 1)];
  return { ...size, snapshot, ui: state.ui, focused };
}
