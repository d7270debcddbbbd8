// A recording made with the default redaction holds stars where the chat's secrets were, and a
// replay sends what it holds: a server with a token file refuses `/auth ****`. These find the
// masked secrets on the side a replay sends and, given a token, put it back in their place.
import { AUTH_SECRET_FIELD, restoreMaskedSecrets } from "@netlab/protocol";
import type { SessionRecord } from "./schema.js";

type DataRecord = Extract<SessionRecord, { type: "data" }>;

import type { Session } from "./session.js";

/** What {@link restoreSessionSecrets} found and did. */
export interface SessionSecrets {
  /** The session with the restored secrets in its data records (the same object when none was). */
  session: Session;
  /** Masked secrets in the bytes `side` sent, by kind: `/auth` tokens, JSON `token` and `reclaim` values. */
  masked: { auth: number; token: number; reclaim: number };
  /** How many of them now hold the token. */
  restored: number;
}

/**
 * Finds the masked secrets (values of `*` only, see `restoreMaskedSecrets` in @netlab/protocol) in
 * what `side` sent on each connection of `session`, and with `token`, puts it in place of each
 * masked `/auth` token and JSON `token` value. Masked `reclaim` values stay (a reclaim token is
 * granted once; no value could stand in for it). Lengths change; record boundaries stay.
 * @example const { session, masked } = restoreSessionSecrets(await readSession("c.jsonl"), { side: "client", token });
 */
export function restoreSessionSecrets(
  session: Session,
  options: { side: "client" | "server"; token?: string },
): SessionSecrets {
  const values: Record<string, string> =
    options.token === undefined ? {} : { [AUTH_SECRET_FIELD]: options.token, token: options.token };
  const byConn = new Map<number, number[]>();
  for (const [i, r] of session.records.entries()) {
    if (r.type !== "data" || r.from !== options.side) continue;
    const list = byConn.get(r.conn) ?? [];
    list.push(i);
    byConn.set(r.conn, list);
  }
  const masked = { auth: 0, token: 0, reclaim: 0 };
  let restored = 0;
  let records: SessionRecord[] | undefined;
  for (const indexes of byConn.values()) {
    const chunks = indexes.map((i) => Buffer.from((session.records[i] as DataRecord).b64, "base64"));
    const r = restoreMaskedSecrets(chunks, values);
    masked.auth += r.masked.get(AUTH_SECRET_FIELD) ?? 0;
    masked.token += r.masked.get("token") ?? 0;
    masked.reclaim += r.masked.get("reclaim") ?? 0;
    if (r.restored === 0) continue;
    restored += r.restored;
    records ??= [...session.records];
    for (const [k, i] of indexes.entries()) {
      if (r.chunks[k] === chunks[k]) continue;
      records[i] = { ...(records[i] as DataRecord), b64: Buffer.from(r.chunks[k]!).toString("base64") };
    }
  }
  return { session: records ? { ...session, records } : session, masked, restored };
}
