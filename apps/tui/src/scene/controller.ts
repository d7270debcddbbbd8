import { type LineKind, type LogLine, MAX_CLIENTS } from "../model.js";
import { SnapshotStore } from "../snapshot-store.js";

/** What every scene's server pane shows, whatever else it adds. */
export interface SceneServerView {
  host: string;
  /** 0 until the first listen. */
  port: number;
  status: "starting" | "listening" | "restarting" | "stopped";
  log: readonly LogLine[];
  /** The warning the address bound earned (others can reach it): logged, and flagged in the title line. */
  exposure?: string;
}

/** Everything on screen in one scene: the server pane and the client panes, in id order. */
export interface SceneSnapshot<
  S extends SceneServerView = SceneServerView,
  C extends { id: number } = { id: number },
> {
  scene: string;
  server: S;
  clients: readonly C[];
}

/** What the controller keeps for one client pane: the view it publishes and its log's next `seq`. */
export interface SceneSlot<C> {
  view: C;
  seq: number;
}

/** What a scene whose server others could join (chat, files) is told about its address. */
export interface SceneExposureOptions {
  /**
   * The warning for a server bound at `host` (the address bound), or undefined when it stays on
   * this machine: `lab demo` passes `lab server`'s own check and words, shown in the server pane.
   */
  exposure?: (host: string) => string | undefined;
}

/** The one server every scene runs, as far as starting it goes. */
interface Listener {
  listen(): Promise<unknown>;
  removeAllListeners(): unknown;
}

/** Tries to listen again when a restart finds its port still held by the old socket (every 50 ms). */
const LISTEN_RETRIES = 20;
const RETRY_DELAY_MS = 50;

/**
 * What the three scene controllers (chat, transfer, udp) share: the snapshot and its store
 * (`getSnapshot`/`subscribe` for `useSyncExternalStore`, one notification per tick), the client
 * slots and the server's log, listening with retries, one restart at a time, and `close` in order
 * (stop the timer, let a restart finish, close clients and server, publish "stopped").
 * A scene adds its server and clients: `restart` and `stop`, and whatever its keys ask for.
 */
export abstract class SceneController<
  Snap extends SceneSnapshot,
  Slot extends SceneSlot<Snap["clients"][number]> = SceneSlot<Snap["clients"][number]>,
