import net from "node:net";
import { NetlabError } from "@netlab/protocol";

/** Options for {@link dial}. */
export interface DialOptions {
  host: string;
  port: number;
  timeoutMs: number;
  hint?: string;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ENOTFOUND: "host not found",
  EADDRNOTAVAIL: "address not available",
};

const CODES: Record<string, string> = {
  ECONNREFUSED: "CONNECTION_REFUSED",
  ECONNRESET: "CONNECTION_RESET",
  ETIMEDOUT: "TIMEOUT",
  EHOSTUNREACH: "HOST_UNREACHABLE",
  ENETUNREACH: "HOST_UNREACHABLE",
  ENOTFOUND: "NOT_FOUND",
  EADDRNOTAVAIL: "ADDRESS_NOT_AVAILABLE",
};

/**
 * Opens a TCP connection with Nagle off, or rejects with a NetlabError whose message says what
 * happened in one line (`cannot connect to 127.0.0.1:5001: connection refused`), coded as
 * `@netlab/socketserver`'s NetworkError is.
 */
export function dial(opts: DialOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: opts.host, port: opts.port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      fail(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" }));
    }, opts.timeoutMs);
    const fail = (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const errno = err.code ?? "";
      const reason = REASONS[errno] ?? err.message;
      reject(
        new NetlabError(CODES[errno] ?? "UNKNOWN", `cannot connect to ${opts.host}:${opts.port}: ${reason}`, {
          hint: opts.hint,
          cause: err,
        }),
      );
    };
    socket.once("error", fail);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", fail);
      resolve(socket);
    });
  });
}
