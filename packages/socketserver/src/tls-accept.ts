import type net from "node:net";
import tls from "node:tls";
import { TLS_PLAINTEXT_REPLY } from "@netlab/core";
import { NetworkError, requireMs } from "./errors.js";

/** What a TCP server needs to speak TLS (`ServerOptions.tls`). */
export interface ServerTlsOptions {
  /** The certificate (chain), PEM. */
  cert: string | Buffer;
  /** Its private key, PEM, unencrypted. */
  key: string | Buffer;
  /**
   * ALPN protocols the server speaks, such as `["netlab-chat/1"]`. A client offering none (ncat,
   * socat, `openssl s_client`) is served; one offering only others gets the standard
   * `no_application_protocol` alert (RFC 7301). Default: no ALPN.
   */
  alpnProtocols?: string[];
  /** Longest a connection may take from accept to a finished handshake, in ms. Default 10 000 (Node's own is 120 s). */
  handshakeTimeoutMs?: number;
  /**
   * The line a plaintext client (first byte not a TLS handshake record, or no byte at all within
   * `handshakeTimeoutMs`) gets before it is closed.
   * Default {@link TLS_DEFAULTS}.plaintextReply. Start it with `TLS_PLAINTEXT_REPLY` (@netlab/core):
   * that is how netlab clients tell it from a protocol they speak.
   */
  plaintextReply?: string;
}

/** Defaults of {@link ServerTlsOptions}. */
export const TLS_DEFAULTS = {
  handshakeTimeoutMs: 10_000,
  plaintextReply: `${TLS_PLAINTEXT_REPLY}; try: lab client --tls HOST PORT\n`,
};

/** The first byte of every TLS record that starts a handshake (ContentType handshake, RFC 8446 §5.1). */
export const TLS_HANDSHAKE_BYTE = 0x16;

/** How long a plaintext client may take to read the reply before its socket is destroyed, in ms. */
const PLAINTEXT_LINGER_MS = 1_000;

/** Why a connection never reached its handler: for the server's `tlsError` event. */
export interface TlsRefusal {
  /**
   * `plaintext`: the client spoke first, not TLS; `handshake`: the handshake failed (an alert, a
   * reset); `timeout`: not done within handshakeTimeoutMs; `evicted`: the oldest of `maxPending`
   * unfinished handshakes, closed to make room for a new connection.
   */
  reason: "plaintext" | "handshake" | "timeout" | "evicted";
  /** What went wrong, one line. */
  message: string;
}

/**
 * Turns accepted raw sockets into TLS sockets: peeks the first byte (a TLS client always speaks
 * first), answers a plaintext one with one readable line, and hands a socket on only once its
 * handshake completed within `handshakeTimeoutMs`. At most `maxPending` handshakes are under way
 * at once; past that, the oldest is closed to make room (a flood of half-open handshakes costs no
 * more than that many sockets, and a real client, whose handshake takes milliseconds, still gets
 * in: refusing the newcomer instead would lock everyone out for `handshakeTimeoutMs`).
 */
export class TlsAcceptor {
  readonly #context: tls.SecureContext;
  readonly #alpn: string[] | undefined;
  readonly #timeoutMs: number;
  readonly #plaintextReply: string;
  readonly #maxPending: number;
  /** The unfinished handshakes, oldest first, each with what closes it to make room. */
  readonly #pending = new Map<net.Socket, () => void>();

  constructor(options: ServerTlsOptions, maxPending: number) {
    this.#timeoutMs = options.handshakeTimeoutMs ?? TLS_DEFAULTS.handshakeTimeoutMs;
    requireMs("tls.handshakeTimeoutMs", this.#timeoutMs);
    this.#plaintextReply = options.plaintextReply ?? TLS_DEFAULTS.plaintextReply;
    this.#alpn = options.alpnProtocols;
    this.#maxPending = maxPending;
    try {
      this.#context = tls.createSecureContext({ cert: options.cert, key: options.key });
    } catch (cause) {
      throw new NetworkError(
        "INVALID_OPTION",
        `tls: the certificate or key cannot be used: ${reason(cause)}`,
        {
          hint: "give a PEM certificate and the unencrypted key that belongs to it",
          cause,
        },
      );
    }
  }

  /**
   * Runs the start of one connection: `onSecure` gets the TLS socket once trusted to be TLS and
   * handshaken; `onRefused` says why a socket was closed instead.
   */
  accept(
    socket: net.Socket,
    onSecure: (secure: tls.TLSSocket) => void,
    onRefused: (socket: net.Socket, refusal: TlsRefusal) => void,
  ): void {
    socket.on("error", () => {}); // a reset before or during the handshake is the peer's business
    if (this.#pending.size >= this.#maxPending) this.#pending.values().next().value?.();
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#pending.delete(socket);
      clearTimeout(timer);
      return true;
    };
    this.#pending.set(socket, () => {
      if (!settle()) return;
      socket.destroy();
      onRefused(socket, {
        reason: "evicted",
        message: `handshake not done while ${this.#maxPending} others waited; the oldest was closed`,
      });
    });
    let hasSpoken = false;
    const timer = setTimeout(() => {
      if (!settle()) return;
      if (hasSpoken) socket.destroy();
      else {
        // Silent all along: not a TLS client (those speak first) but one waiting for a banner, as
        // a plaintext chat client does. Tell it what the port speaks before closing.
        socket.end(this.#plaintextReply);
        setTimeout(() => socket.destroy(), PLAINTEXT_LINGER_MS).unref();
      }
      onRefused(socket, {
        reason: "timeout",
        message: `no TLS handshake within ${this.#timeoutMs} ms`,
      });
    }, this.#timeoutMs);
    // The socket keeps the process alive while it is open; the timer alone must not after shutdown.
    timer.unref();
    socket.once("close", () => settle());

    socket.once("data", (first: Buffer) => {
      hasSpoken = true;
      socket.pause();
      if (first[0] !== TLS_HANDSHAKE_BYTE) {
        if (!settle()) return;
        socket.resume(); // drop what else it sends, so closing is a FIN, not a reset eating the line
        socket.end(this.#plaintextReply);
        setTimeout(() => socket.destroy(), PLAINTEXT_LINGER_MS).unref();
        onRefused(socket, { reason: "plaintext", message: "a plaintext client on a TLS port" });
        return;
      }
      // The TLS socket reads what the raw socket already buffered before the handle's next bytes.
      socket.unshift(first);
      const secure = new tls.TLSSocket(socket, {
        isServer: true,
        secureContext: this.#context,
        ...(this.#alpn ? { ALPNProtocols: this.#alpn } : {}),
      });
      const onError = (err: Error): void => {
        if (!settle()) return;
        secure.destroy();
        onRefused(socket, { reason: "handshake", message: `TLS handshake failed: ${reason(err)}` });
      };
      secure.on("error", onError);
      secure.once("secure", () => {
        if (!settle()) return;
        // The handler reports what matters through "close"; an error must not go unheard and crash.
        secure.off("error", onError).on("error", () => {});
        secure.pause();
        onSecure(secure);
      });
    });
    socket.resume();
  }

  /**
   * Closes every unfinished handshake now (the listener is closing): otherwise each would keep its
   * peer connected, and the process alive, for up to `handshakeTimeoutMs` after shutdown.
   */
  closePending(): void {
    for (const socket of [...this.#pending.keys()]) socket.destroy();
  }
}

/** OpenSSL's readable `reason`, else the message. */
function reason(err: unknown): string {
  return (err as { reason?: string }).reason ?? (err instanceof Error ? err.message : String(err));
}
