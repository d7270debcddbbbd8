import net from "node:net";
import { onTestFinished } from "vitest";

/** A raw TCP line client for tests: what `nc` would see, with waits that time out. */
export interface LineClient {
  readonly socket: net.Socket;
  /** Every complete line received so far. */
  readonly lines: string[];
  send(line: string): void;
  /** Resolves with the first line (from the start, or from `from`) that matches; rejects after `timeoutMs`. */
  waitFor(pattern: string | RegExp, opts?: { timeoutMs?: number; from?: number }): Promise<string>;
  /** Resolves when `predicate(lines)` holds. */
  waitUntil(predicate: (lines: string[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves when the server closes the connection. */
  readonly closed: Promise<void>;
  close(): void;
}

/** Connects to 127.0.0.1:`port`; destroyed when the test finishes. */
export async function lineClient(port: number, opts: { timeoutMs?: number } = {}): Promise<LineClient> {
  const socket = net.connect({ host: "127.0.0.1", port, noDelay: true });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  onTestFinished(() => {
    socket.destroy();
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let rest = "";
  let isClosed = false;
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop() ?? "";
    for (const p of parts) lines.push(p.endsWith("\r") ? p.slice(0, -1) : p);
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<void>((resolve) => {
    socket.on("close", () => {
      isClosed = true;
      for (const w of [...waiters]) w();
      resolve();
    });
  });
  const defaultTimeout = opts.timeoutMs ?? 5_000;
  const waitUntil = (predicate: (l: string[]) => boolean, what: string, timeoutMs = defaultTimeout) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate(lines)) {
          done();
          resolve();
        } else if (isClosed) {
          done();
          reject(new Error(`connection closed before ${what}; got:\n${lines.join("\n")}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got:\n${lines.join("\n")}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    socket,
    lines,
    send: (line) => {
      socket.write(`${line}\n`);
    },
    async waitFor(pattern, { timeoutMs = defaultTimeout, from = 0 } = {}) {
      const matches = (l: string) => (typeof pattern === "string" ? l.includes(pattern) : pattern.test(l));
      let found = "";
      await waitUntil(
        (ls) => {
          const hit = ls.slice(from).find(matches);
          if (hit !== undefined) found = hit;
          return hit !== undefined;
        },
        String(pattern),
        timeoutMs,
      );
      return found;
    },
    waitUntil,
    closed,
    close: () => socket.end(),
  };
}
