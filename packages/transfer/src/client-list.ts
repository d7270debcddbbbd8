import type { ClientConnection } from "./client-connection.js";
import { CLIENT_DEFAULTS } from "./client-options.js";
import { TransferError } from "./errors.js";
import type { Entry } from "./header.js";

/** The server's files over `conn`; see {@link TransferClient.list}. */
export async function list(
  conn: ClientConnection,
  maxEntries: number = CLIENT_DEFAULTS.maxListEntries,
  prefix?: string,
): Promise<{ entries: Entry[]; truncated: boolean }> {
  await conn.wire.writeHeader({
    op: "list",
    v: 1,
    ...conn.auth(),
    ...(prefix === undefined ? {} : { prefix }),
  });
  const entries: Entry[] = [];
  for (;;) {
    const h = await conn.reply("entries", "listed");
    if (h.op === "listed") return { entries, truncated: h.truncated };
    if (entries.length + h.entries.length > maxEntries) {
      conn.wire.destroy();
      throw new TransferError("BAD_REQUEST", `the server listed more than ${maxEntries} files`, {
        hint: "is that a 'lab files' server? it caps its listings far below this",
      });
    }
    for (const e of h.entries) entries.push(e);
  }
}
