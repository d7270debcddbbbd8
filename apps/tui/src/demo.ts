import type { ComponentType } from "react";
import type { ChatFactory, LabController } from "./controller.js";
import type { ProxyLabController } from "./proxy/controller.js";
import type { TransferLabController } from "./transfer/controller.js";
import type { UdpLabController } from "./udp/controller.js";

/** The scenes `lab demo --scene` offers. */
export const SCENES = ["chat", "transfer", "udp", "proxy"] as const;
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
  /** The server's port (the proxy's in the proxy scene); 0 (the default) picks a free one. */
  port?: number;
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** Honour NO_COLOR from here. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where servers and clients come from; `@netlab/chat` unless a test says otherwise. */
  factory?: ChatFactory;
  /** Transfer scene: each uploader's cap in bytes per second, so the progress can be watched. Default Infinity. */
  rateBytesPerSecond?: number;
  /**
   * Chat scene as a cluster: two nodes joined through Redis at this URL, or, with `true`, through a
   * `redis-server` the demo starts on a free port (and stops on quit).
   */
  cluster?: string | true;
  /** Chat scene: speak TLS (a certificate made for this run, pinned by every client). */
  tls?: boolean;
  /**
   * Chat and transfer scenes: the warning for a server bound at `host` (the address bound), shown
   * in the server pane after its listening line; undefined says nothing.
   */
  exposure?: (host: string) => string | undefined;
}

/** A scene's controller and the component that draws it. */
type SceneLab = LabController | TransferLabController | UdpLabController | ProxyLabController;

/** How long the chat scene's first frame waits for the server and clients to be up, in ms. */
const FIRST_FRAME_WAIT_MS = 500;

const ENTER_ALT_SCREEN = "\u001b[?1049h\u001b[H";
const LEAVE_ALT_SCREEN = "\u001b[?1049l";

/**
 * Loads only the scene asked for: its controller and the library it drives (`@netlab/chat`,
 * `@netlab/transfer` or `@netlab/udp`), and a loader for its component.
 */
async function loadScene(opts: DemoOptions): Promise<{
  lab: SceneLab;
  loadView: () => Promise<ComponentType<{ lab: never }>>;
  stop?: () => Promise<void>;
}> {
  if (opts.scene === "udp") {
    const { UdpLabController } = await import("./udp/controller.js");
    return {
      lab: new UdpLabController({
        pingers: opts.clients,
        host: opts.host,
        port: opts.port,
        exposure: opts.exposure,
      }),
      loadView: async () => (await import("./udp/UdpApp.js")).UdpApp,
    };
  }
  if (opts.scene === "proxy") {
    const { ProxyLabController } = await import("./proxy/controller.js");
    return {
      lab: new ProxyLabController({ host: opts.host, port: opts.port, exposure: opts.exposure }),
      loadView: async () => (await import("./proxy/ProxyApp.js")).ProxyApp,
    };
  }
  if (opts.scene === "transfer") {
    const { TransferLabController } = await import("./transfer/controller.js");
    return {
      lab: new TransferLabController({
        clients: opts.clients,
        host: opts.host,
        port: opts.port,
        rateBytesPerSecond: opts.rateBytesPerSecond,
        exposure: opts.exposure,
      }),
      loadView: async () => (await import("./transfer/TransferApp.js")).TransferApp,
    };
  }
  const [{ LabController }, { factory, stop }] = await Promise.all([
    import("./controller.js"),
    chatSceneFactory(opts),
  ]);
  return {
    lab: new LabController(factory, {
      clients: opts.clients,
      host: opts.host,
      port: opts.port,
      exposure: opts.exposure,
    }),
    loadView: async () => (await import("./components/App.js")).App,
    stop,
  };
}

/**
 * Where the chat scene's servers and clients come from: a test's factory, TLS, a cluster (with the
 * `redis-server` it started, if any, for `stop` to end) or plain `@netlab/chat`.
 */
