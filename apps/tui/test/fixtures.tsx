import { render } from "ink-testing-library";
import { vi } from "vitest";
import { App } from "../src/components/App.js";
import type { ClientView, LabControls, LabSnapshot, LogLine, ServerView } from "../src/model.js";
import { PLAIN_THEME, type Theme, ThemeContext } from "../src/theme.js";

/** A transcript from plain strings ("* x" lines are info, "! x" errors). */
export function lines(...texts: string[]): LogLine[] {
  return texts.map((text, i) => ({
    seq: i + 1,
    at: 0,
    kind: text.startsWith("!") ? "error" : text.startsWith("*") ? "info" : "chat",
    text,
  }));
}

const NICKS = ["alice", "bob", "carol", "dave", "erin", "frank"];

/** A client pane's data. */
export function client(id: number, patch: Partial<ClientView> = {}): ClientView {
  return {
    id,
    nick: NICKS[id - 1] ?? `c${id}`,
    room: "#lobby",
    state: "connected",
    error: undefined,
    transcript: lines("* connected", `* welcome, ${NICKS[id - 1]}`),
    wire: [],
    bytesIn: 0,
    bytesOut: 0,
    ...patch,
  };
}

/** The server pane's data. */
export function server(patch: Partial<ServerView> = {}): ServerView {
  return {
    host: "127.0.0.1",
    port: 40123,
    status: "listening",
    peers: [],
    log: lines("listening on 127.0.0.1:40123"),
    messagesPerSecond: 0,
    messagesTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
    ...patch,
  };
}

/** A snapshot with `n` connected clients. */
export function snapshot(n: number, patch: Partial<LabSnapshot> = {}): LabSnapshot {
  return {
    scene: "chat",
    server: server(),
    clients: Array.from({ length: n }, (_, i) => client(i + 1)),
    ...patch,
  };
}

/**
 * Lab controls over a fixed snapshot that record what the app asked for. Components talk only to
 * this interface, so their tests need no sockets; the controller has its own tests over real ones.
 */
export function recordingLab(initial: LabSnapshot) {
  let current = initial;
  const listeners = new Set<() => void>();
  const calls: Array<[string, ...unknown[]]> = [];
  const lab: LabControls & { calls: typeof calls; set(s: LabSnapshot): void } = {
    calls,
    set(s) {
      current = s;
      for (const l of listeners) l();
    },
    send: (id, line) => void calls.push(["send", id, line]),
    addClient: async () => {
      calls.push(["addClient"]);
      return current.clients.length;
    },
    dropClient: async (id) => void calls.push(["dropClient", id]),
    reconnectClient: async (id) => void calls.push(["reconnectClient", id]),
    restartServer: async () => void calls.push(["restartServer"]),
    watchWire: () => {},
    close: async () => void calls.push(["close"]),
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    getSnapshot: () => current,
  };
  return lab;
}

/** Keys as a terminal sends them. */
export const KEYS = {
  tab: "\t",
  shiftTab: "\u001b[Z",
  enter: "\r",
  backspace: "\u007f",
  ctrlC: "\u0003",
  ctrlD: "\u0004",
  ctrlN: "\u000e",
  ctrlR: "\u0012",
  ctrlW: "\u0017",
  pageUp: "\u001b[5~",
  pageDown: "\u001b[6~",
} as const;

/** Renders the app at `columns`×`rows` and returns helpers to drive it. */
export async function renderApp(
  lab: LabControls,
  { columns = 100, rows = 30, theme = PLAIN_THEME }: { columns?: number; rows?: number; theme?: Theme } = {},
) {
  const onQuit = vi.fn();
  const ui = render(
    <ThemeContext.Provider value={theme}>
      <App lab={lab} onQuit={onQuit} />
    </ThemeContext.Provider>,
  );
  const resize = async (c: number, r: number) => {
    Object.defineProperty(ui.stdout, "columns", { value: c, configurable: true });
    Object.defineProperty(ui.stdout, "rows", { value: r, configurable: true });
    ui.stdout.emit("resize");
    // The frame is exactly `c` wide once the app has seen the new size (or shows "too small").
    await frameMatching((f) => {
      const widths = f.split("\n").map((row) => [...row].length);
      return f.includes("make the window") || (Math.max(...widths) === c && widths.length <= r - 1);
    });
  };
  const frame = () => ui.lastFrame() ?? "";
  /** Waits (up to 5 s) for a frame that satisfies `check`. */
  const frameMatching = (check: (f: string) => boolean) =>
    vi.waitFor(
      () => {
        const f = frame();
        if (!check(f)) throw new Error(`no matching frame; last frame:\n${f}`);
        return f;
      },
      { timeout: 5000, interval: 5 },
    );
  /** Writes keys, one write each (as a terminal delivers them). */
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      ui.stdin.write(k);
      // Ink reads stdin on 'readable'; let it handle one key before the next.
      await new Promise((r) => setImmediate(r));
    }
  };
  await resize(columns, rows);
  return { ui, frame, frameMatching, press, resize, onQuit };
}
