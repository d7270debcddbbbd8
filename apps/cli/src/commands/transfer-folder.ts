import { stat } from "node:fs/promises";
import path from "node:path";
import { escapeControls, safeLine } from "@netlab/core/terminal";
import { plural } from "@netlab/core/units";
import type { TransferClient, TransferResult } from "@netlab/transfer";
import { ExitCode, reportError, UsageError } from "../run.js";

type Transfer = typeof import("@netlab/transfer");

/**
 * Defaults of --max-files and --max-depth: FOLDER_DEFAULTS of @netlab/transfer, repeated here so
 * `--help` need not load the package (test/e2e/transfer-folder.test.ts checks they agree).
 */
export const FOLDER_LIMITS = { maxFiles: 100_000, maxDepth: 32 } as const;

/** One file to upload: where it is, its name on the server, and whether a symlink there is refused. */
export interface UploadItem {
  path: string;
  name: string;
  /** Found by a folder walk: a symlink or FIFO swapped in since is refused, not followed. */
  noFollow: boolean;
}

/** What `lab transfer A B DIR` will send, what it leaves out, and whether a folder was named. */
export interface UploadPlan {
  items: UploadItem[];
  skipped: Array<{ name: string; reason: string }>;
  /** A folder was named: each failure is noted and the rest still go, with one summary at the end. */
  isBatch: boolean;
}

/**
 * Expands the arguments of an upload: a file is itself; a folder is every regular file under it,
 * named `PREFIX + FOLDER/rel/path` on the server (FOLDER is `--name` when given), as croc sends
 * a folder under its own name.
 */
export async function planUploads(
  t: Transfer,
  files: string[],
  opts: { name?: string; namePrefix?: string; maxFiles: number; maxDepth: number },
): Promise<UploadPlan> {
  const plan: UploadPlan = { items: [], skipped: [], isBatch: false };
  const prefix = opts.namePrefix ?? "";
  for (const file of files) {
    const isDir = await stat(file).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir) {
      // A missing or unreadable file fails in the upload itself, with the usual message.
      plan.items.push({ path: file, name: opts.name ?? `${prefix}${baseName(file)}`, noFollow: false });
      continue;
    }
    plan.isBatch = true;
    const top = opts.name ?? `${prefix}${path.basename(path.resolve(file))}`;
    if (top === "" || top.endsWith("/")) {
      throw new UsageError(`${file} has no name to send it under`, "name it on the server with --name NAME");
    }
    const walk = await t.walkFolder(file, { maxFiles: opts.maxFiles, maxDepth: opts.maxDepth });
    for (const f of walk.files) plan.items.push({ path: f.path, name: `${top}/${f.rel}`, noFollow: true });
    for (const s of walk.skipped) plan.skipped.push({ name: `${top}/${s.rel}`, reason: s.reason });
    // The walk notes empty subfolders; an empty folder sent must not pass in silence either.
    if (walk.files.length === 0 && walk.skipped.length === 0) {
      plan.skipped.push({ name: top, reason: "empty folder, not created" });
    }
  }
  return plan;
}

/** A file's base name, whichever separator its path uses. */
export function baseName(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).pop() ?? file;
}

/** Refusals of one request after which the connection carries the next one. */
const KEEPS_CONNECTION = new Set([
  "INVALID_NAME",
  "OUTSIDE_ROOT",
  "NOT_FOUND",
  "NOT_A_FILE",
  "ALREADY_EXISTS",
  "BUSY",
  "TOO_LARGE",
]);
/** Failures every later file would meet too: the rest are not tried. */
const ENDS_BATCH = new Set(["AUTH_REQUIRED", "AUTH_FAILED", "READ_ONLY", "WRONG_PROTOCOL"]);
/** Skip lines shown on stderr before "and N more" (--json lists them all). */
const MAX_SKIP_LINES = 20;
/** Failed names repeated in the final `lab:` line (each has its own line above). */
const MAX_FAILED_NAMES = 5;

/** One file that did not arrive. */
interface Failed {
  name: string;
  path: string;
  code: string;
  message: string;
  hint?: string;
}

/** One file of a batch: its name on the server, its local path, and how to move it over a connection. */
export interface BatchItem {
  name: string;
  path: string;
  run: (client: TransferClient) => Promise<TransferResult>;
}

/** Several files moved one way, with what was left out: a folder or several names, sent or fetched. */
export interface Batch {
  direction: "upload" | "download";
  items: BatchItem[];
  skipped: Array<{ name: string; reason: string }>;
}

/** The batch of an upload plan: each item uploaded with croc's habits (auto-resume, identical files skipped). */
export function uploadBatch(
  plan: UploadPlan,
  opts: { resume: boolean; overwrite: boolean; verify: boolean },
): Batch {
  return {
    direction: "upload",
    skipped: plan.skipped,
    items: plan.items.map((item) => ({
      name: item.name,
      path: item.path,
      run: (client) =>
        client.upload(item.path, {
          name: item.name,
          noFollow: item.noFollow,
          resume: opts.resume,
          overwrite: opts.overwrite,
          verify: opts.verify,
          skipIdentical: !opts.overwrite,
        }),
    })),
  };
}

/** How a batch talks to the rest of the command. */
export interface BatchHooks {
  /** A new connection after one was cut by a failure (the options and token of the first). */
  reconnect: () => Promise<TransferClient>;
  /** Attaches the progress bar and resume lines to a connection. */
  watch: (client: TransferClient) => void;
  /** After a successful file (the progress bar's final line). */
  onDone: (r: TransferResult) => void;
  /** After a failure, before anything is printed (clears the progress bar). */
  onFail: () => void;
  /** Whether this failure means "ask for a token and start again" (rethrown as is). */
  isAuthRetry: (err: unknown, isFirst: boolean) => boolean;
}

