import { open } from "node:fs/promises";
import { dirname, join } from "node:path";
import { lockFile, makeDirectory, replaceFileAtomically } from "@netlab/core/files";
import { configDir } from "@netlab/tls/paths";

/** Limits of the reclaim-token file. */
export const RECLAIM_STORE_DEFAULTS = {
  /** Entries kept; the oldest are dropped past this. */
  maxEntries: 100,
  /** A larger file is ignored (with a note), never parsed. */
  maxBytes: 64 * 1024,
} as const;

/** One kept token: the server as the client addressed it, the nick's key (nickKey) and when it was granted. */
export interface ReclaimEntry {
  server: string;
  nick: string;
  token: string;
  /** ms since the epoch */
  at: number;
  /** The process that holds the nick: while it runs, its token is not offered (that would take the nick from it). */
  pid?: number;
}

/** `reclaim.json` in netlab's config folder. */
export function defaultReclaimFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "reclaim.json");
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

function isEntry(e: unknown): e is ReclaimEntry {
  const o = e as Partial<ReclaimEntry> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    typeof o.server === "string" &&
    o.server.length <= 300 &&
    typeof o.nick === "string" &&
    o.nick.length <= 64 &&
    typeof o.token === "string" &&
    TOKEN.test(o.token) &&
    typeof o.at === "number" &&
    (o.pid === undefined || Number.isSafeInteger(o.pid))
  );
}

/**
 * Reads the file: a missing one is empty; one too big, unreadable or not what this module writes
 * is empty too, with `problem` saying why (never quoting its text).
 */
export async function readReclaims(
  file: string,
  maxBytes: number = RECLAIM_STORE_DEFAULTS.maxBytes,
): Promise<{ entries: ReclaimEntry[]; problem?: string }> {
  let text: string;
  try {
    const handle = await open(file, "r");
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) return { entries: [], problem: `it is over ${maxBytes} bytes` };
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? { entries: [] } : { entries: [], problem: `cannot read it (${code ?? err})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { entries: [], problem: "it is not JSON" };
  }
  const entries = (parsed as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || !entries.every(isEntry)) {
    return { entries: [], problem: "it is not a list of reclaim entries" };
  }
  return { entries };
}

/**
 * Writes `entries` (the newest `maxEntries` of them) whole to a temporary file (mode 0600, in a
 * 0700 folder) and renames it over `file`: a reader sees the old file or the new, never half.
 */
export async function writeReclaims(
  file: string,
  entries: readonly ReclaimEntry[],
  maxEntries: number = RECLAIM_STORE_DEFAULTS.maxEntries,
): Promise<void> {
  const kept = [...entries].sort((a, b) => b.at - a.at).slice(0, maxEntries);
  await makeDirectory(dirname(file), 0o700);
  await replaceFileAtomically(file, `${JSON.stringify({ entries: kept })}\n`);
}

/**
 * One client's view of the file: the tokens it holds on one server. Changes are written in the
 * order made, each a read-modify-write under the file's lock; a problem with the file is told to `note` once, and
 * never stops the client.
 */
export class ReclaimStore {
  #pending: Promise<void> = Promise.resolve();
  #hasNoted = false;

  constructor(
    readonly file: string,
    readonly server: string,
    readonly note: (text: string) => void,
  ) {}

  /**
   * The token kept for `nickKey` on this server, unless the process that holds the nick still
   * runs: a second client started beside it is not a restart, and must not take the nick from it.
   */
  async token(nickKey: string): Promise<string | undefined> {
    const { entries, problem } = await readReclaims(this.file);
    if (problem !== undefined) this.#tell(`ignoring ${this.file}: ${problem}`);
    const mine = entries.find((e) => this.#isMine(e, nickKey));
    return mine === undefined || isRunning(mine.pid) ? undefined : mine.token;
  }

  /** Keeps `token` for `nickKey`, replacing the one before. */
  put(nickKey: string, token: string): void {
    this.#change((entries) => [
      ...entries.filter((e) => !this.#isMine(e, nickKey)),
      { server: this.server, nick: nickKey, token, at: Date.now(), pid: process.pid },
    ]);
  }

  /** Forgets the token for `nickKey`. */
  drop(nickKey: string): void {
    this.#change((entries) => entries.filter((e) => !this.#isMine(e, nickKey)));
  }

  /** Resolves once every change made so far is on disk (or has failed, with its note). */
  flushed(): Promise<void> {
    return this.#pending;
  }

  #isMine(e: ReclaimEntry, nickKey: string): boolean {
    return e.server === this.server && e.nick === nickKey;
  }

  #change(edit: (entries: ReclaimEntry[]) => ReclaimEntry[]): void {
    this.#pending = this.#pending.then(async () => {
      try {
        // Locked: two clients started at once each read, edit and write the whole file, and
        // without it the second write would drop the first one's token.
        await makeDirectory(dirname(this.file), 0o700);
        const unlock = await lockFile(this.file);
        try {
          const { entries } = await readReclaims(this.file);
          const next = edit(entries);
          if (next.length === 0 && entries.length === 0) return;
          await writeReclaims(this.file, next);
        } finally {
          await unlock();
        }
      } catch (err) {
        this.#tell(`cannot save to ${this.file} (${(err as NodeJS.ErrnoException).code ?? err})`);
      }
    });
  }

  #tell(text: string): void {
    if (this.#hasNoted) return;
    this.#hasNoted = true;
    this.note(text);
  }
}

/** Whether another process with this id runs (EPERM: it does, as another user). */
function isRunning(pid: number | undefined): boolean {
  if (pid === undefined || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
