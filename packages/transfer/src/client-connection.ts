import type { Socket } from "node:net";
import { type TransferWireEvent, transferChannel } from "./channel.js";
import { CLIENT_DEFAULTS, type ClientOptions, type Progress, type ResumeInfo } from "./client-options.js";
import { isTransferErrorCode, RemoteTransferError, TransferError } from "./errors.js";
import type { Header, HeaderOf } from "./header.js";
import type { StreamOptions } from "./stream.js";
import { SocketWire } from "./wire.js";

/** The client options one connection uses: its stream, signal, limits and token. */
export type ConnectionOptions = Pick<
  ClientOptions,
  | "stream"
  | "signal"
  | "stallTimeoutMs"
  | "headerTimeoutMs"
  | "minBytesPerSecond"
  | "lowSpeedTimeMs"
  | "token"
>;

/**
 * The client's side of one connection, shared by upload, download and list: the wire, the stream
 * options and abort signal, the checks every reply from the server passes, and progress reports.
 */
export class ClientConnection {
  readonly wire: SocketWire;
  readonly stream: StreamOptions;
  readonly signal: AbortSignal | undefined;
  readonly #onProgress: (progress: Progress) => void;
  /** Told when an upload meets a partial file on the server (continued or replaced). */
  readonly onResume: (info: ResumeInfo) => void;
  /** Sent with the first request only: the server checks it once per connection. */
  #token: string | undefined;

  constructor(
    socket: Socket,
    options: ConnectionOptions,
    onProgress: (progress: Progress) => void,
    onResume: (info: ResumeInfo) => void = () => {},
  ) {
    this.wire = new SocketWire(socket, {
      peer: "the server",
      stallTimeoutMs: options.stallTimeoutMs ?? CLIENT_DEFAULTS.stallTimeoutMs,
      headerTimeoutMs: options.headerTimeoutMs ?? CLIENT_DEFAULTS.headerTimeoutMs,
      minBytesPerSecond: options.minBytesPerSecond ?? CLIENT_DEFAULTS.minBytesPerSecond,
      lowSpeedTimeMs: options.lowSpeedTimeMs ?? CLIENT_DEFAULTS.lowSpeedTimeMs,
      signal: options.signal,
    });
    this.stream = options.stream ?? {};
    this.signal = options.signal;
    this.#onProgress = onProgress;
    this.onResume = onResume;
    this.#token = options.token;
  }

  /** The token field of the next request header: the token on the first request, then nothing. */
  auth(): { token?: string } {
    const token = this.#token;
    this.#token = undefined;
    return token === undefined ? {} : { token };
  }

  /** The next header, which must be one of `ops`; an `error` header is thrown as its TransferError. */
  async reply<K extends Header["op"]>(...ops: K[]): Promise<HeaderOf<K>> {
    const h = await this.readHeader();
    if (h === undefined) {
      throw new TransferError("CONNECTION_LOST", "the server closed the connection", {
        hint: "check the 'lab files' window for the reason",
      });
    }
    return this.expect(h, ops);
  }

  /**
   * The next header from the server. One that fails its schema (an impossible size or time, a
   * malformed checksum) ends the connection: nothing after it can be trusted to line up.
   */
  async readHeader(): Promise<Header | undefined> {
    try {
      return await this.wire.readHeader();
    } catch (err) {
      if (!(err instanceof TransferError) || err.code !== "BAD_REQUEST") throw err;
      this.wire.destroy();
      throw new TransferError("BAD_REQUEST", `the server sent a ${err.message}`, {
        hint: "is that a 'lab files' server (of this version)? check --host and --port",
        cause: err,
      });
    }
  }

  expect<K extends Header["op"]>(h: Header, ops: K[]): HeaderOf<K> {
    if (h.op === "error") throw remoteError(h);
    if (!(ops as string[]).includes(h.op)) {
      this.wire.destroy();
      throw new TransferError(
        "BAD_REQUEST",
        `unexpected '${h.op}' header from the server (expected ${ops.join(" or ")})`,
        { hint: "is that a 'lab files' server (of this version)? check --host and --port" },
      );
    }
    return h as HeaderOf<K>;
  }

  /** Reports the start of a transfer; returns the callback that reports each step after it. */
  progress(
    direction: Progress["direction"],
    name: string,
    totalBytes: number,
    offset: number,
    started: number,
  ) {
    const op = direction === "upload" ? "put" : "get";
    if (transferChannel.hasSubscribers) {
      transferChannel.publish({
        type: "start",
        side: "client",
        op,
        name,
        size: totalBytes,
        offset,
      } satisfies TransferWireEvent);
    }
    this.#onProgress({
      direction,
      name,
      bytesDone: offset,
      totalBytes,
      offset,
      elapsedMs: performance.now() - started,
    });
    return (bytesDone: number) => {
      if (transferChannel.hasSubscribers) {
        const e: TransferWireEvent = { type: "progress", side: "client", op, name, bytesDone, totalBytes };
        transferChannel.publish(e);
        if (bytesDone === totalBytes) {
          const seconds = (performance.now() - started) / 1000;
          const transferredBytes = totalBytes - offset;
          transferChannel.publish({
            type: "done",
            side: "client",
            op,
            name,
            size: totalBytes,
            transferredBytes,
            seconds,
          } satisfies TransferWireEvent);
        }
      }
      this.#onProgress({
        direction,
        name,
        bytesDone,
        totalBytes,
        offset,
        elapsedMs: performance.now() - started,
      });
    };
  }
}

/**
 * An `error` header as the TransferError it names. Its text is the server's: cut to
 * `maxRemoteTextChars` here (a 64 KiB "message" is no message), escaped where it is shown.
 */
export function remoteError(h: HeaderOf<"error">): RemoteTransferError {
  const code = isTransferErrorCode(h.code) ? h.code : "IO_ERROR";
  const message = cut(h.message.trim()) || `the server reported ${code} without saying why`;
  const hint = h.hint === undefined ? undefined : cut(h.hint.trim()) || undefined;
  return new RemoteTransferError(code, message, { hint });
}

function cut(text: string): string {
  const max = CLIENT_DEFAULTS.maxRemoteTextChars;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What `p` settles to, or undefined once `ms` pass first (`p` is left running). */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
