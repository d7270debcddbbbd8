import { lstatSync, unlinkSync } from "node:fs";
import net from "node:net";

/**
 * A Unix socket file nobody is bound to any more (left by a server that died). Probed with a
 * stream connect, which sends nothing: a live stream server accepts, a bound datagram socket
 * answers EPROTOTYPE, an orphaned file ECONNREFUSED. Only that last one is stale.
 */
export async function isStaleSocket(path: string): Promise<boolean> {
  try {
    if (!lstatSync(path).isSocket()) return false;
  } catch {
    return false;
  }
  return new Promise((resolve) => {
    const probe = net.connect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(false);
    });
    probe.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** Removes the socket file at `path`, if there is one. */
export function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Already gone: what we wanted.
  }
}
