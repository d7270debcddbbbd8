import { type Key, useApp } from "ink";
import { useCallback, useRef, useState } from "react";

/** Rows one PgUp/PgDn scrolls. */
export const PAGE_ROWS = 5;

/** What every scene remembers across keys: the focused pane and whether it is closing. */
export interface SceneUi {
  focus: number;
  isQuitting: boolean;
}

/**
 * A scene's own state, kept in a ref so that keys typed faster than a render (a paste, tmux
 * send-keys) each see the effect of the one before, plus `quit`: close the lab once, then exit Ink
 * and call `onQuit`.
 */
export function useSceneUi<S extends SceneUi>(
  lab: { close(): Promise<void> },
  initial: S,
  onQuit: (() => void) | undefined,
): { ui: { readonly current: S }; update: (patch: Partial<S>) => void; quit: () => void } {
  const { exit } = useApp();
  const ui = useRef<S>(initial);
  const [, setVersion] = useState(0);
  const update = useCallback((patch: Partial<S>) => {
    ui.current = { ...ui.current, ...patch };
    setVersion((v) => v + 1);
  }, []);
  const quit = useCallback(() => {
    if (ui.current.isQuitting) return;
    update({ isQuitting: true } as Partial<S>);
    void lab
      .close()
      .catch(() => {})
      .finally(() => {
        exit();
        onQuit?.();
      });
  }, [lab, exit, onQuit, update]);
  return { ui, update, quit };
}

/** The focus after Tab (next) or Shift-Tab (previous), wrapping around `count` panes. */
export function cycleFocus(focus: number, count: number, key: Key): number {
  return key.shift ? (focus - 1 + count) % count : (focus + 1) % count;
}

/** How far an arrow or PgUp/PgDn scrolls (up is positive), or undefined for any other key. */
export function scrollDelta(key: Key): number | undefined {
  if (!(key.pageUp || key.upArrow || key.pageDown || key.downArrow)) return undefined;
  const step = key.pageUp || key.pageDown ? PAGE_ROWS : 1;
  return key.pageUp || key.upArrow ? step : -step;
}

/** `offsets` with the pane at `key` scrolled by `delta` rows; 0 is the newest line, never below it. */
export function scrolled<K extends PropertyKey>(
  offsets: Readonly<Record<K, number>>,
  key: K,
  delta: number,
): Record<K, number> {
  return { ...offsets, [key]: Math.max(0, (offsets[key] ?? 0) + delta) } as Record<K, number>;
}