/**
 * Moves every item, going on past a file that fails (reconnecting when the failure cut the
 * connection), then prints one summary: files sent (or received), already there, skipped, failed,
 * bytes, time and rate (`--json`: one object). Exit 1 naming the failed files when any failed.
 */
export async function runBatch(
  t: Transfer,
  first: TransferClient,
  plan: Batch,
  opts: { json?: boolean },
  signal: AbortSignal,
  hooks: BatchHooks,
): Promise<void> {
  const started = performance.now();
  const results: TransferResult[] = [];
  const failed: Failed[] = [];
  const opened: TransferClient[] = [];
  let client = first;
  let stopped: string | undefined;
  try {
    for (const item of plan.items) {
      if (stopped !== undefined) {
        const not = plan.direction === "upload" ? "not sent" : "not fetched";
        failed.push({ name: item.name, path: item.path, code: "NOT_SENT", message: `${not}: ${stopped}` });
        continue;
      }
      try {
        const r = await item.run(client);
        hooks.onDone(r);
        results.push(r);
      } catch (err) {
        hooks.onFail();
        if (signal.aborted) throw err;
        if (hooks.isAuthRetry(err, results.length === 0 && failed.length === 0)) throw err;
        const e = describe(err);
        failed.push({ name: item.name, path: item.path, ...e });
        if (!opts.json)
          process.stderr.write(`failed ${escapeControls(item.name)}: ${safeLine(e.message, 300)}\n`);
        if (ENDS_BATCH.has(e.code)) {
          stopped = `an earlier file failed with ${e.code}`;
        } else if (!KEEPS_CONNECTION.has(e.code) || client.closed) {
          try {
            client = await hooks.reconnect();
            opened.push(client);
            hooks.watch(client);
          } catch (again) {
            stopped = `cannot reconnect (${describe(again).message})`;
          }
        }
      }
    }
  } finally {
    for (const c of opened) await c.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const sent = results.filter((r) => !r.existed);
  const existed = results.length - sent.length;
  const bytes = sent.reduce((n, r) => n + r.bytes, 0);
  const moved = sent.reduce((n, r) => n + r.transferredBytes, 0);
  const rate = seconds > 0 ? moved / seconds : 0;
  if (opts.json) {
    const files = results.map((r) => resultJson(r));
    const summary = {
      [plan.direction === "upload" ? "sent" : "received"]: sent.length,
      existed,
      skipped: plan.skipped.length,
      failed: failed.length,
      bytes,
      transferredBytes: moved,
      seconds: round(seconds, 3),
      bytesPerSecond: Math.round(rate),
    };
    const out = { ok: failed.length === 0, summary, files, skipped: plan.skipped, failed };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    for (const s of plan.skipped.slice(0, MAX_SKIP_LINES)) {
      process.stderr.write(`skipped ${escapeControls(s.name)}: ${s.reason}\n`);
    }
    if (plan.skipped.length > MAX_SKIP_LINES) {
      process.stderr.write(
        `… and ${plan.skipped.length - MAX_SKIP_LINES} more skipped (--json lists them all)\n`,
      );
    }
    process.stderr.write(
      `${plan.direction === "upload" ? "sent" : "received"} ${plural(sent.length, "file")} (${t.formatBytes(bytes)}) in ${seconds.toFixed(2)} s, ${t.formatRate(rate)}; ${existed} already there, ${plan.skipped.length} skipped, ${failed.length} failed\n`,
    );
  }
  if (failed.length === 0) return;
  const names = failed.slice(0, MAX_FAILED_NAMES).map((f) => f.name);
  const more = failed.length > MAX_FAILED_NAMES ? ` and ${failed.length - MAX_FAILED_NAMES} more` : "";
  reportError({
    message: `${failed.length} of ${plural(plan.items.length, "file")} failed: ${names.join(", ")}${more}`,
    hint: opts.json
      ? "'failed' in the JSON says why for each; run the same command again to retry them"
      : `the 'failed' lines above say why; run the same command again to retry (files already ${plan.direction === "upload" ? "there" : "here"} are skipped, partial ones resume)`,
  });
  throw new ExitCode(1);
}

/** The code, message and hint of any failure, for JSON and the failed lines. */
export function describe(err: unknown): { code: string; message: string; hint?: string } {
  const e = err as { code?: string; message?: string; hint?: string };
  return {
    code: String(e?.code ?? "ERROR"),
    message: e?.message ?? String(err),
    ...(e?.hint ? { hint: e.hint } : {}),
  };
}

/**
 * One transfer's line in a `--json` report. `existed` is left out of downloads unless asked:
 * the single-file report never had it there.
 */
export function resultJson(r: TransferResult, existedOnDownloads = true) {
  return {
    name: r.name,
    path: r.path,
    direction: r.direction,
    bytes: r.bytes,
    transferredBytes: r.transferredBytes,
    resumedAt: r.existed ? 0 : r.offset,
    ...(existedOnDownloads || r.direction === "upload" ? { existed: r.existed ?? false } : {}),
    sha256: r.sha256 ?? null,
    seconds: round(r.seconds, 3),
    mbps: round(r.mbps, 1),
  };
}

/** `n` rounded to `digits` decimals, for JSON reports. */
export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
