export {
  CLUSTER_NODES,
  createClusterChatFactory,
  type RedisProcess,
  startRedisServer,
} from "./cluster.js";
export { App, type AppProps, CHAT_KEYS } from "./components/App.js";
export { ClientPane, type ClientPaneProps } from "./components/ClientPane.js";
export { ServerPane, type ServerPaneProps } from "./components/ServerPane.js";
export { Transcript, type TranscriptProps } from "./components/Transcript.js";
export { WireView, type WireViewProps } from "./components/WireView.js";
export {
  type ChatFactory,
  type ClusterNodeView,
  type LabChatClient,
  type LabChatServer,
  LabController,
  type LabControllerOptions,
  NICKS,
} from "./controller.js";
export { chatSceneFactory, type DemoOptions, runDemo, SCENES, type Scene } from "./demo.js";
export { DemoError, type DemoErrorCode, ScriptError, type ScriptErrorCode } from "./errors.js";
export { type RunScriptOptions, runScript } from "./headless.js";
export {
  computeLayout,
  type FrameLayout,
  type LayoutOptions,
  MIN_CLIENT_HEIGHT,
  MIN_COLUMNS,
  MIN_PANE_WIDTH,
  MIN_SERVER_HEIGHT,
  type Rect,
  type TooSmall as TooSmallLayout,
} from "./layout.js";
export * from "./model.js";
export { formatTranscripts, type PlayOptions, paneLines, playScript, settle, waitFor } from "./player.js";
export { ProxyLabController, type ProxyLabOptions, SCENE_TOXICS } from "./proxy/controller.js";
export type { LaneView, ProxyControls, ProxySnapshot, ProxyView, SceneToxic } from "./proxy/model.js";
export { PROXY_KEYS, ProxyApp, type ProxyAppProps } from "./proxy/ProxyApp.js";
export { errorText, SceneController, type SceneServerView, type SceneSnapshot } from "./scene/controller.js";
export { type KeyBinding, type SceneUi, splitKeys } from "./scene/keys.js";
export { type LegendItem, legendItems, SceneShell, type SceneShellProps } from "./scene/SceneShell.js";
export { type SceneProps, useScene } from "./scene/use-scene.js";
export { MAX_WAIT_MS, parseScript, type Script, type Step } from "./script.js";
export { COLOR_THEME, PLAIN_THEME, type Theme, ThemeContext, wantsNoColor } from "./theme.js";
export { TransferLabController, type TransferLabOptions } from "./transfer/controller.js";
export type {
  FileServerView,
  TransferControls,
  TransferSnapshot,
  UploaderView,
} from "./transfer/model.js";
export { progressBar, TRANSFER_KEYS, TransferApp, type TransferAppProps } from "./transfer/TransferApp.js";
export { MAX_SCENE_DELAY_MS, pct, UdpLabController, type UdpLabOptions } from "./udp/controller.js";
export {
  type EchoView,
  type PingerView,
  type ProbeResult,
  RTT_HISTORY,
  type UdpControls,
  type UdpSnapshot,
} from "./udp/model.js";
export { rttStrip, UDP_KEYS, UdpApp, type UdpAppProps } from "./udp/UdpApp.js";
export {
  type ChunkShape,
  chunkShapes,
  WIRE_MARKS,
  type WireRole,
  type WireRow,
  wireRows,
  wireTotals,
} from "./wire.js";
