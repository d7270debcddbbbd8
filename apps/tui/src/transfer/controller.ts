import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatHostPort, makeDirectory } from "@netlab/core";
import {
  FileServer,
  type ServerTransfer,
  type ServerTransferError,
  TransferClient,
  type TransferResult,
} from "@netlab/transfer";
import type { LineKind } from "../model.js";
import {
  appendLine,
  errorText,
  SceneController,
  type SceneExposureOptions,
  type SceneSlot,
} from "../scene/controller.js";
import { formatBytes, formatRate } from "../text.js";
import type { TransferControls, TransferSnapshot, UploaderView } from "./model.js";

/** Options for {@link TransferLabController}. */
export interface TransferLabOptions extends SceneExposureOptions {
  /** Uploaders to start with, 1..6. Default 3. */
  clients?: number;
  /** Where the file server binds. Default 127.0.0.1. */
  host?: string;
  /** The file server's port; 0 (the default) picks a free one. */
  port?: number;
  /** Size of each generated file, in bytes: uploader N sends N × this. Default 16 MiB. */
  fileBytes?: number;
  /**
   * Cap on each uploader's bytes per second (`lab demo --rate`), so the progress can be watched.
   * Default Infinity: as fast as the machine goes.
   */
  rateBytesPerSecond?: number;
  /** Lines kept per log. Default 200. */
  maxLogLines?: number;
}

const MiB = 1024 * 1024;

interface Slot extends SceneSlot<UploaderView> {
  client: TransferClient | undefined;
  isBusy: boolean;
}

/**
 * The transfer scene: a `FileServer` over a temporary folder and N uploaders (`TransferClient`s),
 * each sending generated files of its own size over real TCP sockets, with live progress and the
 * SHA-256 both sides agreed on. The temporary folder is removed on close.
 * @example const lab = new TransferLabController({ clients: 2 }); await lab.start(); lab.upload(1);
 */