export async function chatSceneFactory(opts: {
  factory?: ChatFactory;
  tls?: boolean;
  cluster?: string | true;
}): Promise<{ factory: ChatFactory; stop?: () => Promise<void> }> {
  if (opts.factory) return { factory: opts.factory };
  if (opts.cluster !== undefined) {
    const { createClusterChatFactory, startRedisServer } = await import("./cluster.js");
    const redis = opts.cluster === true ? await startRedisServer() : undefined;
    try {
      const factory = await createClusterChatFactory(redis?.url ?? (opts.cluster as string));
      return { factory, stop: redis?.stop };
    } catch (err) {
      await redis?.stop();
      throw err;
    }
  }
  const m = await import("./chat-factory.js");
  return { factory: opts.tls ? await m.createTlsChatFactory() : m.chatFactory };
}

/**
 * The interactive demo: starts the server and clients, draws the frame as soon as Ink is loaded,
 * and runs until Ctrl-C (or SIGINT/SIGTERM/SIGHUP), which closes every socket and the server before
 * it resolves. Uses the terminal's alternate screen, so the shell is as it was afterwards.
 * Rejects when the server cannot start (after restoring the screen).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<void> {
  // runDemo draws for a person at a terminal: frames must come even when CI is set in the
  // environment (Ink then prints only the last frame). Ink reads it when first imported, below.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  const { lab, loadView, stop } = await loadScene(opts);
  let instance: { unmount(): void; waitUntilExit(): Promise<unknown> } | undefined;
  const start = () =>
    lab.start().catch(async (err: unknown) => {
      await lab.close();
      instance?.unmount();
      throw err;
    });
  // Chat: sockets first, they listen and connect while Ink and React load (a few hundred ms), and
  // the first frame waits for them (at most FIRST_FRAME_WAIT_MS), so it shows them connected
  // instead of costing a second full frame right after. UDP and transfer: after the first frame,
  // so the first probes and uploads do not time Ink's start (they share this event loop).
  const isChat = opts.scene === undefined || opts.scene === "chat";
  let started = isChat ? start() : undefined;
  // Handled below; this keeps a failure while Ink loads from counting as unhandled.
  let hasFailed = false;
  started?.catch(() => {
    hasFailed = true;
  });
  // Signals from outside (kill, a closed terminal) quit the same way Ctrl-C does; so does Ctrl-C
  // while Ink is still loading (the terminal is not in raw mode yet, so it arrives as SIGINT).
  let isQuitting = false;
  const onSignal = () => {
    isQuitting = true;
    void lab.close().finally(() => instance?.unmount());
  };
  // Before the first byte on the screen: whoever sees the demo start may press Ctrl-C at once.
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const s of signals) process.on(s, onSignal);
  stdout.write(ENTER_ALT_SCREEN);
  let isScreenRestored = false;
  const restoreScreen = () => {
    if (isScreenRestored) return;
    isScreenRestored = true;
    stdout.write(LEAVE_ALT_SCREEN);
  };
  process.once("exit", restoreScreen);
  try {
    const [{ renderScene }, View] = await Promise.all([
      import("./demo-view.js"),
      loadView(),
      started && settledWithin(started, FIRST_FRAME_WAIT_MS),
    ]);
    if (isQuitting) return;
    if (hasFailed) await started; // the server could not start: no frame, just the error
    instance = renderScene(View as ComponentType<{ lab: SceneLab }>, lab, {
      stdin,
      stdout,
      env: opts.env ?? process.env,
    });
    started ??= start();
    await Promise.all([started, instance.waitUntilExit()]);
  } finally {
    for (const s of signals) process.off(s, onSignal);
    await lab.close();
    await stop?.();
    instance?.unmount();
    restoreScreen();
    process.off("exit", restoreScreen);
  }
}

/** Resolves when `promise` settles (either way) or after `ms`, whichever comes first. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
