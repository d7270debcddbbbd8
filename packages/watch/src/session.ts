import { readFile, stat } from "node:fs/promises";
import { formatBytes } from "@netlab/core";
import { WatchError } from "./errors.js";
import {
  SESSION_VERSION,
  type SessionHeader,
  type SessionRecord,
  sessionHeaderSchema,
  sessionRecordSchema,
} from "./schema.js";

/** A session recording, read and checked. */
export interface Session {
  header: SessionHeader;
  records: SessionRecord[];
  /** Things worth saying that did not stop the read (a truncated last line). */
  warnings: string[];
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Largest recording {@link readSession} reads by default, bytes (256 MiB): it is read whole. */
export const SESSION_MAX_BYTES = 256 * 1024 * 1024;

/** Options for {@link readSession}. */
export interface ReadSessionOptions {
  /** Largest file read, bytes; a larger one is TOO_LARGE before a byte is read. Default {@link SESSION_MAX_BYTES}. */
  maxBytes?: number;
}

/**
 * Reads a session recording (`--record FILE`). Throws WatchError NOT_A_SESSION, UNKNOWN_VERSION,
 * BAD_RECORD (with the line number), FILE_ERROR or TOO_LARGE (a file over `maxBytes`); a last line
 * cut short (no newline, not JSON) is left out with a warning, as a recorder killed mid-write leaves it.
 * @example const { records } = await readSession("chat.session.jsonl");
 */
export async function readSession(path: string, options: ReadSessionOptions = {}): Promise<Session> {
  const maxBytes = options.maxBytes ?? SESSION_MAX_BYTES;
  let text: string;
  try {
    const { size } = await stat(path);
    if (size > maxBytes) {
      throw new WatchError(
        "TOO_LARGE",
        `${path} is ${formatBytes(size)}, over the ${formatBytes(maxBytes)} a recording may be`,
        { hint: "record a shorter session, or split it (one connection's lines and the header per file)" },
      );
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof WatchError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "no such file"
        : code === "EACCES"
          ? "permission denied"
          : code === "EISDIR"
            ? "it is a folder"
            : (err as Error).message;
    throw new WatchError("FILE_ERROR", `cannot read ${path}: ${why}`, {
      hint: "give the file a --record FILE wrote",
      cause: err,
    });
  }
  return parseSession(text, path);
}

/** {@link readSession} on text already read; `name` is used in messages. */
export function parseSession(text: string, name = "session"): Session {
  const lines = text.split("\n");
  const endsClean = text.endsWith("\n");
  if (endsClean) lines.pop();
  const notSession = () =>
    new WatchError("NOT_A_SESSION", `${name} is not a netlab session (line 1 is not a session header)`, {
      hint: "record one with 'lab server --record FILE' or 'lab client --record FILE'",
    });
  let first: unknown;
  try {
    first = JSON.parse(lines[0] ?? "");
  } catch {
    throw notSession();
  }
  if (typeof first !== "object" || first === null || (first as { netlab?: unknown }).netlab !== "session")
    throw notSession();
  const v = (first as { v?: unknown }).v;
  if (v !== SESSION_VERSION) {
    throw new WatchError(
      "UNKNOWN_VERSION",
      // v is anything an edited file holds (a nested array deep enough to overflow JSON.stringify).
      `${name}: record version ${typeof v === "number" ? v : `of type ${Array.isArray(v) ? "array" : typeof v}`} is not supported (this lab reads version ${SESSION_VERSION})`,
      {
        hint: "replay it with the lab version that recorded it",
      },
    );
  }
  const header = sessionHeaderSchema.safeParse(first);
  if (!header.success) throw badLine(name, 1, header.error.issues[0]?.message ?? "bad header");
  const records: SessionRecord[] = [];
  const warnings: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!;
    const isLast = i === lines.length - 1;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      if (isLast && !endsClean) {
        warnings.push(`${name}: line ${lineNo} is truncated; using the ${records.length} records before it`);
        break;
      }
      throw badLine(name, lineNo, "not JSON");
    }
    const b64 = (json as { b64?: unknown }).b64;
    if (typeof b64 === "string" && (b64.length % 4 !== 0 || !BASE64.test(b64))) {
      throw badLine(name, lineNo, "invalid base64 in b64");
    }
    const parsed = sessionRecordSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw badLine(name, lineNo, `${issue?.path.join(".") || "record"}: ${issue?.message ?? "invalid"}`);
    }
    records.push(parsed.data);
  }
  return { header: header.data, records, warnings };
}

function badLine(name: string, lineNo: number, why: string): WatchError {
  return new WatchError("BAD_RECORD", `${name} line ${lineNo}: ${why}`, {
    hint: "the file was edited or damaged; record the session again",
  });
}

/** Each connection's bytes, per direction, in order: what a pcap export and a replay need. */
export interface SessionConnection {
  id: number;
  client: string;
  server: string;
  transport: string;
  fromClient: Buffer[];
  fromServer: Buffer[];
}

/** The connections of a session with their bytes (TCP and Unix only). */
export function connectionsOf(session: Session): SessionConnection[] {
  const byId = new Map<number, SessionConnection>();
  for (const r of session.records) {
    if (r.type === "open") {
      byId.set(r.conn, {
        id: r.conn,
        client: r.client,
        server: r.server,
        transport: r.transport,
        fromClient: [],
        fromServer: [],
      });
    } else if (r.type === "data") {
      const c = byId.get(r.conn);
      if (!c) continue;
      (r.from === "client" ? c.fromClient : c.fromServer).push(Buffer.from(r.b64, "base64"));
    }
  }
  return [...byId.values()];
}
