import { lstatSync } from "node:fs";
import net from "node:net";
import { formatSocketPath } from "@netlab/core";
import { NetworkError, requireInt, requireMs, toNetworkError } from "./errors.js";
import { isWireWatched, tapOpen } from "./tap.js";

/** Options for {@link connect}. */
export interface ConnectOptions {
  /** Default "127.0.0.1". */
  host?: string;
  port?: number;
  /** A Unix socket path, instead of host and port (a leading NUL: a Linux abstract socket). */
  path?: string;
  /** Resolve the host to IPv4 only (4) or IPv6 only (6). Default 0: either. */
  family?: 0 | 4 | 6;
  /** Give up after this many ms (TIMEOUT). Default 10 000. */
  timeoutMs?: number;
  /** Aborting it cancels the attempt (ABORTED). */
  signal?: AbortSignal;
  /** TCP_NODELAY. Default true. */
  noDelay?: boolean;
  /** Replaces the default hint of the error. */
  hint?: string;
  /** Publish the connection on the tap (watched commands). Default true; false for a probe that is no part of the session. */
  tap?: boolean;
}

/**
 * Connects, resolving with the socket once connected, or rejects with a NetworkError that says what
 * happened in one line (`cannot connect to 127.0.0.1:5001: connection refused`).
 * @example const socket = await connect({ port: 5001, timeoutMs: 2_000 });
 */
export function connect(opts: ConnectOptions): Promise<net.Socket> {
  const {
    host = "127.0.0.1",
    port = 0,
    path,
    family = 0,
    timeoutMs = 10_000,
    signal,
    noDelay = true,
    hint,
    tap = true,
  } = opts;
  const context = path
    ? { action: "connect" as const, path, hint }
    : { action: "connect" as const, host, port, hint };
  try {
    // Node would throw its own RangeError (or, for port 0, try and be refused).
    if (path === undefined) requireInt("port", port, { min: 1, max: 65_535 });
    requireMs("timeoutMs", timeoutMs);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(toNetworkError(Object.assign(new Error("aborted"), { name: "AbortError" }), context));
      return;
    }
    const socket = path ? net.connect({ path }) : net.connect({ host, port, noDelay, family });
    let timer: NodeJS.Timeout | undefined;
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    };
    const fail = (err: NetworkError) => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: Error) =>
      fail(path !== undefined && isNotSocket(path) ? notSocket(path, err) : toNetworkError(err, context));
    const onAbort = () =>
      fail(toNetworkError(Object.assign(new Error("aborted"), { name: "AbortError" }), context));
    const onConnect = () => {
      cleanup();
      if (noDelay && !path) socket.setNoDelay(true);
      if (tap && isWireWatched()) tapOpen(socket, "client");
      resolve(socket);
    };
    socket.once("error", onError);
    socket.once("connect", onConnect);
    signal?.addEventListener("abort", onAbort, { once: true });
    if (Number.isFinite(timeoutMs)) {
      timer = setTimeout(
        () => fail(toNetworkError(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }), context)),
        timeoutMs,
      );
    }
  });
}

/** Whether a file-system socket path names something that is there but is not a socket. */
function isNotSocket(path: string): boolean {
  if (path.startsWith("\0")) return false;
  try {
    return !lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The kernel answers a connect to a regular file with ECONNREFUSED, as if a server had stopped. */
function notSocket(path: string, cause: Error): NetworkError {
  return new NetworkError(
    "NO_SUCH_SOCKET",
    `cannot connect to ${formatSocketPath(path)}: it is a file, not a socket`,
    {
      hint: "check the path: a server's socket is the one its 'listening on unix:…' line names",
      cause,
    },
  );
}
