import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Answers one path; `body` is the whole request body, read before the route runs. */
export type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/** A local HTTP server for tests, bound to 127.0.0.1 on a free port. */
export interface RouteServer {
  readonly server: Server;
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly base: string;
  /** Drops every open connection (a route may never answer) and closes the server. */
  close(): Promise<void>;
}

/**
 * Serves `routes` by path (query ignored); any other path gets 404.
 * @example const http = await startRouteServer({ "/hello": (_req, res) => res.end("hi") });
 */
export async function startRouteServer(routes: Record<string, Route>): Promise<RouteServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const route = routes[new URL(req.url ?? "/", "http://x").pathname];
      if (route) route(req, res, Buffer.concat(chunks));
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    base: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
