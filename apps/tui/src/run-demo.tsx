import { render } from "ink";
import { chatFactory } from "./chat-factory.js";
import { App } from "./components/App.js";
import { type ChatFactory, LabController } from "./controller.js";
import { COLOR_THEME, PLAIN_THEME, ThemeContext, wantsNoColor } from "./theme.js";
import { TransferLabController } from "./transfer/controller.js";
import { TransferApp } from "./transfer/TransferApp.js";
import { UdpLabController } from "./udp/controller.js";
import { UdpApp } from "./udp/UdpApp.js";

/** The scenes `lab demo --scene` offers. */
export const SCENES = ["chat", "transfer", "udp"] as const;
/** One of {@link SCENES}. */
export type Scene = (typeof SCENES)[number];

/** Options for {@link runDemo}. */
export interface DemoOptions {
  /** What to show: a chat server and clients (default), a file server and uploaders, or a UDP echo server and pingers. */
  scene?: Scene;
  /** Clients (uploaders, pingers) to start with, 1..6. Default 3. */
  clients?: number;
  /** Where the server listens. Default 127.0.0.1. */
  host?: string;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** Honour NO_COLOR from here. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where servers and clients come from; `@netlab/chat` unless a test says otherwise. */
  factory?: ChatFactory;
}

const ENTER_ALT_SCREEN = "\u001b[?1049h\u001b[H";
const LEAVE_ALT_SCREEN = "\u001b[?1049l";

/**
 * The interactive demo: draws the first frame at once, starts the server and clients behind it,
 * and runs until Ctrl-C (or SIGINT/SIGTERM/SIGHUP), which closes every socket and the server before
 * it resolves. Uses the terminal's alternate screen, so the shell is as it was afterwards.
 * Rejects when the server cannot start (after restoring the screen).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  const lab =
    opts.scene === "udp"
      ? new UdpLabController({ pingers: opts.clients, host: opts.host })
      : opts.scene === "transfer"
        ? new TransferLabController({ clients: opts.clients, host: opts.host })
        : new LabController(opts.factory ?? chatFactory, { clients: opts.clients, host: opts.host });
  const theme = wantsNoColor(opts.env ?? process.env) ? PLAIN_THEME : COLOR_THEME;
  stdout.write(ENTER_ALT_SCREEN);
  let isScreenRestored = false;
  const restoreScreen = () => {
    if (isScreenRestored) return;
    isScreenRestored = true;
    stdout.write(LEAVE_ALT_SCREEN);
  };
  process.once("exit", restoreScreen);
  let instance: ReturnType<typeof render> | undefined;
  const start = () =>
    lab.start().catch(async (err: unknown) => {
      await lab.close();
      instance?.unmount();
      throw err;
    });
  // Chat: sockets first, they connect while Ink draws the first frame. UDP and transfer: after it,
  // so the first probes and uploads do not time the first render (they share this event loop).
  let started = lab instanceof LabController ? start() : undefined;
  instance = render(
    <ThemeContext.Provider value={theme}>
      {lab instanceof UdpLabController ? (
        <UdpApp lab={lab} />
      ) : lab instanceof TransferLabController ? (
        <TransferApp lab={lab} />
      ) : (
        <App lab={lab} />
      )}
    </ThemeContext.Provider>,
    // A full frame costs tens of ms to lay out on a busy machine; 20 fps is smooth enough for text.
    { stdout, stdin, exitOnCtrlC: false, patchConsole: true, maxFps: 20 },
  );
  started ??= start();
  // Signals from outside (kill, a closed terminal) quit the same way Ctrl-C does.
  const onSignal = () => {
    void lab.close().finally(() => instance?.unmount());
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  try {
    await Promise.all([started, instance.waitUntilExit()]);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    await lab.close();
    restoreScreen();
    process.off("exit", restoreScreen);
  }
}