> {
  protected readonly slots: Slot[] = [];
  protected isClosed = false;
  /** Where the server listens. */
  protected readonly host: string;
  /** Clients to start with. */
  protected readonly initialClients: number;
  /** Lines kept in the server log (and each client's log, where a scene uses it). */
  protected readonly maxLogLines: number;
  readonly #store: SnapshotStore<Snap>;
  #serverSeq = 0;
  #restarting: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Set after the first listen: only a restart can race its own old socket. */
  #hasListened = false;
  readonly #exposure: ((host: string) => string | undefined) | undefined;

  /**
   * `server` is what the scene's server pane adds to the common fields; `clients` (1..6) is named
   * `what` in the error when it is out of range.
   */
  constructor(
    scene: Snap["scene"],
    server: Omit<Snap["server"], keyof SceneServerView>,
    opts: SceneExposureOptions & {
      host?: string;
      port?: number;
      clients?: number;
      what: string;
      maxLogLines: number;
    },
  ) {
    this.host = opts.host ?? "127.0.0.1";
    this.#exposure = opts.exposure;
    this.initialClients = opts.clients ?? 3;
    if (
      !Number.isInteger(this.initialClients) ||
      this.initialClients < 1 ||
      this.initialClients > MAX_CLIENTS
    ) {
      throw new RangeError(`${opts.what} must be 1..${MAX_CLIENTS}, got ${this.initialClients}`);
    }
    this.maxLogLines = opts.maxLogLines;
    const common: SceneServerView = { host: this.host, port: opts.port ?? 0, status: "starting", log: [] };
    this.#store = new SnapshotStore({
      scene,
      server: { ...common, ...server },
      clients: [],
    } as SceneSnapshot as Snap);
  }

  getSnapshot = (): Snap => this.#store.getSnapshot();

  subscribe = (listener: () => void): (() => void) => this.#store.subscribe(listener);

  /** Closes the server and listens again on the same port; a second call while one runs joins it. */
  restartServer(): Promise<void> {
    this.#restarting ??= this.restart().finally(() => {
      this.#restarting = undefined;
    });
    return this.#restarting;
  }

  /** Closes every client and the server, and publishes the final snapshot. Safe to call twice. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.#timer);
    await this.#restarting?.catch(() => {});
    await this.stop();
    this.#patchCommon({ status: "stopped" });
    this.#store.flush();
  }

  /** Closes the server (the scene's own way) and listens again; `restartServer` calls it once at a time. */
  protected abstract restart(): Promise<void>;

  /** Closes every client and the server, for `close`. */
  protected abstract stop(): Promise<void>;

  protected get server(): Snap["server"] {
    return this.#store.getSnapshot().server;
  }

  protected patchServer(patch: Partial<Snap["server"]>): void {
    this.#store.patch({ server: { ...this.server, ...patch } } as Partial<Snap>);
  }

  protected serverLine(kind: LineKind, text: string): void {
    const log = appendLine(this.server.log, ++this.#serverSeq, kind, text, this.maxLogLines);
    this.#patchCommon({ log });
  }

  /**
   * After the listening line: the warning {@link SceneExposureOptions.exposure} gives for the
   * address bound, if any, in the server log and flagged in the title line, which every window
   * size shows (a short log pane may not have room for it; stderr would vanish behind the screen).
   */
  protected noteExposure(host: string): void {
    const warning = this.#exposure?.(host);
    this.#patchCommon({ exposure: warning });
    if (warning !== undefined) this.serverLine("warn", `warning: ${warning}`);
  }

  /** Adds a client pane; its id is its place, from 1. */
  protected addSlot(slot: Slot): number {
    this.slots.push(slot);
    this.#publishClients();
    return this.slots.length;
  }

  protected updateSlot(slot: Slot, patch: Partial<Slot["view"]>): void {
    slot.view = { ...slot.view, ...patch };
    this.#publishClients();
  }

  /** Whether another client fits (at most {@link MAX_CLIENTS}); says so in the server log when not. */
  protected hasRoomFor(what: string): boolean {
    if (this.slots.length < MAX_CLIENTS) return true;
    this.serverLine("error", `the demo shows at most ${MAX_CLIENTS} ${what}`);
    return false;
  }

  /** Calls `tick` every `ms` until `close` (the stats refresh). */
  protected every(ms: number, tick: () => void): void {
    this.#timer = setInterval(tick, ms);
    this.#timer.unref();
  }

  /**
   * Makes a server with `create` and listens; resolves with it and what its `listen` resolved with.
   * A restart can race the old socket's close on some systems, so there an address still in use
   * (the error's `code`) is tried again a few times; the first start is not retried, as a port fixed
   * with `--port` that is taken is someone else's. Any other failure marks the server stopped, logs
   * it and throws.
   */
  protected async listenWithRetries<S extends Listener>(
    create: () => S,
  ): Promise<{ server: S; listened: Awaited<ReturnType<S["listen"]>> }> {
    for (let attempt = 0; ; attempt++) {
      const server = create();
      try {
        const listened = (await server.listen()) as Awaited<ReturnType<S["listen"]>>;
        this.#hasListened = true;
        return { server, listened };
      } catch (err) {
        server.removeAllListeners();
        if (!this.#hasListened || !isAddressInUse(err) || attempt >= LISTEN_RETRIES) {
          this.#patchCommon({ status: "stopped" });
          this.serverLine("error", errorText(err));
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  /** A change to the fields every server view has (the one place the generic type needs a cast). */
  #patchCommon(patch: Partial<SceneServerView>): void {
    this.patchServer(patch as Partial<Snap["server"]>);
  }

  #publishClients(): void {
    const clients: SceneSnapshot["clients"] = this.slots.map((s) => s.view);
    this.#store.patch({ clients } as Partial<SceneSnapshot> as Partial<Snap>);
  }
}

/** `lines` with one more at the end, the oldest dropped beyond `max`. */
export function appendLine(
  lines: readonly LogLine[],
  seq: number,
  kind: LineKind,
  text: string,
  max: number,
): LogLine[] {
  return [...lines, { seq, at: Date.now(), kind, text }].slice(-max);
}

/** Whether a listen failed because the address is taken: netlab's code, or Node's own errno. */
function isAddressInUse(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "ADDRESS_IN_USE" || code === "EADDRINUSE";
}

/** One line for any error: a netlab error's message, or the best we can say. */
export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.name;
  return String(err);
}
