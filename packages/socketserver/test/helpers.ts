import net from "node:net";
import { onTestFinished } from "vitest";
import { type BaseServer, type HandlerClass, type ServerOptions, TCPServer } from "../src/index.js";

type ServerClass<S extends BaseServer> = new (options: ServerOptions, Handler: HandlerClass) => S;

/** Starts `Server` on 127.0.0.1:0 serving `Handler`; shut down when the test finishes. */
export async function serve<S extends BaseServer = TCPServer>(
  Handler: HandlerClass,
  options: ServerOptions = {},
  Server: ServerClass<S> = TCPServer as unknown as ServerClass<S>,
): Promise<{ server: S; port: number; serving: Promise<void> }> {
  const server = new Server({ host: "127.0.0.1", port: 0, ...options }, Handler);
  await server.listen();
  const serving = server.serveForever();
  onTestFinished(() => server.shutdown());
  return { server, port: server.address.port, serving };
}

/** A promise and the function that resolves it: for a handler to say it reached a point, or to wait for a gate. */
export function latch(): [Promise<void>, () => void] {
  let open!: () => void;
  const reached = new Promise<void>((resolve) => {
    open = resolve;
  });
  return [reached, open];
}

/** Rejects after `ms` with `what` in the message; for bounding every wait in a test. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** A line-oriented test client over a real socket. Destroyed when the test finishes. */
export class LineClient {
  readonly socket: net.Socket;
  #buffer = "";
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #isEnded = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      this.#buffer += d;
      let nl = this.#buffer.indexOf("\n");
      while (nl !== -1) {
        this.#lines.push(this.#buffer.slice(0, nl));
        this.#buffer = this.#buffer.slice(nl + 1);
        nl = this.#buffer.indexOf("\n");
      }
      this.#wake();
    });
    socket.on("end", () => {
      this.#isEnded = true;
      this.#wake();
    });
    socket.on("error", () => {
      this.#isEnded = true;
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    onTestFinished(() => {
      socket.destroy();
    });
  }

  static async open(port: number, host = "127.0.0.1"): Promise<LineClient> {
    const socket = net.connect({ host, port });
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      5_000,
      `connect to ${port}`,
    );
    return new LineClient(socket);
  }

  static fromSocket(socket: net.Socket): LineClient {
    return new LineClient(socket);
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** The next line, or undefined at EOF; rejects after `timeoutMs` without consuming a later line. */
  async readLine(timeoutMs = 5_000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.#lines.shift();
      if (line !== undefined) return line;
      if (this.#isEnded) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for a line from the server`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.push(done);
      });
    }
  }

  /** Everything until EOF. */
  async readAll(timeoutMs = 5_000): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const line = await this.readLine(timeoutMs);
      if (line === undefined) return out;
      out.push(line);
    }
    return out;
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
}
