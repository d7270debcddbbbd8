import type { Socket } from "node:net";
import { connect, NetworkError, toNetworkError } from "@netlab/socketserver";
import { type ClientTlsOptions, connectTls, TlsError } from "@netlab/tls";
import { CLIENT_DEFAULTS, TRANSFER_ALPN } from "./client-options.js";

/**
 * Connects for a client, with errors that say what to do: refused (is the server running?) or no
 * answer within `connectTimeoutMs` (default 10 000).
 */
export async function dial(opts: {
  host: string;
  port: number;
  /** A Unix socket path instead of host and port. */
  path?: string;
  family?: 0 | 4 | 6;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  /** The server to suggest starting, e.g. "'lab files'". */
  what: string;
  /** How to start it, e.g. "lab files DIR --port 5002". */
  start: string;
  /** Speak TLS: the server is trusted before this resolves. */
  tls?: ClientTlsOptions;
}): Promise<Socket> {
  const timeoutMs = opts.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
  try {
    if (opts.tls) return await dialTls(opts, opts.tls, timeoutMs);
    const { host, port, path, family, signal } = opts;
    return await connect({ host, port, path, family, timeoutMs, signal });
  } catch (err) {
    if (err instanceof NetworkError && err.code === "CONNECTION_REFUSED") {
      throw new NetworkError(err.code, `${err.message} (is ${opts.what} running?)`, {
        hint: `start it with '${opts.start}', or pass the right address`,
        cause: err.cause,
      });
    }
    if (err instanceof NetworkError && err.code === "CONNECT_TIMEOUT") {
      throw new NetworkError(err.code, `${err.message} (no answer in ${timeoutMs / 1000} s)`, {
        hint: "check the address (a firewall may drop the packets), or raise --connect-timeout",
        cause: err.cause,
      });
    }
    throw err;
  }
}

/** A TLS connection whose server is trusted; nothing is sent before that. */
async function dialTls(
  opts: { host: string; port: number; signal?: AbortSignal },
  tls: ClientTlsOptions,
  timeoutMs: number,
): Promise<Socket> {
  const { host, port } = opts;
  try {
    opts.signal?.throwIfAborted();
    const { socket, peer } = await connectTls({
      host,
      port,
      trust: tls.trust,
      handshakeTimeoutMs: tls.handshakeTimeoutMs ?? timeoutMs,
      alpnProtocols: [TRANSFER_ALPN],
    });
    if (opts.signal?.aborted) {
      socket.destroy();
      opts.signal.throwIfAborted();
    }
    tls.onPeer?.(peer);
    return socket;
  } catch (err) {
    if (err instanceof TlsError) throw err;
    throw toNetworkError(err, { action: "connect", host, port });
  }
}
