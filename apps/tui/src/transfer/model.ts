import type { LogLine } from "../model.js";

/** One uploader pane. */
export interface UploaderView {
  /** 1-based, stable: "uploader 2". */
  id: number;
  state: "connecting" | "idle" | "uploading" | "failed" | "closed";
  /** The file in flight (or the last one). */
  name: string | undefined;
  bytesDone: number;
  totalBytes: number;
  /** Bytes per second of the upload in flight, from its progress so far. */
  bytesPerSecond: number;
  uploads: number;
  log: readonly LogLine[];
  error: string | undefined;
}

/** The file server pane. */
export interface FileServerView {
  host: string;
  port: number;
  /** The warning the address bound earned (others can reach it); see SceneServerView. */
  exposure?: string;
  status: "starting" | "listening" | "restarting" | "stopped";
  /** The folder uploads land in (a temporary folder, removed on quit). */
  root: string;
  files: number;
  bytesStored: number;
  log: readonly LogLine[];
}

/** Everything on screen in the transfer scene. */
export interface TransferSnapshot {
  scene: "transfer";
  server: FileServerView;
  clients: readonly UploaderView[];
}

/** What the transfer scene's app can ask of its lab. */
export interface TransferControls {
  /** Starts another upload from client `id` (a new generated file), unless one is in flight. */
  upload(id: number): void;
  /** Adds an uploader (up to 6), connects it and starts its first upload. */
  addClient(): Promise<number>;
  /** Closes the server and listens again on the same port; uploaders reconnect on their next upload. */
  restartServer(): Promise<void>;
  close(): Promise<void>;
  subscribe(listener: () => void): () => void;
  getSnapshot(): TransferSnapshot;
}
