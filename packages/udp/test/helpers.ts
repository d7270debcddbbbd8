import { onTestFinished } from "vitest";

/** Anything with the socketserver lifecycle: listen, serve until shut down. */
interface Serving {
  listen(): Promise<unknown>;
  serveForever(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Listens, serves in the background, and shuts `server` down (and waits for it) when the test ends. */
export async function serveUntilTestEnds<S extends Serving>(server: S): Promise<S> {
  await server.listen();
  const serving = server.serveForever();
  onTestFinished(async () => {
    await server.shutdown();
    await serving;
  });
  return server;
}
