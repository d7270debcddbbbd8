import type net from "node:net";
import { afterEach } from "vitest";

/** What a test opened, undone after it, newest first: clients, then the proxy, then the servers. */
export const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Listens on a free port of 127.0.0.1 until the test ends; resolves with the port. */
export async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as net.AddressInfo).port;
}