export class TransferLabController
  extends SceneController<TransferSnapshot, Slot>
  implements TransferControls
{
  readonly #fileBytes: number;
  readonly #rateBytesPerSecond: number;
  #dir: string | undefined;
  #server: FileServer | undefined;
  #serving: Promise<void> | undefined;

  constructor(opts: TransferLabOptions = {}) {
    const server = { root: "", files: 0, bytesStored: 0 };
    super("transfer", server, { ...opts, what: "clients", maxLogLines: opts.maxLogLines ?? 200 });
    this.#fileBytes = opts.fileBytes ?? 16 * MiB;
    this.#rateBytesPerSecond = opts.rateBytesPerSecond ?? Number.POSITIVE_INFINITY;
    if (!(this.#rateBytesPerSecond > 0)) {
      throw new RangeError(`rateBytesPerSecond must be above 0, got ${this.#rateBytesPerSecond}`);
    }
  }

  /** Makes the temporary folder, starts the server, and starts every uploader's first upload. */
  async start(): Promise<{ host: string; port: number }> {
    this.#dir = await mkdtemp(join(tmpdir(), "netlab-demo-"));
    // Even an abrupt end (the terminal gone mid-write) must not leave the folder behind.
    process.once("exit", this.#removeDirNow);
    this.patchServer({ root: join(this.#dir, "server") });
    await this.#listen();
    if (Number.isFinite(this.#rateBytesPerSecond)) {
      this.serverLine("info", `each uploader sends at most ${formatRate(this.#rateBytesPerSecond)} (--rate)`);
    }
    for (let i = 0; i < this.initialClients; i++) this.upload(this.#newSlot());
    return { host: this.host, port: this.server.port };
  }

  upload(id: number): void {
    const slot = this.slots[id - 1];
    if (!slot || slot.isBusy || this.isClosed) return;
    slot.isBusy = true;
    void this.#upload(slot).finally(() => {
      slot.isBusy = false;
    });
  }

  async addClient(): Promise<number> {
    if (!this.hasRoomFor("uploaders")) return this.slots.length;
    const id = this.#newSlot();
    this.upload(id);
    return id;
  }

  protected async stop(): Promise<void> {
    const clients = this.slots.map((s) => s.client).filter((c) => c !== undefined);
    for (const slot of this.slots) {
      slot.client = undefined;
      this.updateSlot(slot, { state: "closed" });
    }
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await this.#stopServer();
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true }).catch(() => {});
    process.off("exit", this.#removeDirNow);
  }

  #removeDirNow = (): void => {
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  };

  async #upload(slot: Slot): Promise<void> {
    const dir = this.#dir;
    if (!dir) return;
    const n = slot.view.uploads + 1;
    const name = `uploader${slot.view.id}-${n}.bin`;
    const size = this.#fileBytes * slot.view.id;
    const path = join(dir, name);
    try {
      await generate(path, size);
      // A connection kept from an earlier upload may have died with a server restart: one fresh try.
      for (let attempt = 0; ; attempt++) {
        const isReused = slot.client !== undefined;
        try {
          const r = await this.#uploadOnce(slot, path, name, size);
          this.updateSlot(slot, {
            state: "idle",
            bytesDone: r.bytes,
            totalBytes: r.bytes,
            bytesPerSecond: r.mbps * 1e6,
            uploads: n,
          });
          this.#line(
            slot,
            "chat",
            `✓ ${name} ${formatBytes(r.bytes)} in ${r.seconds.toFixed(2)} s (${formatRate(r.mbps * 1e6)}) sha256 ${short(r.sha256)}`,
          );
          return;
        } catch (err) {
          const client = slot.client;
          slot.client = undefined;
          await client?.close().catch(() => {});
          if (!isReused || attempt > 0 || this.isClosed) throw err;
          this.#line(slot, "info", "* the old connection is gone; connecting again");
        }
      }
    } catch (err) {
      if (this.isClosed) return;
      this.updateSlot(slot, { state: "failed", error: errorText(err) });
      this.#line(slot, "error", `! ${errorText(err)} (Enter tries again)`);
    } finally {
      await rm(path, { force: true }).catch(() => {});
    }
  }

  async #uploadOnce(slot: Slot, path: string, name: string, size: number): Promise<TransferResult> {
    if (!slot.client) {
      this.updateSlot(slot, { state: "connecting" });
      const client = await TransferClient.connect({
        host: this.host,
        port: this.server.port,
        connectTimeoutMs: 5000,
        stream: { rateBytesPerSecond: this.#rateBytesPerSecond },
      });
      client.on("progress", (p) => {
        const seconds = Math.max(0.001, p.elapsedMs / 1000);
        this.updateSlot(slot, {
          bytesDone: p.bytesDone,
          totalBytes: p.totalBytes,
          bytesPerSecond: (p.bytesDone - p.offset) / seconds,
        });
      });
      slot.client = client;
    }
    this.updateSlot(slot, {
      state: "uploading",
      name,
      bytesDone: 0,
      totalBytes: size,
      bytesPerSecond: 0,
      error: undefined,
    });
    return slot.client.upload(path, { name, overwrite: true });
  }

  protected async restart(): Promise<void> {
    this.patchServer({ status: "restarting" });
    this.serverLine("info", "restarting: closing every connection");
    await this.#stopServer();
    if (!this.isClosed) await this.#listen();
  }

  async #stopServer(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    await server.shutdown().catch(() => {});
    await this.#serving?.catch(() => {});
    server.removeAllListeners();
  }

  async #listen(): Promise<void> {
    const root = this.server.root;
    await makeDirectory(root);
    const { server } = await this.listenWithRetries(() => {
      const server = new FileServer({ root, host: this.host, port: this.server.port });
      server.on("transfer", (t: ServerTransfer) => {
        this.patchServer({ files: this.server.files + 1, bytesStored: this.server.bytesStored + t.size });
        this.serverLine(
          "info",
          `${t.op} ${t.name} ${formatBytes(t.size)} from ${t.peer} · sha256 ${short(t.sha256)} ✓`,
        );
      });
      server.on("transferError", (e: ServerTransferError) => {
        this.serverLine("error", `${e.op} ${e.name ?? ""} from ${e.peer}: ${e.error.message}`);
      });
      server.on("error", (err: unknown) => this.serverLine("error", errorText(err)));
      return server;
    });
    this.#server = server;
    const port = server.address.port;
    this.#serving = server.serveForever().catch((err: unknown) => this.serverLine("error", errorText(err)));
    this.patchServer({ status: "listening", port });
    this.serverLine("info", `listening on ${formatHostPort(this.host, port)}, storing into ${root}`);
    this.noteExposure(server.address.host);
  }

  #newSlot(): number {
    const view: UploaderView = {
      id: this.slots.length + 1,
      state: "connecting",
      name: undefined,
      bytesDone: 0,
      totalBytes: 0,
      bytesPerSecond: 0,
      uploads: 0,
      log: [],
      error: undefined,
    };
    return this.addSlot({ view, client: undefined, seq: 0, isBusy: false });
  }

  #line(slot: Slot, kind: LineKind, text: string): void {
    this.updateSlot(slot, { log: appendLine(slot.view.log, ++slot.seq, kind, text, this.maxLogLines) });
  }
}

/** Writes `size` random bytes to `path`, 1 MiB at a time. */
async function generate(path: string, size: number): Promise<void> {
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(MiB, size - done);
      await fh.write(randomBytes(n));
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/** The first and last 6 hex digits of a hash: enough to compare by eye. */
function short(sha256: string | undefined): string {
  return sha256 ? `${sha256.slice(0, 6)}…${sha256.slice(-6)}` : "(not verified)";
}
